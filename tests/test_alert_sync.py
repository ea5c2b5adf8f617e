"""Alerts patched through sync: the recipient marks them read or done, also offline; everything else is rejected with a reason."""

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlmodel import Session, select

from mobile.api import ApiClient
from mobile.offline.directory import BattleMapData
from server.alerts.service import AlertDraft, raise_alerts
from server.models import Role, User
from server.sync.changes import ChangeRecorder
from tests.conftest import login
from tests.devices import Device, next_rep
from tests.servers import run_coroutine


def users_by_role(api_server, role: Role) -> list[User]:
    with Session(api_server.engine) as session:
        return list(session.exec(select(User).where(User.role == role).order_by(User.username)).all())


def new_alert(api_server, recipient: User) -> str:
    """Raise a fresh alert for `recipient` (its own cause, so tests on a shared server do not meet)."""
    draft = AlertDraft(
        recipient_id=recipient.id, kind="followup_escalation", dedupe_key=f"test-alert-sync:{uuid.uuid4()}",
        template="followup_escalation", values={"customer_name": "测试客户", "score": 90, "days_without_followup": 31},
        data={"score": 90, "days_without_followup": 31},
    )
    with Session(api_server.engine) as session:
        recorder = ChangeRecorder(session)
        [alert] = raise_alerts(session, recorder, [draft])
        recorder.flush()
        session.commit()
        return str(alert.id)


def push_one(http: httpx.Client, headers: dict, mutation: dict, client_id: str | None = None, number: int = 1) -> dict:
    body = {"client_id": client_id or str(uuid.uuid4()), "mutations": [{"id": number, "base_version": 0, **mutation}]}
    response = http.post("/api/sync/push", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def server_alert(http: httpx.Client, headers: dict, alert_id: str) -> dict:
    response = http.get(f"/api/alerts/{alert_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def patch(alert_id: str, **fields) -> dict:
    return {"op": "patch", "entity": "alerts", "entity_id": alert_id, "fields": fields}


@pytest.fixture
def lead(api_server) -> User:
    return users_by_role(api_server, Role.REGIONAL_LEAD)[0]


@pytest.fixture
def lead_headers(client, lead) -> dict:
    return login(client, lead.username)


def test_recipient_marks_read_then_done(client, api_server, lead, lead_headers):
    alert_id = new_alert(api_server, lead)
    client_id = str(uuid.uuid4())
    tapped = datetime.now(timezone.utc) - timedelta(minutes=10)

    read = push_one(client, lead_headers, patch(alert_id, state="read"), client_id, number=1)
    done = push_one(client, lead_headers, patch(alert_id, state="done", done_at=tapped.isoformat()), client_id, number=2)
    stored = server_alert(client, lead_headers, alert_id)

    assert read["status"] == "applied"
    assert done["status"] == "applied"
    assert stored["state"] == "done"
    assert stored["read_at"] is not None
    assert datetime.fromisoformat(stored["done_at"]) == tapped


def test_other_user_rejected(client, api_server, lead):
    alert_id = new_alert(api_server, lead)
    rep = next_rep(api_server)

    result = push_one(client, login(client, rep.username), patch(alert_id, state="done"))

    assert result["status"] == "rejected"
    assert "addressed to another user" in result["reason"]
    assert server_alert(client, login(client, lead.username), alert_id)["state"] == "new"


def test_server_fields_rejected(client, api_server, lead, lead_headers):
    alert_id = new_alert(api_server, lead)

    result = push_one(client, lead_headers, patch(alert_id, state="read", reason="改掉原因"))

    assert result["status"] == "rejected"
    assert "reason" in result["reason"]
    assert "only done_at, read_at, state" in result["reason"]
    assert server_alert(client, lead_headers, alert_id)["state"] == "new"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"read_at": "2026-12-01T09:00:00+08:00"}, "must set state"),
        ({"state": "archived"}, "state"),
        ({"state": "read", "done_at": "2026-12-01T09:00:00+08:00"}, "only be sent with state 'done'"),
        ({"state": "done", "done_at": "2026-12-01T09:00:00"}, "no UTC offset"),
    ],
)
def test_invalid_patch_rejected(client, api_server, lead, lead_headers, fields, expected):
    alert_id = new_alert(api_server, lead)

    result = push_one(client, lead_headers, patch(alert_id, **fields))

    assert result["status"] == "rejected"
    assert expected in result["reason"]


def test_future_device_time_rejected(client, api_server, lead, lead_headers):
    alert_id = new_alert(api_server, lead)
    future = datetime.now(timezone.utc) + timedelta(hours=1)

    result = push_one(client, lead_headers, patch(alert_id, state="done", done_at=future.isoformat()))

    assert result["status"] == "rejected"
    assert "ahead of the server clock" in result["reason"]


def test_done_is_final(client, api_server, lead, lead_headers):
    alert_id = new_alert(api_server, lead)
    client_id = str(uuid.uuid4())
    push_one(client, lead_headers, patch(alert_id, state="done"), client_id, number=1)

    back_to_new = push_one(client, lead_headers, patch(alert_id, state="new"), client_id, number=2)
    late_read = push_one(client, lead_headers, patch(alert_id, state="read"), client_id, number=3)

    assert back_to_new["status"] == "rejected"
    assert "cannot become 'new'" in back_to_new["reason"]
    # Another device's stale "read": done already implies it.
    assert late_read["status"] == "applied"
    assert server_alert(client, lead_headers, alert_id)["state"] == "done"


@pytest.mark.parametrize(("op", "expected"), [("put", "created by the server only"), ("delete", "cannot be deleted")])
def test_create_and_delete_rejected(client, api_server, lead, lead_headers, op, expected):
    alert_id = new_alert(api_server, lead) if op == "delete" else str(uuid.uuid4())
    fields = {} if op == "delete" else {"state": "new"}

    result = push_one(client, lead_headers, {"op": op, "entity": "alerts", "entity_id": alert_id, "fields": fields})

    assert result["status"] == "rejected"
    assert expected in result["reason"]


def test_offline_mark_done_reaches_server(client, api_server, lead, lead_headers, tmp_path):
    alert_id = new_alert(api_server, lead)
    phone = Device(api_server, lead, tmp_path)
    tablet = Device(api_server, lead, tmp_path)
    phone.sync()
    tablet.sync()

    # Marked on the phone with no network: a local write and an outbox entry.
    data = BattleMapData(phone.store, ApiClient(api_server.base_url, 5))
    changed = run_coroutine(data.set_alert_state, uuid.UUID(alert_id), "done")
    local = phone.store.get_row("alerts", alert_id)
    assert changed is True
    assert local["state"] == "done"
    assert phone.store.pending_for(alert_id) == 1

    phone.sync()
    tablet.sync()

    assert server_alert(client, lead_headers, alert_id)["state"] == "done"
    assert phone.store.pending_for(alert_id) == 0
    assert tablet.store.get_row("alerts", alert_id)["state"] == "done"
    assert phone.store.rejections(alert_id) == []


def test_local_transition_checked(api_server, lead, tmp_path):
    alert_id = new_alert(api_server, lead)
    phone = Device(api_server, lead, tmp_path)
    phone.sync()
    data = BattleMapData(phone.store, ApiClient(api_server.base_url, 5))
    run_coroutine(data.set_alert_state, uuid.UUID(alert_id), "done")

    with pytest.raises(ValueError, match="cannot become 'read'"):
        run_coroutine(data.set_alert_state, uuid.UUID(alert_id), "read")


def test_admin_receives_only_own_alerts(api_server, tmp_path):
    admin = users_by_role(api_server, Role.ADMIN)[0]
    lead = users_by_role(api_server, Role.REGIONAL_LEAD)[0]
    own_alert = new_alert(api_server, admin)
    other_alert = new_alert(api_server, lead)
    device = Device(api_server, admin, tmp_path)

    device.sync()

    alerts = device.rows("alerts")
    assert own_alert in alerts
    assert other_alert not in alerts
    assert all(row["recipient_id"] == str(admin.id) for row in alerts.values())
    assert len(device.rows("customers")) > 1000
