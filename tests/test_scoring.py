"""Health scores: the pure rules at their boundaries, the set-based engine against the ORM reference,
and the API and sync path on real servers (SQLite and PostgreSQL)."""

import json
import math
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from server.cli import migrate
from server.db import build_engine
from server.models import Contact, Customer, Region, Role, User, Visit
from server.scoring.config import INDICATOR_NAMES, Bands, HealthModelConfig, MissingPolicy, default_config
from server.scoring.engine import compute_batch
from server.scoring.facts import load_all_facts, load_facts
from server.scoring.health_models import ActiveModel
from server.scoring.models import CustomerEvent
from server.scoring.reference import score_customer
from server.scoring.rules import (
    band_of,
    bands_of,
    combine,
    download_boosted,
    month_start,
    objection_cycle_value,
)
from tests.devices import Device, next_rep
from tests.scoring_helpers import create_customer, event, headers_for, push, record_events, score

DOWNLOADS = INDICATOR_NAMES.index("document_downloads")
CHAIN = INDICATOR_NAMES.index("decision_chain_completeness")
INDUSTRY = INDICATOR_NAMES.index("industry_fit")


def only(weights: dict[str, float]) -> np.ndarray:
    config = HealthModelConfig(weights=weights)
    return np.array(config.weight_vector())


def values_row(**known: float) -> np.ndarray:
    row = np.full((1, len(INDICATOR_NAMES)), np.nan)
    for name, value in known.items():
        row[0, INDICATOR_NAMES.index(name)] = value
    return row


# ---- Bands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "band"), [(0, "red"), (59.99, "red"), (60, "yellow"), (72.5, "yellow"), (85, "yellow"), (85.01, "green"), (100, "green")])
def test_band_boundaries(score, band):
    assert band_of(score, Bands()) == band
    assert bands_of(np.array([score]), Bands())[0] == band


@pytest.mark.parametrize(("value", "expected_score", "band"), [(0.5999, 59.99, "red"), (0.6, 60.0, "yellow"), (0.85, 85.0, "yellow"), (0.8501, 85.01, "green")])
def test_combined_score_boundaries(value, expected_score, band):
    weights = only({"decision_chain_completeness": 1})
    scored = combine(values_row(decision_chain_completeness=value), weights, np.array([False]), 2.0, MissingPolicy.REDISTRIBUTE)

    assert scored.scores[0] == expected_score
    assert bands_of(scored.scores, Bands())[0] == band


# ---- Dynamic weight -------------------------------------------------------------------------------


def test_download_boost_three_vs_four():
    assert download_boosted(np.array([0, 3, 4, 10]), threshold=3).tolist() == [False, False, True, True]


def test_boost_doubles_then_renormalises():
    weights = only({"document_downloads": 0.2, "decision_chain_completeness": 0.8})
    values = np.vstack([values_row(document_downloads=1.0, decision_chain_completeness=0.0)] * 2)

    scored = combine(values, weights, np.array([False, True]), 2.0, MissingPolicy.REDISTRIBUTE)

    assert scored.effective_weights[0, DOWNLOADS] == pytest.approx(0.2)
    # Doubled to 0.4, then divided by the new total 1.2.
    assert scored.effective_weights[1, DOWNLOADS] == pytest.approx(0.4 / 1.2)
    assert scored.effective_weights[1, CHAIN] == pytest.approx(0.8 / 1.2)
    assert scored.effective_weights.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert scored.scores.tolist() == [20.0, 33.33]


def test_boosted_score_stays_within_100():
    weights = np.array(default_config().weight_vector())
    scored = combine(np.ones((1, len(INDICATOR_NAMES))), weights, np.array([True]), 2.0, MissingPolicy.ZERO)

    assert scored.scores[0] == 100.0


# ---- Missing values -------------------------------------------------------------------------------


def test_missing_value_redistributed():
    weights = only({"industry_fit": 0.5, "decision_chain_completeness": 0.5})
    scored = combine(values_row(decision_chain_completeness=1.0), weights, np.array([False]), 2.0, MissingPolicy.REDISTRIBUTE)

    assert scored.effective_weights[0, INDUSTRY] == 0.0
    assert scored.effective_weights[0, CHAIN] == pytest.approx(1.0)
    assert scored.scores[0] == 100.0


def test_missing_value_counts_as_zero():
    weights = only({"industry_fit": 0.5, "decision_chain_completeness": 0.5})
    scored = combine(values_row(decision_chain_completeness=1.0), weights, np.array([False]), 2.0, MissingPolicy.ZERO)

    assert scored.effective_weights[0, INDUSTRY] == pytest.approx(0.5)
    assert scored.contributions[0, INDUSTRY] == 0.0
    assert scored.scores[0] == 50.0


def test_nothing_known_scores_zero():
    weights = only({"industry_fit": 1})
    scored = combine(values_row(), weights, np.array([False]), 2.0, MissingPolicy.REDISTRIBUTE)

    assert scored.scores[0] == 0.0
    assert scored.effective_weights.sum() == 0.0


# ---- Model configuration ----------------------------------------------------------------------------


def test_default_model_weights():
    weights = default_config().weights

    assert weights["decision_chain_completeness"] == pytest.approx(0.35)
    assert max(weights, key=weights.get) == "decision_chain_completeness"
    assert sum(weights.values()) == pytest.approx(1.0)
    assert set(weights) == set(INDICATOR_NAMES)


def test_weights_normalised_on_save():
    config = HealthModelConfig(weights={"industry_fit": 3, "decision_chain_completeness": 1})

    assert config.weights == {"industry_fit": 0.75, "decision_chain_completeness": 0.25}


@pytest.mark.parametrize(("weights", "message"), [
    ({"industry_fitness": 1}, "unknown indicator 'industry_fitness'"),
    ({"industry_fit": 0}, "must be a positive number"),
    ({"industry_fit": -2}, "must be a positive number"),
    ({}, "at least one indicator"),
])
def test_invalid_weights_rejected(weights, message):
    with pytest.raises(ValidationError) as raised:
        HealthModelConfig(weights=weights)

    assert message in str(raised.value)


def test_invalid_parameters_rejected():
    with pytest.raises(ValidationError, match="max_days"):
        HealthModelConfig(weights={"industry_fit": 1}, parameters={"objection_resolution_cycle": {"target_days": 10, "max_days": 5}})
    with pytest.raises(ValidationError, match="green_above"):
        HealthModelConfig(weights={"industry_fit": 1}, bands={"red_below": 70, "green_above": 60})


# ---- Indicator formulas and calendar -----------------------------------------------------------------


def test_objection_cycle_value():
    values = objection_cycle_value(np.array([0, 7, 18.5, 30, 45, np.nan]), target_days=7, max_days=30)

    assert values[:5].tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert math.isnan(values[5])


def test_month_starts_in_china_time():
    # 01:00 on 1 December in UTC+8 is still 30 November in UTC.
    now = datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)

    assert month_start(now, 8) == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert month_start(now, 0) == datetime(2026, 11, 1, tzinfo=timezone.utc)


# ---- Engine against the ORM reference ----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_database(tmp_path_factory):
    """A migrated SQLite database with 60 customers whose events cover every indicator and its edge cases."""
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('scoring') / 'scoring.sqlite3'}")
    migrate(engine)
    now = datetime(2026, 12, 15, 4, 0, tzinfo=timezone.utc)
    rng = np.random.default_rng(7)
    with Session(engine) as session:
        region = Region(code="test", name="test")
        rep = User(username="scoring_rep", display_name="rep", role=Role.REP, password_hash="", region_id=region.id)
        session.add_all([region, rep])
        session.flush()
        for number in range(60):
            customer = Customer(name=f"c{number}", industry=["汽车零部件", "纺织", ""][number % 3], owner_id=rep.id, region_id=region.id,
                                purchase_band=["over_10m", None, "unknown_code"][number % 3])
            session.add(customer)
            session.flush()
            for role in rng.choice(["technical", "purchasing", "finance", "other"], size=rng.integers(0, 5)):
                session.add(Contact(customer_id=customer.id, name="x", decision_role=str(role)))
            if number % 4 == 0:
                session.add(Visit(customer_id=customer.id, rep_id=rep.id, visit_type="requirement_confirmation", checked_in_at=now - timedelta(days=3)))
            for _ in range(rng.integers(0, 20)):
                kind = str(rng.choice(["document_download", "proposal_sent", "proposal_open", "meeting_invited", "meeting_attended",
                                       "requirement_confirmed", "competitor_sheet_submitted", "objection_raised", "objection_resolved"]))
                occurred = now - timedelta(days=float(rng.uniform(0, 200)))
                session.add(CustomerEvent(
                    customer_id=customer.id, kind=kind, occurred_at=occurred, ref=f"r{rng.integers(0, 3)}",
                    due_at=occurred + timedelta(days=float(rng.uniform(-3, 3))) if kind == "competitor_sheet_submitted" else None,
                    value=float(rng.uniform(0, 1)) if kind == "requirement_confirmed" and rng.random() < 0.7 else None,
                ))
        session.commit()
    yield engine, now
    engine.dispose()


def test_engine_matches_reference(small_database):
    engine, now = small_database
    config = HealthModelConfig(weights=default_config().weights, parameters={"industry_fit": {"by_industry": {"汽车零部件": 1.0, "纺织": 0.4}}})
    model = ActiveModel(version=1, name="test", config=config, activated_at=None)

    with Session(engine) as session:
        batch = compute_batch(session, model, now)
        by_customer = {uuid.UUID(str(customer_id)): i for i, customer_id in enumerate(batch.facts.customer_ids)}
        assert len(by_customer) == 60
        for customer_id, position in by_customer.items():
            customer = session.get(Customer, customer_id)
            reference_score, reference_band, _ = score_customer(session, customer, model, now)
            assert batch.scores[position] == pytest.approx(reference_score, abs=0.011), customer.name
            assert batch.bands[position] == reference_band, customer.name


def test_parallel_read_matches_single_connection(small_database):
    engine, now = small_database
    config = default_config()

    with Session(engine) as session:
        single = load_facts(session, config, now)
    parallel = load_all_facts(engine, config, now)

    order = {customer_id: i for i, customer_id in enumerate(single.customer_ids)}
    assert sorted(parallel.customer_ids) == sorted(single.customer_ids)
    positions = [order[customer_id] for customer_id in parallel.customer_ids]
    for name in ("roles_named", "downloads_window", "downloads_this_month", "proposals_sent", "proposals_opened",
                 "meetings_invited", "meetings_attended", "requirement_best", "requirement_by_visit",
                 "sheets_due", "sheets_on_time", "objections", "objection_mean_days"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(single, name)[positions], err_msg=name)


def test_explanation_names_policy_and_unknowns(small_database):
    engine, now = small_database
    model = ActiveModel(version=1, name="test", config=default_config(), activated_at=None)

    with Session(engine) as session:
        batch = compute_batch(session, model, now)

    explanation = json.loads(batch.explanation_json[0])
    indicators = json.loads(batch.indicators_json[0])
    weights = json.loads(batch.effective_weights_json[0])
    assert explanation["missing_policy"] == "redistribute"
    assert "industry_fit" in explanation["unknown"]  # the default model lists no industries
    assert indicators["industry_fit"]["value"] is None
    assert weights["industry_fit"] == 0.0
    assert sum(weights.values()) == pytest.approx(1.0, abs=0.001)
    assert set(explanation["dimensions"]) == {"customer_profile", "interaction", "sales_process"}


# ---- API and sync on real servers ------------------------------------------------------------------


@pytest.fixture
def rep_and_admin(api_server, client):
    rep = next_rep(api_server)
    return rep, headers_for(client, rep.username), headers_for(client, "admin")


def test_invalid_model_answers_422(client):
    admin = headers_for(client, "admin")

    unknown = client.post("/api/health-models", json={"name": "bad", "config": {"weights": {"foo": 1}}, "activate": False}, headers=admin)
    negative = client.post("/api/health-models", json={"name": "bad", "config": {"weights": {"industry_fit": -1}}, "activate": False}, headers=admin)

    assert unknown.status_code == 422
    assert "unknown indicator 'foo'" in unknown.json()["detail"]
    assert negative.status_code == 422
    assert "positive" in negative.json()["detail"]


def test_model_saved_normalised(client):
    admin = headers_for(client, "admin")
    body = {"name": "half and half", "config": {"weights": {"industry_fit": 2, "decision_chain_completeness": 2}}, "activate": False}

    response = client.post("/api/health-models", json=body, headers=admin)

    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["config"]["weights"] == {"industry_fit": 0.5, "decision_chain_completeness": 0.5}
    assert saved["is_active"] is False
    assert client.get("/api/health-models/active", headers=admin).json()["version"] != saved["version"]


def test_models_are_admin_only(client, rep_and_admin):
    _, rep_headers, _ = rep_and_admin

    assert client.get("/api/health-models", headers=rep_headers).status_code == 403


def test_downloads_three_vs_four_this_month(client, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    three = create_customer(client, rep_headers, f"三次下载-{uuid.uuid4().hex[:6]}", roles=("technical",))
    four = create_customer(client, rep_headers, f"四次下载-{uuid.uuid4().hex[:6]}", roles=("technical",))
    now = datetime.now(timezone.utc) - timedelta(seconds=5)

    record_events(client, admin, [event(three, "document_download", now) for _ in range(3)] + [event(four, "document_download", now) for _ in range(4)])

    three_score, four_score = score(client, rep_headers, three), score(client, rep_headers, four)
    assert three_score["explanation"]["boosted"] == []
    assert four_score["explanation"]["boosted"] == ["document_downloads"]
    assert four_score["explanation"]["inputs"]["downloads_this_month"] == 4
    assert four_score["effective_weights"]["document_downloads"] > three_score["effective_weights"]["document_downloads"]
    assert sum(four_score["effective_weights"].values()) == pytest.approx(1.0, abs=0.001)
    assert 0 <= four_score["score"] <= 100


def test_events_validated(client, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    customer = create_customer(client, rep_headers, f"事件校验-{uuid.uuid4().hex[:6]}")
    now = datetime.now(timezone.utc)

    no_ref = client.post("/api/events", json={"events": [event(customer, "proposal_open", now)]}, headers=admin)
    future = client.post("/api/events", json={"events": [event(customer, "document_download", now + timedelta(hours=1))]}, headers=admin)
    naive = client.post("/api/events", json={"events": [{**event(customer, "document_download", now), "occurred_at": "2026-12-01T10:00:00"}]}, headers=admin)
    unknown_customer = client.post("/api/events", json={"events": [event(str(uuid.uuid4()), "document_download", now)]}, headers=admin)
    by_rep = client.post("/api/events", json={"events": [event(customer, "document_download", now)]}, headers=rep_headers)

    assert no_ref.status_code == 422
    assert "ref" in no_ref.json()["detail"]
    assert future.status_code == 422
    assert "future" in future.json()["detail"]
    assert naive.status_code == 422
    assert unknown_customer.status_code == 422
    assert "not found" in unknown_customer.json()["detail"]
    assert by_rep.status_code == 403


def test_repeated_external_id_recorded_once(client, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    customer = create_customer(client, rep_headers, f"重复事件-{uuid.uuid4().hex[:6]}")
    once = event(customer, "document_download", datetime.now(timezone.utc), source="website", external_id=f"dl-{uuid.uuid4().hex}")

    first = record_events(client, admin, [once])
    second = record_events(client, admin, [once])

    assert first["recorded"] == 1
    assert second["recorded"] == 0
    assert second["duplicates"] == 1
    assert score(client, rep_headers, customer)["explanation"]["inputs"]["downloads"] == 1


def test_missing_indicators_under_active_policy(client, rep_and_admin):
    _, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"缺失指标-{uuid.uuid4().hex[:6]}", industry="", roles=("technical", "finance"))

    result = score(client, rep_headers, customer)

    assert result["explanation"]["missing_policy"] == "redistribute"
    assert {"industry_fit", "purchase_band", "proposal_open_rate", "meeting_attendance"} <= set(result["explanation"]["unknown"])
    assert result["indicators"]["industry_fit"]["value"] is None
    assert result["effective_weights"]["industry_fit"] == 0.0
    assert result["indicators"]["decision_chain_completeness"]["value"] == pytest.approx(0.6667)


def test_push_rescores_customer(client, rep_and_admin):
    _, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"推送重算-{uuid.uuid4().hex[:6]}", roles=("technical",))
    before = score(client, rep_headers, customer)

    push(client, rep_headers, [{"op": "put", "entity": "contacts", "entity_id": str(uuid.uuid4()),
                                "fields": {"customer_id": customer, "name": "财务王", "decision_role": "finance"}}])

    after = score(client, rep_headers, customer)
    assert after["indicators"]["decision_chain_completeness"]["value"] == pytest.approx(0.6667)
    assert after["score"] > before["score"]
    assert after["previous_score"] == before["score"]
    assert after["trend"] == pytest.approx(after["score"] - before["score"], abs=0.01)


def test_score_history_and_scope(client, api_server, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    customer = create_customer(client, rep_headers, f"历史-{uuid.uuid4().hex[:6]}", roles=("technical",))
    record_events(client, admin, [event(customer, "document_download", datetime.now(timezone.utc))])
    other_rep = next_rep(api_server)

    history = client.get(f"/api/scores/{customer}/history", headers=rep_headers)
    hidden = client.get(f"/api/scores/{customer}", headers=headers_for(client, other_rep.username))

    assert history.status_code == 200
    assert len(history.json()) >= 2
    assert history.json()[0]["computed_at"] >= history.json()[1]["computed_at"]
    assert hidden.status_code == 404


def test_scores_reach_device(api_server, client, rep_and_admin, tmp_path):
    rep, rep_headers, admin = rep_and_admin
    customer = create_customer(client, rep_headers, f"离线作战地图-{uuid.uuid4().hex[:6]}", roles=("technical",))
    device = Device(api_server, rep, tmp_path)

    device.sync()
    first = [row for row in device.rows("score_snapshots").values() if row["customer_id"] == customer]
    record_events(client, admin, [event(customer, "document_download", datetime.now(timezone.utc))])
    device.sync()
    second = [row for row in device.rows("score_snapshots").values() if row["customer_id"] == customer]

    assert len(first) == 1
    assert first[0]["band"] in ("red", "yellow", "green")
    assert len(second) == 1
    assert second[0]["id"] == first[0]["id"]
    assert second[0]["score"] == score(client, rep_headers, customer)["score"]
    assert second[0]["score"] != first[0]["score"]
    assert json.loads(second[0]["indicators"])["document_downloads"]["value"] == pytest.approx(0.25)
    owned = {row["id"] for row in device.rows("customers").values()}
    assert {row["customer_id"] for row in device.rows("score_snapshots").values()} <= owned


def test_recompute_all_endpoint(client, rep_and_admin):
    _, rep_headers, admin = rep_and_admin

    forbidden = client.post("/api/scores/recompute", headers=rep_headers)
    response = client.post("/api/scores/recompute", headers=admin)

    assert forbidden.status_code == 403
    assert response.status_code == 200, response.text
    assert response.json()["customers"] >= 900
    assert set(response.json()["bands"]) <= {"red", "yellow", "green"}


def test_score_follows_reassigned_customer(api_server, client, tmp_path):
    first = next_rep(api_server)
    with Session(api_server.engine) as session:
        second = session.exec(select(User).where(User.role == Role.REP, User.region_id == first.region_id, User.id != first.id)).first()
        lead = session.exec(select(User).where(User.role == Role.REGIONAL_LEAD, User.region_id == first.region_id)).first()
    customer = create_customer(client, headers_for(client, first.username), f"转交客户-{uuid.uuid4().hex[:6]}", roles=("finance",))
    old_device, new_device = Device(api_server, first, tmp_path), Device(api_server, second, tmp_path)
    old_device.sync()
    assert customer in {row["customer_id"] for row in old_device.rows("score_snapshots").values()}

    push(client, headers_for(client, lead.username), [{"op": "patch", "entity": "customers", "entity_id": customer, "fields": {"owner_id": str(second.id)}}])
    old_device.sync()
    new_device.sync()

    assert customer not in {row["customer_id"] for row in old_device.rows("score_snapshots").values()}
    assert customer in {row["customer_id"] for row in new_device.rows("score_snapshots").values()}
