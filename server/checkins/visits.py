"""Check-in and checklist rules for visit and checklist-answer mutations in a sync push.

server.sync.push calls `after_mutation` inside each mutation's savepoint, after the row
was created, changed or deleted. A MutationRejected raised here rolls that mutation back
and is stored as its rejection; the other mutations of the push still apply.

Visits:
- A visit created with a fix is a check-in. The fix needs checkin_latitude,
  checkin_longitude, checkin_accuracy_m and checkin_fix_at together, plus captured_at.
  The server stamps server_received_at, takes captured_at as checked_in_at when none was
  sent, attaches the visit type's active checklist template when the client sent none,
  and re-checks the check-in (server.checkins.recheck). A visit without a fix is a visit
  logged by hand: it is stored without a re-check.
- The check-in fields cannot change after creation (server.sync.entities.IMMUTABLE_FIELDS),
  so a replayed put of the same check-in changes nothing and is not re-checked again.
- Check-out sets status "completed" with checked_out_at. It needs checked_out_at not
  before checked_in_at and an answer to every required item of the template; the server
  computes duration_s. A completed visit cannot be reopened, and its answers cannot change.
- Deleting a visit deletes its answers; its check-in flag stays for the lead.

Checklist answers: the visit must exist, be open, belong to the answer's customer and
have a template containing the item; the value must fit the item; a visit has one
answer per item.
"""

import uuid

from sqlalchemy import inspect
from sqlmodel import Session, select

from server.checkins.checklists import check_answer, find_item, load_items, missing_required_items
from server.checkins.recheck import PushClock, recheck_checkin
from server.models import ChecklistAnswer, ChecklistTemplate, User, Visit, VisitStatus
from server.sync.changes import ChangeRecorder
from server.sync.entities import MutationRejected

FIX_FIELDS = ("checkin_latitude", "checkin_longitude", "checkin_accuracy_m", "checkin_fix_at")


def after_mutation(
    session: Session, recorder: ChangeRecorder, user: User, entity: str, op: str, row, created: bool, clock: PushClock
) -> None:
    """Apply the rules above to the visit or answer `row` that one mutation just wrote."""
    if entity == "visits":
        if op == "delete":
            _delete_answers(session, recorder, user, row)
        elif created:
            _visit_created(session, recorder, user, row, clock)
        else:
            _visit_changed(session, recorder, user, row)
    elif entity == "checklist_answers":
        _answer_written(session, row, op, created)


# ---- Visits ----------------------------------------------------------------------------------

def _visit_created(session: Session, recorder: ChangeRecorder, user: User, visit: Visit, clock: PushClock) -> None:
    derived = {"server_received_at"}
    # No autoflush: a template id that does not exist must be reported here, not as a failed insert.
    with session.no_autoflush:
        is_checkin = _require_complete_fix(visit)
        visit.server_received_at = clock.received_at
        if visit.checked_in_at is None and visit.captured_at is not None:
            visit.checked_in_at = visit.captured_at
            derived.add("checked_in_at")
        template = _attach_template(session, visit)
        if visit.template_id is not None:
            derived.add("template_id")
        if visit.checked_out_at is not None:
            _set_duration(visit)
            derived.add("duration_s")
        if visit.status == VisitStatus.COMPLETED:
            _check_completion(session, visit, template)

    if is_checkin:
        recheck_checkin(session, recorder, visit, clock)
        derived.add("geofence")
    recorder.put("visits", visit, changed_fields=derived, writer_id=user.id)


def _visit_changed(session: Session, recorder: ChangeRecorder, user: User, visit: Visit) -> None:
    state = inspect(visit)
    status_history = state.attrs.status.history
    if status_history.has_changes() and VisitStatus.COMPLETED in status_history.deleted:
        raise MutationRejected(f"visit {visit.id} is completed and cannot be reopened")

    times_changed = state.attrs.checked_out_at.history.has_changes() or state.attrs.checked_in_at.history.has_changes()
    if times_changed and visit.checked_out_at is not None:
        _set_duration(visit)
        recorder.put("visits", visit, changed_fields={"duration_s"}, writer_id=user.id)
    if visit.status == VisitStatus.COMPLETED and (status_history.has_changes() or times_changed):
        template = session.get(ChecklistTemplate, visit.template_id) if visit.template_id else None
        _check_completion(session, visit, template)


def _require_complete_fix(visit: Visit) -> bool:
    """Return whether the visit carries a check-in fix; raise if it carries only part of one."""
    if all(getattr(visit, name) is None for name in FIX_FIELDS):
        return False
    missing = [name for name in (*FIX_FIELDS, "captured_at") if getattr(visit, name) is None]
    if missing:
        raise MutationRejected(
            f"incomplete check-in: missing {', '.join(missing)}; a check-in needs "
            "checkin_latitude, checkin_longitude, checkin_accuracy_m, checkin_fix_at and captured_at together"
        )
    return True


def _attach_template(session: Session, visit: Visit) -> ChecklistTemplate | None:
    """Check the template the client chose, or attach the active one of the visit type; return it."""
    if visit.template_id is not None:
        template = session.get(ChecklistTemplate, visit.template_id)
        if template is None or template.deleted:
            raise MutationRejected(f"checklist template {visit.template_id} not found; sync to get the current templates")
        if template.visit_type != visit.visit_type:
            raise MutationRejected(
                f"checklist template {template.id} is for visit type {template.visit_type!r}, not {visit.visit_type!r}"
            )
        return template
    template = session.exec(
        select(ChecklistTemplate)
        .where(ChecklistTemplate.visit_type == visit.visit_type, ChecklistTemplate.active == True,  # noqa: E712
               ChecklistTemplate.deleted == False)  # noqa: E712
        .order_by(ChecklistTemplate.revision.desc())
    ).first()
    if template is not None:
        visit.template_id = template.id
    return template


def _set_duration(visit: Visit) -> None:
    start = visit.checked_in_at or visit.captured_at
    if start is None:
        visit.duration_s = None
        return
    if visit.checked_out_at < start:
        raise MutationRejected(
            f"checked_out_at {visit.checked_out_at.isoformat()} is before the check-in at {start.isoformat()}"
        )
    visit.duration_s = int((visit.checked_out_at - start).total_seconds())


def _check_completion(session: Session, visit: Visit, template: ChecklistTemplate | None) -> None:
    if visit.checked_out_at is None:
        raise MutationRejected(f"visit {visit.id} cannot be completed without checked_out_at, the device time of the check-out")
    if template is None:
        return
    answers = session.exec(
        select(ChecklistAnswer).where(ChecklistAnswer.visit_id == visit.id, ChecklistAnswer.deleted == False)  # noqa: E712
    ).all()
    missing = missing_required_items(load_items(template.items), {a.item_id: (a.value, a.photo_id) for a in answers})
    if missing:
        names = ", ".join(f"{item.id} ({item.label})" for item in missing)
        raise MutationRejected(f"visit {visit.id} cannot be completed: required checklist item(s) without an answer: {names}")


def _delete_answers(session: Session, recorder: ChangeRecorder, user: User, visit: Visit) -> None:
    answers = session.exec(
        select(ChecklistAnswer).where(ChecklistAnswer.visit_id == visit.id, ChecklistAnswer.deleted == False)  # noqa: E712
    ).all()
    for answer in answers:
        recorder.delete("checklist_answers", answer, writer_id=user.id)


# ---- Checklist answers -----------------------------------------------------------------------

def _answer_written(session: Session, answer: ChecklistAnswer, op: str, created: bool) -> None:
    if not created and op != "delete" and not _has_changes(answer):
        return  # a replay that changed nothing
    with session.no_autoflush:
        visit = session.get(Visit, answer.visit_id)
        if visit is None or visit.deleted:
            raise MutationRejected(f"visit {answer.visit_id} not found or deleted; push the visit before its checklist answers")
        if visit.status == VisitStatus.COMPLETED:
            raise MutationRejected(f"visit {visit.id} is completed; its checklist answers can no longer change")
        if op == "delete":
            return
        if visit.customer_id != answer.customer_id:
            raise MutationRejected(f"customer_id {answer.customer_id} is not the customer {visit.customer_id} of visit {visit.id}")
        _check_against_template(session, visit, answer)
        _reject_second_answer(session, answer)


def _has_changes(row) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in ("value", "photo_id"))


def _check_against_template(session: Session, visit: Visit, answer: ChecklistAnswer) -> None:
    template = session.get(ChecklistTemplate, visit.template_id) if visit.template_id else None
    if template is None:
        raise MutationRejected(f"visit {visit.id} has no checklist template, so it takes no checklist answers")
    items = load_items(template.items)
    item = find_item(items, answer.item_id)
    if item is None:
        raise MutationRejected(
            f"item {answer.item_id!r} is not in checklist template {template.name!r} (revision {template.revision}) "
            f"of visit {visit.id}; its items are {', '.join(i.id for i in items)}"
        )
    try:
        check_answer(item, answer.value, answer.photo_id)
    except ValueError as error:
        raise MutationRejected(str(error)) from None


def _reject_second_answer(session: Session, answer: ChecklistAnswer) -> None:
    other: uuid.UUID | None = session.exec(
        select(ChecklistAnswer.id).where(
            ChecklistAnswer.visit_id == answer.visit_id,
            ChecklistAnswer.item_id == answer.item_id,
            ChecklistAnswer.id != answer.id,
            ChecklistAnswer.deleted == False,  # noqa: E712
        )
    ).first()
    if other is not None:
        raise MutationRejected(
            f"visit {answer.visit_id} already has answer {other} to item {answer.item_id!r}; change that answer instead"
        )
