"""Read one page of changes after a client's cursor, in change sequence order.

The high-water mark is the counter's committed value, read before the page: every
change numbered at or below it is committed, so a page never skips a change that
commits later. The log keeps the newest entry per row and audience, so a pull from
cursor 0 downloads everything in scope, and the cost of a pull grows with the
number of changes in scope, not with the size of the tables.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, func, select

from server.models import Role, SyncChange, SyncClient, SyncCounter, User
from server.sync.entities import ENTITY_MODELS, NameCache, row_to_wire


class ResyncRequired(Exception):
    """The cursor is older than the oldest tombstone still kept; the client must download its data again."""


@dataclass
class PullPage:
    cursor: int
    has_more: bool
    last_mutation_id: int | None
    changes: list[dict]
    remaining: int | None = None


def audience_filter(user: User):
    """Return the WHERE clause selecting the change-log entries `user` receives."""
    if user.role == Role.ADMIN:
        return SyncChange.op != "evict"
    own = SyncChange.owner_id == user.id
    if user.role == Role.REGIONAL_LEAD and user.region_id is not None:
        return or_(own, SyncChange.region_id == user.region_id)
    if user.role in (Role.CLERK, Role.STORE_MANAGER) and user.store_id is not None:
        return or_(own, SyncChange.store_id == user.store_id)
    return own


def read_pull(
    session: Session, user: User, client_id: uuid.UUID, cursor: int, limit: int, with_remaining: bool = False
) -> PullPage:
    # Read the client's acknowledged mutation id before the high-water mark: every change
    # of an acknowledged mutation is then at or below the mark, so the client never drops
    # an outbox entry whose effect is not in the data it has pulled.
    client = session.get(SyncClient, client_id)
    last_mutation_id = client.last_mutation_id if client is not None and client.user_id == user.id else 0

    counter = session.exec(select(SyncCounter).where(SyncCounter.id == 1)).one()
    high_water_mark, tombstone_floor = counter.value, counter.tombstone_floor
    if 0 < cursor < tombstone_floor:
        raise ResyncRequired(
            f"cursor {cursor} is older than the tombstone retention (changes up to {tombstone_floor} were compacted); download again from cursor 0"
        )

    entries = session.exec(
        select(SyncChange)
        .where(SyncChange.seq > cursor, SyncChange.seq <= high_water_mark, audience_filter(user))
        .order_by(SyncChange.seq)
        .limit(limit + 1)
    ).all()
    remaining = None
    if with_remaining:
        remaining = session.exec(
            select(func.count()).select_from(SyncChange)
            .where(SyncChange.seq > cursor, SyncChange.seq <= high_water_mark, audience_filter(user))
        ).one()
    has_more = len(entries) > limit
    entries = entries[:limit]

    rows = _load_rows(session, entries)
    names = NameCache(session)
    changes = []
    for entry in entries:
        row = rows.get((entry.entity, entry.entity_id))
        if entry.op == "put" and row is not None and not row.deleted:
            changes.append({"seq": entry.seq, "entity": entry.entity, "id": str(entry.entity_id), "op": "put", "row": row_to_wire(entry.entity, row, names)})
        else:
            op = "evict" if entry.op == "evict" else "delete"
            changes.append({"seq": entry.seq, "entity": entry.entity, "id": str(entry.entity_id), "op": op, "row": None})

    next_cursor = entries[-1].seq if has_more else max(cursor, high_water_mark)
    # The acknowledgement is sent with the last page only, when the client holds every change up to the mark.
    return PullPage(
        cursor=next_cursor,
        has_more=has_more,
        last_mutation_id=None if has_more else last_mutation_id,
        changes=changes,
        remaining=remaining,
    )


def _load_rows(session: Session, entries: list[SyncChange]) -> dict:
    ids_by_entity: dict[str, list[uuid.UUID]] = {}
    for entry in entries:
        if entry.op == "put":
            ids_by_entity.setdefault(entry.entity, []).append(entry.entity_id)
    rows = {}
    for entity, ids in ids_by_entity.items():
        model = ENTITY_MODELS[entity]
        for start in range(0, len(ids), 900):
            for row in session.exec(select(model).where(model.id.in_(ids[start:start + 900]))).all():
                rows[(entity, row.id)] = row
    return rows
