"""Read one page of changes after a client's cursor, in change sequence order.

The high-water mark is the counter's committed value, read before the page: every
change numbered at or below it is committed, so a page never skips a change that
commits later. The log keeps the newest entry per row and audience, so a pull from
cursor 0 downloads everything in scope, and the cost of a pull grows with the
number of changes in scope, not with the size of the tables.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import Session, func, select

from server.models import Role, SyncChange, SyncClient, SyncCounter, User
from core.wire import SYNCED_FIELDS
from server.sync.entities import DERIVED_CUSTOMER_FIELDS, ENTITY_MODELS, NameCache, row_to_wire
from server.sync.scopes import EVERYONE_ENTITIES, PERSONAL_ENTITIES


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
    own = SyncChange.owner_id == user.id
    if user.role == Role.ADMIN:
        return and_(SyncChange.op != "evict", or_(SyncChange.entity.not_in(PERSONAL_ENTITIES), own))
    if user.role == Role.REGIONAL_LEAD and user.region_id is not None:
        return or_(own, SyncChange.region_id == user.region_id, _everyone())
    if user.role in (Role.CLERK, Role.STORE_MANAGER) and user.store_id is not None:
        return or_(own, SyncChange.store_id == user.store_id, _everyone())
    return or_(own, _everyone())


def _everyone():
    """Entries for every user: an entity of EVERYONE_ENTITIES, no audience keys, and not an eviction."""
    return and_(
        SyncChange.entity.in_(EVERYONE_ENTITIES),
        SyncChange.owner_id.is_(None),
        SyncChange.region_id.is_(None),
        SyncChange.store_id.is_(None),
        SyncChange.op != "evict",
    )


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

    # Plain column tuples, not ORM objects: building objects was most of a large pull's time.
    entries = session.execute(
        select(SyncChange.seq, SyncChange.entity, SyncChange.entity_id, SyncChange.op)
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
    # The acknowledgement goes with the last page only, once the client has every change up to the mark.
    return PullPage(
        cursor=next_cursor,
        has_more=has_more,
        last_mutation_id=None if has_more else last_mutation_id,
        changes=changes,
        remaining=remaining,
    )


def _load_rows(session: Session, entries) -> dict:
    """Return the current rows of the entries' puts, keyed by (entity, id), as attribute-access rows."""
    ids_by_entity: dict[str, list[uuid.UUID]] = {}
    for entry in entries:
        if entry.op == "put":
            ids_by_entity.setdefault(entry.entity, []).append(entry.entity_id)
    rows = {}
    for entity, ids in ids_by_entity.items():
        model = ENTITY_MODELS[entity]
        selected = _wire_columns(entity, model)
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            if selected == [model]:
                found = session.exec(select(model).where(model.id.in_(chunk))).all()
            else:
                found = session.execute(select(*selected).where(model.id.in_(chunk))).all()
            for row in found:
                rows[(entity, row.id)] = row
    return rows


def _wire_columns(entity: str, model) -> list:
    """Columns row_to_wire reads: id, version, deleted and the stored synced fields.

    An entity with a synced field that is not a column is loaded as ORM objects instead.
    """
    table_columns = model.__table__.c
    names = ["id", "version", "deleted", *(n for n in SYNCED_FIELDS[entity] if n not in DERIVED_CUSTOMER_FIELDS)]
    if entity == "customers":
        names += ["owner_id", "region_id"]
    if not all(name in table_columns for name in names):
        return [model]
    return [table_columns[name] for name in dict.fromkeys(names)]
