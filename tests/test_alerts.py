"""Alerts: the reactivation and follow-up escalation rules, one alert per cause, the inbox API and its sync to devices."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, func, select

from server.alerts.checks import FOLLOWUP_ESCALATION_DAYS, check_followup_escalations, followup_escalation_drafts
from server.alerts.models import Alert, AlertQueueItem
from server.alerts.service import AlertDraft, InvalidTransition, change_state, raise_alerts
from server.models import User
from server.sync.changes import ChangeRecorder
from tests.devices import Device, next_rep
from tests.scoring_helpers import create_customer, green_customer, headers_for, push, score


@pytest.fixture
def rep_and_admin(api_server, client):
    rep = next_rep(api_server)
    return rep, headers_for(client, rep.username), headers_for(client, "admin")


def alerts_for(api_server, customer_id: str, kind: str) -> list[Alert]:
    with Session(api_server.engine) as session:
        return list(session.exec(select(Alert).where(Alert.customer_id == uuid.UUID(customer_id), Alert.kind == kind)).all())


def test_red_score_sends_reactivation_pack(client, api_server, rep_and_admin):
    rep, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"沉睡客户-{uuid.uuid4().hex[:6]}")

    result = score(client, rep_headers, customer)
    alerts = alerts_for(api_server, customer, "reactivation")

    assert result["band"] == "red"
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.recipient_id == rep.id
    scripts = alert.data["talk_tracks"]["scripts"]
    assert len(scripts) == 3
    assert all(script["body"] for script in scripts)
    assert alert.data["score"] == result["score"]
    assert result["score"] < 60
    assert alert.reason


def test_same_cause_never_raised_twice(client, api_server, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    customer = create_customer(client, rep_headers, f"重复提醒-{uuid.uuid4().hex[:6]}")

    push(client, rep_headers, [{"op": "patch", "entity": "customers", "entity_id": customer, "fields": {"industry": "纺织"}}])
    client.post("/api/scores/recompute", headers=admin)
    client.post("/api/scores/recompute", headers=admin)

    assert len(alerts_for(api_server, customer, "reactivation")) == 1


def test_concurrent_raise_keeps_one(api_server, rep_and_admin, client):
    rep, rep_headers, _ = rep_and_admin
    customer = uuid.UUID(create_customer(client, rep_headers, f"并发提醒-{uuid.uuid4().hex[:6]}"))
    draft = AlertDraft(recipient_id=rep.id, kind="reactivation", dedupe_key=f"test:{customer}", template="reactivation",
                       values={"customer_name": "x", "score": 1}, data={}, customer_id=customer)

    with Session(api_server.engine) as first, Session(api_server.engine) as second:
        raised_first = raise_alerts(first, ChangeRecorder(first), [draft, draft])
        first.commit()
        raised_second = raise_alerts(second, ChangeRecorder(second), [draft])
        second.commit()
        count = second.exec(select(func.count()).select_from(Alert).where(Alert.dedupe_key == draft.dedupe_key)).one()

    assert len(raised_first) == 1
    assert raised_second == []
    assert count == 1


def test_followup_escalation_30_vs_31_days(client, api_server, rep_and_admin):
    _, rep_headers, admin = rep_and_admin
    customer = green_customer(client, rep_headers, admin, f"高潜客户-{uuid.uuid4().hex[:6]}")
    last_followup = datetime.now(timezone.utc) - timedelta(days=1)
    push(client, rep_headers, [{"op": "put", "entity": "followups", "entity_id": str(uuid.uuid4()),
                                "fields": {"customer_id": customer, "text": "电话回访", "captured_at": last_followup.isoformat()}}])
    customer_id = uuid.UUID(customer)

    assert score(client, rep_headers, customer)["band"] == "green"
    with Session(api_server.engine) as session:
        at_30_days = followup_escalation_drafts(session, last_followup + timedelta(days=FOLLOWUP_ESCALATION_DAYS), [customer_id])
        at_31_days = followup_escalation_drafts(session, last_followup + timedelta(days=31), [customer_id])

    assert at_30_days == []
    assert len(at_31_days) >= 1
    assert {draft.kind for draft in at_31_days} == {"followup_escalation"}
    assert at_31_days[0].data["days_without_followup"] == 31
    recipients = {draft.recipient_id for draft in at_31_days}
    with Session(api_server.engine) as session:
        roles = {session.get(User, recipient).role.value for recipient in recipients}
    assert roles == {"regional_lead"}


def test_escalation_raised_once_by_scheduled_check(client, api_server, rep_and_admin):
    rep, rep_headers, admin = rep_and_admin
    customer = green_customer(client, rep_headers, admin, f"无跟进高潜-{uuid.uuid4().hex[:6]}")
    later = datetime.now(timezone.utc) + timedelta(days=2)

    with Session(api_server.engine) as session:
        check_followup_escalations(session, later)
        check_followup_escalations(session, later + timedelta(hours=1))
    escalations = alerts_for(api_server, customer, "followup_escalation")

    # A green customer with no follow-up at all is escalated when it turns green, once per region lead.
    assert len(escalations) >= 1
    assert len({alert.recipient_id for alert in escalations}) == len(escalations)
    assert all(alert.data["last_followup_at"] is None for alert in escalations)
    lead = next(iter(escalations)).recipient_id
    with Session(api_server.engine) as session:
        lead_user = session.get(User, lead)
    inbox = client.get("/api/alerts?kind=followup_escalation", headers=headers_for(client, lead_user.username)).json()["items"]
    assert customer in [item["customer_id"] for item in inbox]


def test_inbox_states_and_customer(client, api_server, rep_and_admin):
    rep, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"收件箱-{uuid.uuid4().hex[:6]}")
    alert = next(item for item in client.get("/api/alerts?kind=reactivation", headers=rep_headers).json()["items"] if item["customer_id"] == customer)
    other = headers_for(client, next_rep(api_server).username)

    read = client.patch(f"/api/alerts/{alert['id']}", json={"state": "read"}, headers=rep_headers)
    done = client.patch(f"/api/alerts/{alert['id']}", json={"state": "done"}, headers=rep_headers)
    back = client.patch(f"/api/alerts/{alert['id']}", json={"state": "read"}, headers=rep_headers)
    foreign = client.patch(f"/api/alerts/{alert['id']}", json={"state": "done"}, headers=other)
    opened = client.get(f"/api/alerts/{alert['id']}/customer", headers=rep_headers)

    assert read.status_code == 200
    assert read.json()["state"] == "read"
    assert read.json()["read_at"]
    assert done.status_code == 200
    assert done.json()["state"] == "done"
    assert done.json()["done_at"]
    assert back.status_code == 409
    assert foreign.status_code == 404
    assert opened.status_code == 200
    assert opened.json()["id"] == customer


def test_state_machine():
    alert = Alert(recipient_id=uuid.uuid4(), kind="reactivation", reason="r", dedupe_key="k")
    user = User(id=alert.recipient_id, username="u", display_name="u", role="rep", password_hash="")

    class Recorder:
        def put(self, *args, **kwargs):
            pass

    class FakeSession:
        def add(self, row):
            pass

    assert change_state(FakeSession(), Recorder(), alert, "done", user) is True
    assert alert.read_at is not None
    with pytest.raises(InvalidTransition):
        change_state(FakeSession(), Recorder(), alert, "read", user)


def test_lead_reviews_region_alerts(client, rep_and_admin):
    rep, _, _ = rep_and_admin
    region_lead = {"east": "lead_east", "south": "lead_south", "north": "lead_north", "central": "lead_central",
                   "southwest": "lead_southwest", "northwest": "lead_northwest", "northeast": "lead_northeast"}
    me = client.get("/api/auth/me", headers=headers_for(client, rep.username)).json()
    lead_headers = next(headers_for(client, username) for code, username in region_lead.items()
                        if client.get("/api/auth/me", headers=headers_for(client, username)).json()["region_id"] == me["region_id"])

    region = client.get("/api/alerts?scope=region&kind=reactivation&limit=500", headers=lead_headers).json()
    rep_view = client.get("/api/alerts?scope=region", headers=headers_for(client, rep.username)).json()

    assert region["total"] > 0
    assert {item["region_id"] for item in region["items"]} == {me["region_id"]}
    assert rep_view["total"] == 0


def test_alerts_reach_inbox_on_device(client, api_server, rep_and_admin, tmp_path):
    rep, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"设备收件箱-{uuid.uuid4().hex[:6]}")
    device = Device(api_server, rep, tmp_path)

    device.sync()
    synced = [row for row in device.rows("alerts").values() if row["customer_id"] == customer]
    assert len(synced) == 1
    assert synced[0]["state"] == "new"
    assert len(json.loads(synced[0]["data"])["talk_tracks"]["scripts"]) == 3
    assert all(row["recipient_id"] == str(rep.id) for row in device.rows("alerts").values())

    client.patch(f"/api/alerts/{synced[0]['id']}", json={"state": "read"}, headers=rep_headers)
    device.sync()

    assert device.rows("alerts")[synced[0]["id"]]["state"] == "read"


def test_alert_queued_for_push(client, api_server, rep_and_admin):
    _, rep_headers, _ = rep_and_admin
    customer = create_customer(client, rep_headers, f"推送队列-{uuid.uuid4().hex[:6]}")
    alert = alerts_for(api_server, customer, "reactivation")[0]

    with Session(api_server.engine) as session:
        queued = session.exec(select(AlertQueueItem).where(AlertQueueItem.alert_id == alert.id)).all()

    # The demo's robots are disabled, so only the push item is queued.
    assert [item.channel_kind for item in queued] == ["push"]
    assert queued[0].state == "pending"


# ---- Job runner -----------------------------------------------------------------------------------


def test_job_lock_admits_one_runner(api_server):
    from server.jobs.locks import job_lock
    from server.jobs.runner import JobRunner

    runner = JobRunner(api_server.engine, holder="test-runner-a")
    with job_lock(api_server.engine, "lead_escalation", "test-runner-b", timedelta(minutes=5)) as held:
        blocked = runner.run("lead_escalation")
    after = runner.run("lead_escalation")

    assert held is True
    assert blocked is None
    assert after is not None and "escalations raised" in after


def test_jobs_command_runs_once(api_server):
    import os
    import subprocess
    import sys

    from tests.servers import REPO_ROOT

    env = {**os.environ, "DATABASE_URL": api_server.database_url, "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-m", "server.jobs", "run-once", "--job", "followup_escalation", "--job", "lead_escalation"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    listing = subprocess.run([sys.executable, "-m", "server.jobs", "list"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "followup_escalation:" in result.stdout
    assert "lead_escalation:" in result.stdout
    assert listing.returncode == 0, listing.stderr
    assert "score_recompute" in listing.stdout


# ---- Content and robot channels (admin API) --------------------------------------------------------


def test_content_packs_readable_and_editable(client):
    admin, rep = headers_for(client, "admin"), headers_for(client, "rep01")

    listing = {pack["key"]: pack for pack in client.get("/api/content", headers=rep).json()}
    checklist = client.get("/api/content/churn_intervention_checklist", headers=rep).json()
    clauses = client.get("/api/content/contract_clauses", headers=rep).json()
    by_rep = client.put("/api/content/closing_tips", json={"kind": "talk_tracks", "title": "x", "items": []}, headers=rep)
    duplicate_keys = client.put(
        "/api/content/closing_tips",
        json={"kind": "talk_tracks", "title": "x", "items": [{"key": "a", "title": "t", "body": "b"}, {"key": "a", "title": "t", "body": "b"}]},
        headers=admin,
    )

    assert listing["reactivation_talk_tracks"]["items"] == 3
    assert listing["closing_tips"]["items"] == 3
    assert any(item["required"] for item in checklist["items"])
    assert len(clauses["items"]) >= 3
    assert by_rep.status_code == 403
    assert duplicate_keys.status_code == 422
    assert "unique" in duplicate_keys.json()["detail"]


def test_content_edit_raises_version(client):
    admin = headers_for(client, "admin")
    pack = client.get("/api/content/closing_tips", headers=admin).json()
    edited = {"kind": pack["kind"], "title": pack["title"], "description": pack["description"],
              "items": [{**pack["items"][0], "body": pack["items"][0]["body"] + "（已修订）"}, *pack["items"][1:]]}

    saved = client.put("/api/content/closing_tips", json=edited, headers=admin)

    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == pack["version"] + 1
    assert saved.json()["items"][0]["body"].endswith("（已修订）")


def test_alert_channel_admin(client):
    admin, rep = headers_for(client, "admin"), headers_for(client, "rep01")
    body = {"name": "测试钉钉群", "kind": "dingtalk", "webhook_url": "http://127.0.0.1:9/robot/send?access_token=secret-token",
            "secret": "SECtest", "enabled": False, "alert_kinds": ["reactivation"]}

    created = client.post("/api/alert-channels", json=body, headers=admin)
    bad_url = client.post("/api/alert-channels", json={**body, "webhook_url": "ftp://robot"}, headers=admin)
    bad_kind = client.post("/api/alert-channels", json={**body, "alert_kinds": ["weather"]}, headers=admin)
    too_fast = client.post("/api/alert-channels", json={**body, "max_per_minute": 21}, headers=admin)
    by_rep = client.get("/api/alert-channels", headers=rep)

    assert created.status_code == 201, created.text
    channel = created.json()
    assert "secret-token" not in channel["webhook_url_masked"]
    assert channel["has_secret"] is True
    assert "secret" not in channel
    assert bad_url.status_code == 422
    assert bad_kind.status_code == 422
    assert too_fast.status_code == 422
    assert by_rep.status_code == 403
    patched = client.patch(f"/api/alert-channels/{channel['id']}", json={"max_per_minute": 10}, headers=admin)
    assert patched.json()["max_per_minute"] == 10
    assert client.get(f"/api/alert-channels/{channel['id']}/deliveries", headers=admin).json() == []
