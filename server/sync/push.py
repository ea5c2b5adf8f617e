"""Apply a client's pushed mutations in one transaction.

Mutation ids run 1, 2, 3, ... per client. Ids at or below the client's last applied
id are skipped as duplicates. An id beyond the next one is a gap: it stops the batch,
and the client re-sends from the server's last id. A mutation that fails
validation or authorisation is stored as a rejection (synced back to the user) and
the last applied id still advances, so one bad record never blocks the queue.
"""

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.wire import CLIENT_WRITABLE, MUTATION_OPS
from server.checkins.recheck import PushClock
from server.checkins.visits import after_mutation
from server.models import Customer, SyncClient, SyncConflict, SyncRejection, User
from server.members.sync import STORE_ENTITIES, check_store_op, create_store_row, store_row_in_scope
from server.scoring.hooks import rescore_after_push
from server.sync.alert_patches import alert_in_scope, apply_alert_mutation
from server.sync.changes import ChangeRecorder, field_version
from server.sync.entities import (
    ASSIGNMENT_FIELDS,
    ENTITY_MODELS,
    IMMUTABLE_FIELDS,
    MutationRejected,
    customer_in_scope,
    parent_customer,
    to_wire,
    user_may_assign,
    validate_fields,
)
from server.sync.scopes import CUSTOMER_CHILDREN, Audience

log = logging.getLogger(__name__)


class ClientOwnedByAnotherUser(Exception):
    """The client id was registered by a different user."""


@dataclass
class Mutation:
    id: int
    op: str
    entity: str
    entity_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    base_version: int = 0
    captured_at: str | None = None


@dataclass
class MutationResult:
    id: int
    status: str  # applied, rejected or duplicate
    reason: str | None = None


@dataclass
class PushResult:
    last_mutation_id: int
    results: list[MutationResult]
    gap: bool


def lock_client(session: Session, client_id: uuid.UUID, user: User) -> SyncClient:
    """Fetch the client's row, locked for this transaction, registering it on first contact."""
    client = session.exec(select(SyncClient).where(SyncClient.client_id == client_id).with_for_update()).first()
    if client is None:
        client = SyncClient(client_id=client_id, user_id=user.id)
        session.add(client)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            # Another request registered the same client at the same moment.
            client = session.exec(select(SyncClient).where(SyncClient.client_id == client_id).with_for_update()).one()
    if client.user_id != user.id:
        raise ClientOwnedByAnotherUser(f"client {client_id} belongs to another user; a new sign-in must use a new client id")
    return client


def apply_push(
    session: Session, user: User, client_id: uuid.UUID, mutations: list[Mutation], device_time: datetime | None = None
) -> PushResult:
    """Apply `mutations` in id order and commit; the caller's session must have no open writes.

    `device_time` is the device clock when it sent the push (its HTTP Date header), for the check-in re-check.
    """
    recorder = ChangeRecorder(session)
    clock = PushClock(received_at=datetime.now(timezone.utc), device_time=device_time)
    client = lock_client(session, client_id, user)
    results: list[MutationResult] = []
    gap = False

    for mutation in sorted(mutations, key=lambda m: m.id):
        if mutation.id <= client.last_mutation_id:
            results.append(MutationResult(mutation.id, "duplicate"))
            continue
        if mutation.id != client.last_mutation_id + 1:
            gap = True
            break

        checkpoint = recorder.checkpoint()
        try:
            with session.begin_nested():
                _apply_one(session, recorder, user, mutation, clock)
                session.flush()
            results.append(MutationResult(mutation.id, "applied"))
        except (MutationRejected, IntegrityError) as error:
            recorder.restore(checkpoint)
            reason = error.reason if isinstance(error, MutationRejected) else _integrity_reason(error)
            _store_rejection(session, recorder, user, client_id, mutation, reason)
            results.append(MutationResult(mutation.id, "rejected", reason))
        client.last_mutation_id = mutation.id

    client.last_seen_at = datetime.now(timezone.utc)
    session.add(client)
    recorder.flush()
    session.commit()
    # Health scores of the touched customers, in their own transaction. A failure there is logged, not raised.
    rescore_after_push(session, mutations, results)

    rejected = sum(1 for r in results if r.status == "rejected")
    applied = sum(1 for r in results if r.status == "applied")
    log.info(
        "sync push client=%s user=%s received=%d applied=%d rejected=%d duplicate=%d gap=%s last_mutation_id=%d",
        client_id, user.id, len(mutations), applied, rejected, len(results) - applied - rejected, gap, client.last_mutation_id,
    )
    return PushResult(last_mutation_id=client.last_mutation_id, results=results, gap=gap)


def _integrity_reason(error: IntegrityError) -> str:
    detail = str(error.orig).strip().splitlines()[0]
    return f"the database rejected the record ({detail}); check that the records it refers to exist"


def _store_rejection(session, recorder, user, client_id, mutation: Mutation, reason: str) -> None:
    rejection = SyncRejection(
        client_id=client_id,
        mutation_id=mutation.id,
        user_id=user.id,
        entity=mutation.entity[:32],
        entity_id=str(mutation.entity_id)[:64],
        op=mutation.op[:8],
        reason=reason[:500],
        fields=_json_safe(mutation.fields),
    )
    session.add(rejection)
    recorder.put("rejections", rejection, changed_fields=set(), writer_id=user.id)
    _resend_server_state(session, recorder, user, mutation)
    log.info("sync mutation rejected client=%s mutation=%d entity=%s id=%s: %s", client_id, mutation.id, mutation.entity, mutation.entity_id, reason)


def _resend_server_state(session: Session, recorder: ChangeRecorder, user: User, mutation: Mutation) -> None:
    """Make the next pull overwrite the client's optimistic copy of a rejected mutation's row.

    A row the server has and the user may see is logged again, so the client receives the
    server's version; a row the server does not have, or the user may not see, is retracted
    from this user's devices.
    """
    model = ENTITY_MODELS.get(mutation.entity)
    try:
        entity_id = uuid.UUID(str(mutation.entity_id))
    except ValueError:
        return
    if model is None or mutation.entity not in CLIENT_WRITABLE:
        return
    row = session.get(model, entity_id)
    if row is None or not _row_in_scope(session, user, mutation.entity, row):
        recorder.retract(mutation.entity, entity_id, Audience(owner_id=user.id))
    elif row.deleted:
        recorder.delete(mutation.entity, row)
    else:
        recorder.put(mutation.entity, row, changed_fields=set())


def _json_safe(fields: Any) -> dict:
    if not isinstance(fields, dict):
        return {"value": repr(fields)[:200]}
    return {str(k): v if _json_scalar(v) else repr(v)[:200] for k, v in fields.items()}


def _json_scalar(value: Any) -> bool:
    # NaN and infinity are not JSON: PostgreSQL refuses them and the pull could not send them.
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool | type(None))


def _apply_one(session: Session, recorder: ChangeRecorder, user: User, mutation: Mutation, clock: PushClock) -> None:
    if mutation.entity not in CLIENT_WRITABLE:
        raise MutationRejected(f"entity {mutation.entity!r} cannot be written by clients; writable: {', '.join(sorted(CLIENT_WRITABLE))}")
    if mutation.op not in MUTATION_OPS:
        raise MutationRejected(f"unknown op {mutation.op!r}; expected one of put, patch, delete")
    try:
        entity_id = uuid.UUID(str(mutation.entity_id))
    except ValueError:
        raise MutationRejected(f"entity_id {mutation.entity_id!r} is not a UUID; clients must generate UUIDs for new rows") from None
    if not isinstance(mutation.fields, dict):
        raise MutationRejected("fields must be a JSON object")
    if mutation.entity == "alerts":
        apply_alert_mutation(session, recorder, user, mutation.op, entity_id, mutation.fields)
        return
    check_store_op(mutation.entity, mutation.op)

    model = ENTITY_MODELS[mutation.entity]
    row = session.get(model, entity_id)
    created = row is None
    if mutation.op == "put" and row is None:
        row = _create(session, recorder, user, mutation, entity_id)
    elif row is None:
        raise MutationRejected(f"{mutation.entity} {entity_id} not found; it may never have reached the server")
    elif row.deleted:
        raise MutationRejected(f"{mutation.entity} {entity_id} was deleted on the server; the change was not applied")
    elif not _row_in_scope(session, user, mutation.entity, row):
        raise MutationRejected(f"{mutation.entity} {entity_id} is outside your data scope")
    elif mutation.op == "delete":
        _delete(session, recorder, user, mutation.entity, row)
    else:
        # A put on an existing row (a create that was replayed elsewhere) updates it like a patch.
        _update(session, recorder, user, mutation, row)
    after_mutation(session, recorder, user, mutation.entity, mutation.op, row, created, clock)


def _delete(session: Session, recorder: ChangeRecorder, user: User, entity: str, row) -> None:
    """Tombstone the row; a customer's contacts, visits and follow-ups go with it."""
    recorder.delete(entity, row, writer_id=user.id)
    if entity != "customers":
        return
    for child_entity in CUSTOMER_CHILDREN:
        model = ENTITY_MODELS[child_entity]
        for child in session.exec(select(model).where(model.customer_id == row.id, model.deleted == False)).all():  # noqa: E712
            recorder.delete(child_entity, child, writer_id=user.id)


def _row_in_scope(session: Session, user: User, entity: str, row) -> bool:
    if entity == "alerts":
        return alert_in_scope(user, row)
    if entity in STORE_ENTITIES:
        return store_row_in_scope(user, entity, row)
    if entity == "customers":
        return customer_in_scope(user, row)
    return customer_in_scope(user, parent_customer(session, entity, row))


def _create(session: Session, recorder: ChangeRecorder, user: User, mutation: Mutation, entity_id: uuid.UUID):
    values = validate_fields(mutation.entity, mutation.fields, partial=False)

    if mutation.entity in STORE_ENTITIES:
        row = create_store_row(session, user, mutation.entity, entity_id, values)
        session.add(row)
        recorder.put(mutation.entity, row, changed_fields=set(values), writer_id=user.id)
        return row
    if mutation.entity == "customers":
        values["owner_id"] = values["owner_id"] or user.id
        values["region_id"] = values["region_id"] or user.region_id
        probe = Customer(**values)
        if not customer_in_scope(user, probe) and not user_may_assign(user, probe, values["region_id"]):
            raise MutationRejected("you may only create customers that you own or, as a lead, in your region")
    else:
        customer = parent_customer(session, mutation.entity, values)
        if customer is None or customer.deleted:
            raise MutationRejected(f"customer {values['customer_id']} not found or deleted")
        if not customer_in_scope(user, customer):
            raise MutationRejected(f"customer {customer.id} is outside your data scope")
        for author_field in ("rep_id", "author_id"):
            if author_field in values:
                values[author_field] = user.id

    row = ENTITY_MODELS[mutation.entity](id=entity_id, **values)
    session.add(row)
    recorder.put(mutation.entity, row, changed_fields=set(values), writer_id=user.id)
    return row


def _update(session: Session, recorder: ChangeRecorder, user: User, mutation: Mutation, row) -> None:
    values = validate_fields(mutation.entity, mutation.fields, partial=True)
    immutable = IMMUTABLE_FIELDS[mutation.entity] & {name for name, value in values.items() if value != getattr(row, name)}
    if immutable:
        raise MutationRejected(f"field(s) {', '.join(sorted(immutable))} of {mutation.entity} cannot change after creation")

    previous_audience = None
    if mutation.entity == "customers" and ASSIGNMENT_FIELDS & values.keys():
        if not user_may_assign(user, row, values.get("region_id")):
            raise MutationRejected("only the regional lead of the customer's region or an admin may reassign a customer")
        previous_audience = Audience(owner_id=row.owner_id, region_id=row.region_id)

    changed = set()
    for name, value in values.items():
        current = getattr(row, name)
        if value == current:
            continue
        last_seq, last_writer = field_version(row, name)
        if last_seq > mutation.base_version:
            _record_conflict(session, recorder, mutation, row, name, current, value, last_writer, user)
        setattr(row, name, value)
        changed.add(name)

    if changed:
        if hasattr(row, "updated_at"):
            row.updated_at = datetime.now(timezone.utc)
        session.add(row)
        recorder.put(mutation.entity, row, changed_fields=changed, writer_id=user.id, previous_audience=previous_audience)


def _record_conflict(session, recorder, mutation: Mutation, row, name: str, lost, won, lost_by: str | None, user: User) -> None:
    """Keep the value a concurrent edit wrote and this later mutation overwrites (last writer in server order wins)."""
    conflict = SyncConflict(
        entity=mutation.entity,
        entity_id=row.id,
        field=name,
        lost_value={"value": to_wire(lost)},
        won_value={"value": to_wire(won)},
        lost_by=uuid.UUID(lost_by) if lost_by else None,
        won_by=user.id,
    )
    session.add(conflict)
    recorder.put("conflicts", conflict, changed_fields=set())
