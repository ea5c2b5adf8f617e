"""Visit checklists: templates (admin API, sync to every role) and answers validated against the visit's template."""

import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from server.models import ChecklistAnswer, ChecklistTemplate, User
from tests.conftest import login
from tests.devices import Device, assert_device_matches_server, next_rep
from tests.servers import ApiServer
from tests.visits import Pusher, checkin_fields, new_customer, point_at, server_visit, tap_moment

DEFAULT_ITEMS = ["samples", "competitor_photo", "next_step"]


@pytest.fixture
def rep(api_server: ApiServer) -> User:
    return next_rep(api_server)


@pytest.fixture
def pusher(api_server: ApiServer, rep: User) -> Pusher:
    return Pusher(api_server, rep.username)


@pytest.fixture
def admin(client: httpx.Client) -> dict[str, str]:
    return login(client, "admin")


def _visit_type() -> str:
    """A visit type no other test uses, so templates created here affect no other test."""
    return f"survey_{uuid.uuid4().hex[:8]}"


def _create_template(client: httpx.Client, admin: dict, visit_type: str, items: list[dict]) -> dict:
    response = client.post("/api/admin/checklist-templates", json={"visit_type": visit_type, "name": "巡店检查", "items": items}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


SURVEY_ITEMS = [
    {"id": "ok", "label": "门店正常营业", "type": "yes_no", "required": True},
    {"id": "count", "label": "货架排面数", "type": "number", "min": 0, "max": 100},
    {"id": "note", "label": "备注", "type": "text"},
    {"id": "level", "label": "陈列等级", "type": "choice", "options": ["高", "中", "低"]},
    {"id": "shelf", "label": "货架照片", "type": "photo"},
]


def _visit(pusher: Pusher, customer_id: str, visit_type: str) -> str:
    visit_id, result = pusher.put("visits", checkin_fields(customer_id, point_at(10), tap_moment(), visit_type=visit_type))
    assert result["status"] == "applied", result
    return visit_id


def _answer(customer_id: str, visit_id: str, item_id: str, value=None, photo_id: str | None = None) -> tuple:
    fields = {"visit_id": visit_id, "customer_id": customer_id, "item_id": item_id, "value": value}
    if photo_id is not None:
        fields["photo_id"] = photo_id
    return ("put", "checklist_answers", str(uuid.uuid4()), fields)


def _complete(server: ApiServer, visit_id: str) -> tuple:
    """The check-out patch, 30 minutes after the check-in."""
    checked_out_at = server_visit(server, visit_id).checked_in_at + timedelta(minutes=30)
    return ("patch", "visits", visit_id, {"status": "completed", "checked_out_at": checked_out_at.isoformat()})


# ---- Templates -------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["rep", "lead_east", "clerk01"])
def test_default_template_reaches_role(api_server, rep, tmp_path, username):
    with Session(api_server.engine) as session:
        user = rep if username == "rep" else session.exec(select(User).where(User.username == username)).one()
    device = Device(api_server, user, tmp_path)

    device.sync()

    routine = [row for row in device.rows("checklist_templates").values() if row["visit_type"] == "routine" and row["active"]]
    assert len(routine) == 1
    items = json.loads(routine[0]["items"])
    assert [item["id"] for item in items] == DEFAULT_ITEMS
    assert [item["label"] for item in items] == ["带新品样品了吗？", "更新竞品陈列照片", "下一步已约定"]
    assert [item["type"] for item in items] == ["yes_no", "photo", "choice"]
    assert all(item["required"] for item in items)
    assert_device_matches_server(device, entities=("checklist_templates",))
    if username == "clerk01":
        assert device.rows("customers") == {}  # templates go to everyone, customers do not


@pytest.mark.parametrize("items, message", [
    ([{"id": "a", "label": "问题", "type": "checkbox"}], "unknown item type 'checkbox'"),
    ([{"id": "a", "label": "问题", "type": "choice"}], "choice item 'a' needs at least one option"),
    ([{"id": "a", "label": "问题", "type": "choice", "options": []}], "choice item 'a' needs at least one option"),
    ([{"id": "a", "label": "问题一", "type": "text"}, {"id": "a", "label": "问题二", "type": "yes_no"}], "duplicate item id(s) a"),
    ([{"id": "a", "label": "问题", "type": "yes_no", "options": ["是"]}], "takes no options"),
    ([{"id": "a", "label": "数量", "type": "number", "min": 5, "max": 1}], "min 5.0 greater than max 1.0"),
    ([{"id": "a", "label": "问题", "type": "text", "colour": "red"}], "unknown field"),
    ([], "items"),
])
def test_template_validation_errors(client, admin, items, message):
    response = client.post("/api/admin/checklist-templates", json={"visit_type": _visit_type(), "name": "无效模板", "items": items}, headers=admin)

    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_templates_admin_only(client, rep):
    headers = login(client, rep.username)

    listed = client.get("/api/admin/checklist-templates", headers=headers)
    created = client.post("/api/admin/checklist-templates", json={"visit_type": _visit_type(), "name": "x", "items": SURVEY_ITEMS}, headers=headers)

    assert listed.status_code == 403
    assert created.status_code == 403
    assert "administrator" in created.json()["detail"]


def test_template_revision_reaches_devices(api_server, client, admin, rep, tmp_path):
    visit_type = _visit_type()
    first = _create_template(client, admin, visit_type, SURVEY_ITEMS)

    again = client.post("/api/admin/checklist-templates", json={"visit_type": visit_type, "name": "重复", "items": SURVEY_ITEMS}, headers=admin)
    revised = client.post(f"/api/admin/checklist-templates/{first['id']}/revisions", json={"items": SURVEY_ITEMS[:2]}, headers=admin)
    missing = client.post(f"/api/admin/checklist-templates/{uuid.uuid4()}/revisions", json={"items": SURVEY_ITEMS}, headers=admin)
    listed = client.get("/api/admin/checklist-templates", params={"visit_type": visit_type}, headers=admin).json()

    assert first["revision"] == 1
    assert again.status_code == 409
    assert f"/api/admin/checklist-templates/{first['id']}/revisions" in again.json()["detail"]
    assert revised.status_code == 201
    assert revised.json()["revision"] == 2
    assert revised.json()["name"] == "巡店检查"
    assert missing.status_code == 404
    assert [(t["revision"], t["active"]) for t in listed["items"]] == [(2, True), (1, False)]

    device = Device(api_server, rep, tmp_path)
    device.sync()
    synced = {row["revision"]: row for row in device.rows("checklist_templates").values() if row["visit_type"] == visit_type}
    assert {revision: bool(row["active"]) for revision, row in synced.items()} == {1: False, 2: True}
    assert [item["id"] for item in json.loads(synced[2]["items"])] == ["ok", "count"]


# ---- Answers and completion ------------------------------------------------------------------

def test_answered_visit_completes(api_server, rep, pusher, tmp_path):
    customer_id = new_customer(pusher)
    visit_id = _visit(pusher, customer_id, "routine")
    with Session(api_server.engine) as session:
        default = session.exec(select(ChecklistTemplate).where(ChecklistTemplate.visit_type == "routine", ChecklistTemplate.active == True)).one()  # noqa: E712

    results = pusher.push(
        _answer(customer_id, visit_id, "samples", True),
        _answer(customer_id, visit_id, "competitor_photo", photo_id=str(uuid.uuid4())),
        _answer(customer_id, visit_id, "next_step", "发送报价"),
        _complete(api_server, visit_id),
    )

    assert [r["status"] for r in results] == ["applied"] * 4, results
    visit = server_visit(api_server, visit_id)
    assert visit.template_id == default.id
    assert visit.status.value == "completed"
    assert visit.duration_s is not None
    device = Device(api_server, rep, tmp_path)
    device.sync()
    assert len([a for a in device.rows("checklist_answers").values() if a["visit_id"] == visit_id]) == 3
    assert device.rows("visits")[visit_id]["status"] == "completed"
    assert_device_matches_server(device, entities=("visits", "checklist_answers"))


def test_completion_requires_required_items(api_server, pusher):
    customer_id = new_customer(pusher)
    visit_id = _visit(pusher, customer_id, "routine")

    answered, rejected = pusher.push(_answer(customer_id, visit_id, "samples", False), _complete(api_server, visit_id))
    rest = pusher.push(
        _answer(customer_id, visit_id, "competitor_photo", photo_id=str(uuid.uuid4())),
        _answer(customer_id, visit_id, "next_step", "再次拜访"),
        _complete(api_server, visit_id),
    )

    assert answered["status"] == "applied"
    assert rejected["status"] == "rejected"
    assert "competitor_photo (更新竞品陈列照片)" in rejected["reason"]
    assert "next_step (下一步已约定)" in rejected["reason"]
    assert "samples" not in rejected["reason"]
    assert [r["status"] for r in rest] == ["applied"] * 3, rest
    assert server_visit(api_server, visit_id).status.value == "completed"


def test_answers_validated_against_template(api_server, client, admin, pusher):
    visit_type = _visit_type()
    _create_template(client, admin, visit_type, SURVEY_ITEMS)
    customer_id, other_customer = new_customer(pusher), new_customer(pusher)
    visit_id = _visit(pusher, customer_id, visit_type)

    cases = {
        "yes_no_text": _answer(customer_id, visit_id, "ok", "yes"),
        "above_max": _answer(customer_id, visit_id, "count", 101),
        "below_min": _answer(customer_id, visit_id, "count", -1),
        "bool_number": _answer(customer_id, visit_id, "count", True),
        "bad_option": _answer(customer_id, visit_id, "level", "极高"),
        "photo_missing": _answer(customer_id, visit_id, "shelf"),
        "unknown_item": _answer(customer_id, visit_id, "nope", "x"),
        "wrong_customer": _answer(other_customer, visit_id, "note", "x"),
        "text": _answer(customer_id, visit_id, "note", "货架整洁"),
        "number": _answer(customer_id, visit_id, "count", 42),
    }
    results = dict(zip(cases, pusher.push(*cases.values())))

    expected = {
        "yes_no_text": "must be true or false, got 'yes'",
        "above_max": "101 is above the maximum 100",
        "below_min": "-1 is below the minimum 0",
        "bool_number": "must be a finite number, got True",
        "bad_option": "must be one of 高, 中, 低, got '极高'",
        "photo_missing": "needs photo_id",
        "unknown_item": "item 'nope' is not in checklist template",
        "wrong_customer": f"is not the customer {customer_id} of visit {visit_id}",
    }
    for name, message in expected.items():
        assert results[name]["status"] == "rejected", name
        assert message in results[name]["reason"], (name, results[name]["reason"])
    assert results["text"]["status"] == "applied"
    assert results["number"]["status"] == "applied"
    with Session(api_server.engine) as session:
        stored = session.exec(select(ChecklistAnswer).where(ChecklistAnswer.visit_id == uuid.UUID(visit_id))).all()
    assert sorted((a.item_id, a.value) for a in stored) == [("count", 42), ("note", "货架整洁")]


def test_one_answer_per_item(api_server, client, admin, pusher):
    visit_type = _visit_type()
    _create_template(client, admin, visit_type, SURVEY_ITEMS)
    customer_id = new_customer(pusher)
    visit_id = _visit(pusher, customer_id, visit_type)
    first = _answer(customer_id, visit_id, "ok", True)

    results = pusher.push(first, _answer(customer_id, visit_id, "ok", False), ("patch", "checklist_answers", first[2], {"value": False}))

    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert f"already has answer {first[2]}" in results[1]["reason"]


def test_completed_visit_answers_locked(api_server, client, admin, pusher):
    visit_type = _visit_type()
    _create_template(client, admin, visit_type, SURVEY_ITEMS)
    customer_id = new_customer(pusher)
    visit_id = _visit(pusher, customer_id, visit_type)
    answer = _answer(customer_id, visit_id, "ok", True)

    done = pusher.push(answer, _complete(api_server, visit_id))
    changed, deleted, added = pusher.push(
        ("patch", "checklist_answers", answer[2], {"value": False}),
        ("delete", "checklist_answers", answer[2], {}),
        _answer(customer_id, visit_id, "note", "补充"),
    )

    assert [r["status"] for r in done] == ["applied", "applied"]
    for result in (changed, deleted, added):
        assert result["status"] == "rejected"
        assert "is completed" in result["reason"]


def test_visit_template_must_match(api_server, pusher):
    customer_id = new_customer(pusher)
    with Session(api_server.engine) as session:
        default = session.exec(select(ChecklistTemplate).where(ChecklistTemplate.visit_type == "routine")).first()
    fields = checkin_fields(customer_id, point_at(10), tap_moment(), visit_type="demo")

    other_type, unknown = pusher.push(
        ("put", "visits", str(uuid.uuid4()), fields | {"template_id": str(default.id)}),
        ("put", "visits", str(uuid.uuid4()), fields | {"template_id": str(uuid.uuid4())}),
    )

    assert other_type["status"] == "rejected"
    assert "is for visit type 'routine', not 'demo'" in other_type["reason"]
    assert unknown["status"] == "rejected"
    assert "not found" in unknown["reason"]


def test_deleted_visit_deletes_answers(api_server, pusher):
    customer_id = new_customer(pusher)
    visit_id = _visit(pusher, customer_id, "routine")
    answer = _answer(customer_id, visit_id, "samples", True)

    results = pusher.push(answer, ("delete", "visits", visit_id, {}))

    assert [r["status"] for r in results] == ["applied", "applied"]
    with Session(api_server.engine) as session:
        assert session.get(ChecklistAnswer, uuid.UUID(answer[2])).deleted is True
