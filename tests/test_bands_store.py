"""The battle map's reads on the device: customers joined with their snapshots, the map's cap, "why", alerts, cached content."""

import json
import uuid

import pytest

from mobile.api import ApiClient, Unreachable
from mobile.offline.directory import BattleMapData
from mobile.offline.store import LocalStore
from tests.servers import free_port, run_coroutine


def customer(name: str, latitude: float | None = 31.23, city: str = "上海市") -> dict:
    return {"name": name, "city": city, "district": "浦东新区", "industry": "家电", "latitude": latitude, "longitude": 121.47, "coord_system": "gcj02"}


def snapshot(customer_id: str, score: float, band: str, trend: float | None = None) -> dict:
    return {
        "customer_id": customer_id, "model_version": 1, "score": score, "band": band, "previous_score": None, "trend": trend,
        "computed_at": "2026-12-04T01:00:00+00:00",
        "effective_weights": {"decision_chain_completeness": 0.7, "industry_fit": 0.3},
        "indicators": {"decision_chain_completeness": {"value": 0.6667, "contribution": 46.67}, "industry_fit": {"value": None, "contribution": 0.0}},
        "explanation": {"missing_policy": "redistribute", "unknown": ["industry_fit"], "boosted": []},
    }


def load(store: LocalStore, entity: str, rows: dict[str, dict], start_seq: int = 1) -> None:
    changes = [
        {"seq": start_seq + number, "entity": entity, "id": row_id, "op": "put", "row": {"id": row_id, "version": 1, **row}}
        for number, (row_id, row) in enumerate(rows.items())
    ]
    store.apply_pull_page(changes, cursor=start_seq + len(changes), last_mutation_id=None)


RED, GREEN, NEW, OTHER = (str(uuid.uuid4()) for _ in range(4))


@pytest.fixture
def data(tmp_path) -> BattleMapData:
    store = LocalStore(tmp_path / "local.sqlite3")
    customers = {
        RED: customer("红色客户"),
        GREEN: customer("绿色客户"),
        NEW: customer("新客户", latitude=None),
        OTHER: customer("北京客户", city="北京市"),
    }
    load(store, "customers", customers)
    load(store, "score_snapshots", {
        str(uuid.uuid4()): snapshot(RED, 59.99, "red", trend=-3.5),
        str(uuid.uuid4()): snapshot(GREEN, 85.01, "green"),
        str(uuid.uuid4()): snapshot(OTHER, 72.0, ""),
    }, start_seq=10)
    # A closed port: every API call fails as it does offline.
    api = ApiClient(f"http://127.0.0.1:{free_port()}", 2)
    api.token = "offline"
    return BattleMapData(store, api)


def test_list_joins_latest_score(data):
    page = run_coroutine(lambda: data.list_scored_customers())
    by_name = {item.summary.name: item for item in page.items}

    assert page.total == 4
    assert [item.summary.name for item in page.items] == sorted(by_name)
    assert by_name["红色客户"].score == 59.99
    assert by_name["红色客户"].band == "red"
    assert by_name["红色客户"].trend == -3.5
    assert by_name["新客户"].score is None


def test_list_search_and_paging(data):
    found = run_coroutine(lambda: data.list_scored_customers(query="北京"))
    second = run_coroutine(lambda: data.list_scored_customers(offset=2, limit=2))

    assert [item.summary.name for item in found.items] == ["北京客户"]
    assert second.total == 4
    assert len(second.items) == 2
    assert second.next_offset is None


def test_map_lowest_score_first_and_capped(data):
    customers, located = run_coroutine(lambda: data.map_customers(limit=2))

    assert located == 3
    assert [item.summary.name for item in customers] == ["红色客户", "北京客户"]


def test_score_reasons_from_snapshot(data):
    reasons = data.score_reasons_now(uuid.UUID(RED))

    assert reasons.score == 59.99
    assert reasons.trend == -3.5
    assert [indicator.name for indicator in reasons.indicators] == ["decision_chain_completeness", "industry_fit"]
    assert reasons.indicators[0].contribution == 46.67
    assert reasons.indicators[0].effective_weight == 0.7
    assert reasons.indicators[1].value is None
    assert reasons.unknown == ["industry_fit"]
    assert reasons.missing_policy == "redistribute"


def test_unscored_customer_has_no_reasons(data):
    assert data.score_reasons_now(uuid.UUID(NEW)) is None


def test_content_offline_without_copy_raises(data):
    with pytest.raises(Unreachable):
        run_coroutine(lambda: data.content_pack("contract_clauses"))


def test_content_offline_uses_copy(data):
    body = {"key": "contract_clauses", "kind": "clauses", "title": "合同条款库", "description": "", "version": 3,
            "items": [{"key": "payment", "title": "付款条款", "body": "分三期付款"}]}
    data.store.query("INSERT INTO content_cache (key, body, fetched_at) VALUES (?, ?, ?)",
                     ("contract_clauses", json.dumps(body, ensure_ascii=False), "2026-12-04T00:00:00+00:00"))

    pack = run_coroutine(lambda: data.content_pack("contract_clauses"))

    assert pack.from_cache is True
    assert pack.version == 3
    assert pack.items[0]["title"] == "付款条款"


def test_ticks_kept_locally(data):
    customer_id = uuid.uuid4()
    run_coroutine(lambda: data.set_ticked(customer_id, "churn_intervention_checklist", "call_back", True))
    run_coroutine(lambda: data.set_ticked(customer_id, "churn_intervention_checklist", "review_quote", True))
    run_coroutine(lambda: data.set_ticked(customer_id, "churn_intervention_checklist", "review_quote", False))

    ticked = run_coroutine(lambda: data.ticked_items(customer_id, "churn_intervention_checklist"))

    assert ticked == {"call_back"}
    assert data.store.pending_count() == 0
