"""Lead intake: the grading rules at their boundaries, assignment by ability within capacity, and escalation of late A leads."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from server.alerts.checks import check_unassigned_leads
from server.alerts.models import Alert
from server.leads.ability import RepAbility
from server.leads.config import LeadRulesConfig, default_rules
from server.leads.grading import grade_lead
from server.leads.intake import choose_rep
from server.leads.models import Lead
from tests.scoring_helpers import headers_for
from tests.servers import TEST_INTEGRATION_API_KEY

RULES = default_rules()

A_FORM = {"source": "website_form", "form_completeness_pct": 80, "has_budget": True, "time_on_site_s": 211}
SHORT_CALL = {"source": "hotline", "transferred_to_human": False, "call_duration_s": 27}


def grade(**values) -> str:
    return grade_lead(values, RULES).grade


# ---- Grading rules -------------------------------------------------------------------------------


def test_grade_a_at_boundaries():
    assert grade(**A_FORM) == "A"
    assert grade(**{**A_FORM, "form_completeness_pct": 100, "time_on_site_s": 900}) == "A"


@pytest.mark.parametrize("change", [
    {"form_completeness_pct": 79},
    {"form_completeness_pct": 79.99},
    {"time_on_site_s": 210},
    {"has_budget": False},
    {"has_budget": None},
    {"time_on_site_s": None},
])
def test_grade_a_needs_every_condition(change):
    assert grade(**{**A_FORM, **change}) != "A"


def test_nurture_call_boundaries():
    assert grade(**SHORT_CALL) == "nurture"
    assert grade(**{**SHORT_CALL, "call_duration_s": 28}) != "nurture"
    assert grade(**{**SHORT_CALL, "transferred_to_human": True}) != "nurture"


def test_other_leads_graded_not_dropped():
    assert grade(source="website_form", form_completeness_pct=60, has_budget=True, time_on_site_s=30) == "B"
    assert grade(source="hotline", transferred_to_human=True, call_duration_s=120) == "B"
    assert grade(source="trade_show") == "C"
    assert grade(source="website_form") == "C"


def test_grade_reason_lists_checks():
    result = grade_lead({**A_FORM, "time_on_site_s": 210}, RULES)

    assert result.grade == "B"
    assert result.reason["rule"] == "b_form_with_budget"
    assert "grade_a" in result.reason["tried"]


@pytest.mark.parametrize(("condition", "message"), [
    ({"field": "has_budget", "op": ">", "value": 1}, "true or false"),
    ({"field": "time_on_site_s", "op": "==", "value": "long"}, "is a number"),
    ({"field": "source", "op": "in", "value": []}, "non-empty list"),
    ({"field": "shoe_size", "op": "==", "value": 42}, "field"),
])
def test_invalid_rule_rejected(condition, message):
    with pytest.raises(ValidationError) as raised:
        LeadRulesConfig.model_validate({"rules": [{"name": "r", "grade": "B", "when": [condition]}]})

    assert message in str(raised.value)


# ---- Assignment ----------------------------------------------------------------------------------


def ability(name: str, score: float, open_leads: int) -> RepAbility:
    return RepAbility(uuid.uuid4(), name, name, None, 0, 0, 0.2, 0.5, score, open_leads)


def test_ablest_rep_with_capacity_chosen():
    best_but_full = ability("a", 90, open_leads=5)
    second = ability("b", 70, open_leads=4)
    third = ability("c", 70, open_leads=1)

    assert choose_rep([best_but_full, second, third], max_open_leads=5) is third
    assert choose_rep([best_but_full], max_open_leads=5) is None
    assert choose_rep([best_but_full], max_open_leads=6) is best_but_full


# ---- API on real servers -------------------------------------------------------------------------


def lead_body(**values) -> dict:
    return {"company_name": "测试线索有限公司", "province": "江苏省", "external_id": f"t-{uuid.uuid4().hex}", **values}


def test_lead_a_goes_to_ablest_rep(client):
    admin = headers_for(client, "admin")
    abilities = client.get("/api/leads/rep-abilities", headers=admin).json()

    response = client.post("/api/leads", json=lead_body(**A_FORM, region_code="east"), headers=admin)

    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["grade"] == "A"
    assert lead["status"] == "assigned"
    assert lead["assignment_lag_s"] is not None and lead["assignment_lag_s"] >= 0
    east = [a for a in abilities if a["region_id"] == lead["region_id"]]
    capacity = lead["assignment"]["capacity"]
    best = max((a for a in east if a["open_leads"] < capacity), key=lambda a: (a["ability"], -a["open_leads"]))
    assert lead["assigned_to"] == best["rep_id"]
    assert lead["assignment"]["ability"] == best["ability"]


def test_lag_measured_from_arrival(client):
    admin = headers_for(client, "admin")
    arrived = datetime.now(timezone.utc) - timedelta(minutes=12)

    lead = client.post("/api/leads", json=lead_body(**A_FORM, received_at=arrived.isoformat()), headers=admin).json()

    assert 12 * 60 <= lead["assignment_lag_s"] < 13 * 60
    assert lead["region_id"] is not None  # inferred from the province


def test_other_grades_stored_unassigned(client):
    admin = headers_for(client, "admin")

    nurture = client.post("/api/leads", json=lead_body(**SHORT_CALL), headers=admin).json()
    graded_c = client.post("/api/leads", json=lead_body(source="trade_show"), headers=admin).json()
    not_a = client.post("/api/leads", json=lead_body(**{**A_FORM, "form_completeness_pct": 79}), headers=admin).json()

    assert (nurture["grade"], nurture["status"], nurture["assigned_to"]) == ("nurture", "nurture", None)
    assert (graded_c["grade"], graded_c["status"]) == ("C", "new")
    assert not_a["grade"] == "B"
    listed = client.get("/api/leads?grade=nurture", headers=admin).json()["items"]
    assert nurture["id"] in [lead["id"] for lead in listed]


def test_repeated_lead_returned_once(client):
    admin = headers_for(client, "admin")
    body = lead_body(source="trade_show", has_budget=True)

    first = client.post("/api/leads", json=body, headers=admin)
    second = client.post("/api/leads", json=body, headers=admin)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]


def test_integration_key_accepted(client):
    key = client.post("/api/leads", json=lead_body(source="trade_show"), headers={"X-Api-Key": TEST_INTEGRATION_API_KEY})
    wrong = client.post("/api/leads", json=lead_body(source="trade_show"), headers={"X-Api-Key": "wrong-key-wrong-key"})
    rep = client.post("/api/leads", json=lead_body(source="trade_show"), headers=headers_for(client, "rep01"))

    assert key.status_code == 201, key.text
    assert wrong.status_code == 401
    assert rep.status_code == 403


def post_a_leads_until_one_waits(client, headers: dict, region_code: str, received_at: datetime | None = None) -> tuple[dict, list[dict]]:
    """Post A leads to a region until one stays unassigned (every rep at capacity); return it and the assigned ones."""
    assigned = []
    for _ in range(60):
        body = lead_body(**A_FORM, region_code=region_code)
        if received_at is not None:
            body["received_at"] = received_at.isoformat()
        lead = client.post("/api/leads", json=body, headers=headers).json()
        if lead["status"] == "new":
            return lead, assigned
        assigned.append(lead)
    raise AssertionError(f"60 A leads were all assigned in region {region_code}; the capacity limit did not hold")


def test_capacity_limit_leaves_a_lead_unassigned(client):
    admin = headers_for(client, "admin")
    saved = client.get("/api/lead-rules", headers=admin).json()["config"]
    tight = {**saved, "assignment": {**saved["assignment"], "max_open_leads_per_rep": 1}}
    try:
        assert client.post("/api/lead-rules", json={"config": tight, "note": "capacity test"}, headers=admin).status_code == 201
        waiting, assigned = post_a_leads_until_one_waits(client, admin, "south")
    finally:
        client.post("/api/lead-rules", json={"config": saved, "note": "restored after capacity test"}, headers=admin)

    assert waiting["grade"] == "A"
    assert waiting["assigned_to"] is None
    assert waiting["assignment"]["result"] == "no rep with spare capacity"
    reps = [lead["assigned_to"] for lead in assigned]
    assert len(reps) == len(set(reps)), "a rep at capacity received another lead"
    assert all(candidate["open_leads"] >= 1 for candidate in waiting["assignment"]["candidates"])


def test_invalid_rules_answer_422(client):
    admin = headers_for(client, "admin")
    bad = {"config": {"rules": [{"name": "r", "grade": "A", "when": [{"field": "has_budget", "op": ">=", "value": 80}]}]}}

    response = client.post("/api/lead-rules", json=bad, headers=admin)

    assert response.status_code == 422
    assert "has_budget" in response.json()["detail"]


def test_manual_assign_and_close(client, api_server):
    admin = headers_for(client, "admin")
    lead = client.post("/api/leads", json=lead_body(source="trade_show", region_code="north"), headers=admin).json()
    lead_north = headers_for(client, "lead_north")
    reps = client.get("/api/leads/rep-abilities", headers=lead_north).json()

    assigned = client.post(f"/api/leads/{lead['id']}/assign", json={"rep_id": reps[0]["rep_id"]}, headers=lead_north)
    rep_headers = headers_for(client, reps[0]["username"])
    closed = client.post(f"/api/leads/{lead['id']}/close", json={"outcome": "won"}, headers=rep_headers)
    again = client.post(f"/api/leads/{lead['id']}/close", json={"outcome": "lost"}, headers=rep_headers)

    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignment"]["method"] == "manual"
    assert closed.status_code == 200
    assert closed.json()["status"] == "won"
    assert again.status_code == 409


def alerts_of(session: Session, lead_id: uuid.UUID) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.lead_id == lead_id)).all())


def test_late_a_lead_escalated_once(client, api_server):
    admin = headers_for(client, "admin")
    saved = client.get("/api/lead-rules", headers=admin).json()["config"]
    tight = {**saved, "assignment": {**saved["assignment"], "max_open_leads_per_rep": 1, "a_lead_assign_within_minutes": 30}}
    arrived = datetime.now(timezone.utc) - timedelta(minutes=10)
    try:
        client.post("/api/lead-rules", json={"config": tight, "note": "escalation test"}, headers=admin)
        lead, _ = post_a_leads_until_one_waits(client, admin, "central", received_at=arrived)
        lead_id = uuid.UUID(lead["id"])
        with Session(api_server.engine) as session:
            check_unassigned_leads(session, arrived + timedelta(minutes=30))
            on_time = len(alerts_of(session, lead_id))
            check_unassigned_leads(session, arrived + timedelta(minutes=30, seconds=1))
            late = len(alerts_of(session, lead_id))
            check_unassigned_leads(session, arrived + timedelta(minutes=45))
            repeated = len(alerts_of(session, lead_id))
            stored = session.get(Lead, lead_id)
    finally:
        client.post("/api/lead-rules", json={"config": saved, "note": "restored after escalation test"}, headers=admin)

    lead_central = headers_for(client, "lead_central")
    inbox = client.get("/api/alerts?kind=lead_unassigned", headers=lead_central).json()["items"]
    assert on_time == 0
    assert late >= 1
    assert repeated == late
    assert stored.region_id is not None
    assert lead["id"] in [alert["data"]["lead_id"] for alert in inbox]
