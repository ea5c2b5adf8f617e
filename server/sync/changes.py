"""The change log: every write to a synced row goes through a ChangeRecorder.

The recorder collects the rows a transaction changed and, just before commit,
takes that many change sequence numbers from the counter row. The counter row
stays locked until the transaction ends, so numbers are handed out in commit
order on PostgreSQL as on SQLite. A pull that reads the counter as its high-water
mark therefore never skips a change that commits later with a lower number.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import delete, insert, update
from sqlmodel import Session, select

from server.models import SyncChange, SyncCounter, SyncedRow
from server.sync.scopes import CUSTOMER_CHILDREN, Audience, audience_of


@dataclass
class _PendingChange:
    entity: str
    row: SyncedRow | None
    op: str  # "put" or "delete"
    changed_fields: set[str] = field(default_factory=set)
    writer_id: uuid.UUID | None = None
    previous_audience: Audience | None = None
    # For a retraction: the row id and the one audience that must drop it.
    entity_id: uuid.UUID | None = None
    audience: Audience | None = None


def allocate_sequence_numbers(session: Session, count: int) -> int:
    """Take `count` consecutive change sequence numbers and return the first.

    The UPDATE locks the counter row until the transaction ends.
    """
    last = session.execute(
        update(SyncCounter).where(SyncCounter.id == 1).values(value=SyncCounter.value + count).returning(SyncCounter.value)
    ).scalar_one()
    return last - count + 1


class ChangeRecorder:
    """Collects the synced rows one transaction writes and logs them with `flush()` before commit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pending: dict[tuple[str, uuid.UUID], _PendingChange] = {}

    def put(
        self,
        entity: str,
        row: SyncedRow,
        changed_fields: set[str],
        writer_id: uuid.UUID | None = None,
        previous_audience: Audience | None = None,
    ) -> None:
        """Record that `row` was created or changed; `previous_audience` is its audience before the change."""
        pending = self._pending.get((entity, row.id))
        if pending is None:
            pending = _PendingChange(entity, row, "put", writer_id=writer_id, previous_audience=previous_audience)
            self._pending[(entity, row.id)] = pending
        pending.changed_fields |= changed_fields
        pending.writer_id = writer_id or pending.writer_id
        if entity == "customers" and previous_audience is not None:
            self._move_children(row, previous_audience)

    def delete(self, entity: str, row: SyncedRow, writer_id: uuid.UUID | None = None) -> None:
        """Record that `row` became a tombstone."""
        self._pending[(entity, row.id)] = _PendingChange(entity, row, "delete", writer_id=writer_id)

    def retract(self, entity: str, entity_id: uuid.UUID, audience: Audience) -> None:
        """Record that one audience must drop a row it has but may not see (a rejected create, or a row out of its scope)."""
        self._pending[(entity, entity_id)] = _PendingChange(entity, None, "delete", entity_id=entity_id, audience=audience)

    def checkpoint(self) -> dict:
        return {key: _PendingChange(**vars(change)) for key, change in self._pending.items()}

    def restore(self, checkpoint: dict) -> None:
        """Forget changes recorded after `checkpoint`, when their savepoint was rolled back."""
        self._pending = checkpoint

    def _move_children(self, customer: SyncedRow, previous_audience: Audience) -> None:
        """Re-log a reassigned customer's child rows, so they follow it to its new audience."""
        from server.sync.entities import ENTITY_MODELS

        if previous_audience == Audience(owner_id=customer.owner_id, region_id=customer.region_id):
            return
        for entity in CUSTOMER_CHILDREN:
            model = ENTITY_MODELS[entity]
            children = self.session.exec(select(model).where(model.customer_id == customer.id, model.deleted == False)).all()  # noqa: E712
            for child in children:
                if (entity, child.id) not in self._pending:
                    self._pending[(entity, child.id)] = _PendingChange(entity, child, "put", previous_audience=previous_audience)

    def flush(self) -> int:
        """Number and log every recorded change; return how many sequence numbers were used."""
        if not self._pending:
            return 0
        self.session.flush()

        entries = []
        for change in self._pending.values():
            if change.row is None:
                entries.append((change, change.audience, "evict"))
                continue
            audience = audience_of(self.session, change.entity, change.row)
            entries.append((change, audience, None))
            if change.previous_audience is not None:
                lost = change.previous_audience.lost_to(audience)
                if lost is not None:
                    entries.append((change, lost, "evict"))

        first_seq = allocate_sequence_numbers(self.session, len(entries))
        now = datetime.now(timezone.utc)
        log_rows = []
        for offset, (change, audience, forced_op) in enumerate(entries):
            seq = first_seq + offset
            if forced_op is None and change.row is not None:
                self._stamp_row(change, seq, now)
            log_rows.append({
                "seq": seq,
                "entity": change.entity,
                "entity_id": change.entity_id or change.row.id,
                "op": forced_op or change.op,
                "owner_id": audience.owner_id,
                "region_id": audience.region_id,
                "store_id": audience.store_id,
                "changed_at": now,
            })

        # Retractions leave the row's other entries alone: other audiences may still hold it.
        changed_ids = [change.row.id for change in self._pending.values() if change.row is not None]
        # The log keeps only the newest put or delete per row; evictions stay until purged.
        self.session.execute(delete(SyncChange).where(SyncChange.entity_id.in_(changed_ids), SyncChange.op != "evict"))
        self.session.execute(insert(SyncChange), log_rows)
        self._pending = {}
        return len(entries)

    def _stamp_row(self, change: _PendingChange, seq: int, now: datetime) -> None:
        row = change.row
        row.version = seq
        row.server_updated_at = now
        if change.op == "delete":
            row.deleted = True
        if change.changed_fields:
            versions = dict(row.field_versions or {})
            writer = str(change.writer_id) if change.writer_id else None
            for name in change.changed_fields:
                versions[name] = [seq, writer]
            row.field_versions = versions
        self.session.add(row)


def field_version(row: SyncedRow, name: str) -> tuple[int, str | None]:
    """Return the change sequence number of the last write to field `name` and who wrote it."""
    entry = (row.field_versions or {}).get(name)
    if entry is None:
        return 0, None
    return int(entry[0]), entry[1]


# Synced tables whose rows belong to a customer, with the SQL that reads each unlogged
# row's id and its customer's owner and region.
_UNLOGGED_ROWS_SQL = {
    "customers": "SELECT c.id, c.owner_id, c.region_id FROM customers c WHERE c.version = 0 ORDER BY c.id",
    "contacts": "SELECT x.id, c.owner_id, c.region_id FROM contacts x JOIN customers c ON c.id = x.customer_id WHERE x.version = 0 ORDER BY x.id",
    "visits": "SELECT x.id, c.owner_id, c.region_id FROM visits x JOIN customers c ON c.id = x.customer_id WHERE x.version = 0 ORDER BY x.id",
    "followups": "SELECT x.id, c.owner_id, c.region_id FROM followups x JOIN customers c ON c.id = x.customer_id WHERE x.version = 0 ORDER BY x.id",
}


def log_bulk_inserted_rows(session: Session) -> int:
    """Give rows inserted in bulk (version 0, such as the demo data) a version and a change-log entry.

    Returns the number of rows logged. Runs in the caller's transaction.
    """
    from sqlalchemy import Uuid, bindparam, column, text

    session.flush()
    logged = 0
    now = datetime.now(timezone.utc)
    for entity, rows_sql in _UNLOGGED_ROWS_SQL.items():
        query = text(rows_sql).columns(column("id", Uuid()), column("owner_id", Uuid()), column("region_id", Uuid()))
        rows = session.connection().execute(query).all()
        if not rows:
            continue
        first_seq = allocate_sequence_numbers(session, len(rows))
        log_rows = [
            {"seq": first_seq + index, "entity": entity, "entity_id": row[0], "op": "put",
             "owner_id": row[1], "region_id": row[2], "store_id": None, "changed_at": now}
            for index, row in enumerate(rows)
        ]
        session.execute(insert(SyncChange), log_rows)
        session.connection().execute(
            text(f"UPDATE {entity} SET version = :version WHERE id = :row_id").bindparams(bindparam("row_id", type_=Uuid())),
            [{"version": entry["seq"], "row_id": entry["entity_id"]} for entry in log_rows],
        )
        logged += len(rows)
    return logged
