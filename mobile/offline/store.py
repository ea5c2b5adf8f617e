"""The device's local SQLite database: synced rows, the outbox of local mutations, and sync state.

Every screen reads and writes here. A local write and its outbox entry commit in one
transaction. Applying a pulled page, advancing the cursor and dropping the outbox
entries the server acknowledged is also one transaction, so a crash at any point
resumes cleanly.
"""

import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.wire import ENTITIES, SYNCED_FIELDS

SCHEMA_VERSION = 1

# Local indexes for the screens' queries.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_customers_name ON customers(name)",
    "CREATE INDEX IF NOT EXISTS ix_contacts_customer ON contacts(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_visits_customer ON visits(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_followups_customer ON followups(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_rejections_entity ON rejections(entity_id)",
    "CREATE INDEX IF NOT EXISTS ix_conflicts_entity ON conflicts(entity_id)",
    "CREATE INDEX IF NOT EXISTS ix_outbox_entity ON outbox(entity_id)",
)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class LocalStore:
    """One user's local database. Safe to share between the UI and the sync thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: this class issues BEGIN/COMMIT itself.
        self._connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._listeners: list = []
        self._outbox_listeners: list = []
        self._create_schema()

    # ---- Plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one IMMEDIATE transaction; roll back on any exception."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")
        self._notify()

    def query(self, sql: str, parameters: Sequence | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def add_listener(self, callback) -> None:
        """Call `callback()` after every committed write, pulled data included (the UI refreshes)."""
        self._listeners.append(callback)

    def remove_listener(self, callback) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def add_outbox_listener(self, callback) -> None:
        """Call `callback()` after each local change queued for the server (the sync loop wakes).

        Writes of sync itself (pulled pages, acknowledgements, the last sync time) do not call
        it, so a finished sync never schedules the next one.
        """
        self._outbox_listeners.append(callback)

    def remove_outbox_listener(self, callback) -> None:
        if callback in self._outbox_listeners:
            self._outbox_listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    def _create_schema(self) -> None:
        with self._lock:
            connection = self._connection
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            widened = False
            for entity in ENTITIES:
                columns = ", ".join(f'"{name}"' for name in SYNCED_FIELDS[entity])
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {entity} (id TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0, {columns})"
                )
                widened |= self._add_missing_columns(connection, entity)
            connection.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " mutation_id INTEGER PRIMARY KEY, op TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL,"
                " fields TEXT NOT NULL, base_version INTEGER NOT NULL, captured_at TEXT NOT NULL)"
            )
            connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for statement in _INDEXES:
                connection.execute(statement)
            defaults = {
                "schema_version": str(SCHEMA_VERSION),
                "client_id": str(uuid.uuid4()),
                "cursor": "0",
                "next_mutation_id": "1",
                "server_acked_id": "0",
            }
            for key, value in defaults.items():
                connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            if widened:
                # Rows pulled before this app version lack the new fields: download
                # everything again on the next sync, keeping the outbox.
                for entity in ENTITIES:
                    connection.execute(f"DELETE FROM {entity}")
                self._set_meta(connection, "cursor", 0)
                self._set_meta(connection, "needs_rebase", 1)
            connection.execute("COMMIT")

    @staticmethod
    def _add_missing_columns(connection: sqlite3.Connection, entity: str) -> bool:
        """Add columns a newer app version syncs; return whether the table had rows missing them."""
        existing = {row["name"] for row in connection.execute(f"PRAGMA table_info({entity})")}
        missing = [name for name in SYNCED_FIELDS[entity] if name not in existing]
        for name in missing:
            connection.execute(f'ALTER TABLE {entity} ADD COLUMN "{name}"')
        return bool(missing) and connection.execute(f"SELECT 1 FROM {entity} LIMIT 1").fetchone() is not None

    # ---- Sync state -------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    @staticmethod
    def _set_meta(connection: sqlite3.Connection, key: str, value: Any) -> None:
        connection.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as connection:
            self._set_meta(connection, key, value)

    @property
    def client_id(self) -> str:
        return self.get_meta("client_id")

    @property
    def cursor(self) -> int:
        return int(self.get_meta("cursor", "0"))

    def pending_count(self) -> int:
        return self.query("SELECT COUNT(*) AS n FROM outbox")[0]["n"]

    def unsent_mutations(self, limit: int) -> list[dict[str, Any]]:
        """Outbox entries the server has not acknowledged yet, oldest first."""
        acked = int(self.get_meta("server_acked_id", "0"))
        rows = self.query(
            "SELECT * FROM outbox WHERE mutation_id > ? ORDER BY mutation_id LIMIT ?", (acked, limit)
        )
        return [
            {
                "id": row["mutation_id"], "op": row["op"], "entity": row["entity"], "entity_id": row["entity_id"],
                "fields": json.loads(row["fields"]), "base_version": row["base_version"], "captured_at": row["captured_at"],
            }
            for row in rows
        ]

    def record_push_ack(self, last_mutation_id: int) -> None:
        """Remember the server's last applied id so the next push starts after it.

        The entries stay in the outbox until a pull shows their effect (see apply_pull_page).
        """
        self.set_meta("server_acked_id", last_mutation_id)

    # ---- Local writes -----------------------------------------------------------------------

    def put(self, entity: str, fields: dict[str, Any], entity_id: str | None = None) -> str:
        """Create a row locally and queue its mutation; return the new row's id."""
        entity_id = entity_id or str(uuid.uuid4())
        self._write("put", entity, entity_id, fields)
        return entity_id

    def patch(self, entity: str, entity_id: str, fields: dict[str, Any]) -> None:
        self._write("patch", entity, entity_id, fields)

    def delete(self, entity: str, entity_id: str) -> None:
        self._write("delete", entity, entity_id, {})

    def _write(self, op: str, entity: str, entity_id: str, fields: dict[str, Any]) -> int:
        unknown = set(fields) - set(SYNCED_FIELDS[entity])
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))} for {entity}")
        # JSON has no NaN or infinity: such a value could never be pushed and would block the outbox.
        not_finite = sorted(name for name, value in fields.items() if isinstance(value, float) and not math.isfinite(value))
        if not_finite:
            raise ValueError(f"field(s) {', '.join(not_finite)} of {entity} must be finite numbers")
        with self.transaction() as connection:
            row = connection.execute(f"SELECT version FROM {entity} WHERE id = ?", (entity_id,)).fetchone()
            base_version = row["version"] if row else 0
            mutation_id = int(connection.execute("SELECT value FROM meta WHERE key = 'next_mutation_id'").fetchone()["value"])
            connection.execute(
                "INSERT INTO outbox (mutation_id, op, entity, entity_id, fields, base_version, captured_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mutation_id, op, entity, entity_id, json.dumps(fields, ensure_ascii=False), base_version, utc_now_iso()),
            )
            self._set_meta(connection, "next_mutation_id", mutation_id + 1)
            _apply_locally(connection, op, entity, entity_id, fields)
        for callback in list(self._outbox_listeners):
            callback()
        return mutation_id

    # ---- Applying pulled changes ------------------------------------------------------------

    def apply_pull_page(self, changes: list[dict[str, Any]], cursor: int, last_mutation_id: int | None, before_commit=None) -> None:
        """Apply one pulled page, advance the cursor and drop acknowledged outbox entries, atomically.

        Pending (unacknowledged) mutations on the rows the page touched are applied again on top
        of the server's version, so the user keeps seeing their own unsent edits.
        `before_commit`, if given, runs inside the transaction just before it commits.
        """
        with self.transaction() as connection:
            touched: set[tuple[str, str]] = set()
            # Consecutive changes of one entity and op are written with one executemany.
            batch: list[dict] = []
            for change in changes:
                if batch and (batch[0]["entity"], batch[0]["op"] == "put") != (change["entity"], change["op"] == "put"):
                    _write_batch(connection, batch)
                    batch = []
                batch.append(change)
                touched.add((change["entity"], change["id"]))
            if batch:
                _write_batch(connection, batch)

            if last_mutation_id is not None:
                connection.execute("DELETE FROM outbox WHERE mutation_id <= ?", (last_mutation_id,))
                acked = int(connection.execute("SELECT value FROM meta WHERE key = 'server_acked_id'").fetchone()["value"])
                self._set_meta(connection, "server_acked_id", max(acked, last_mutation_id))
            self._rebase(connection, touched)
            self._set_meta(connection, "cursor", cursor)
            if before_commit is not None:
                before_commit()

    @staticmethod
    def _rebase(connection: sqlite3.Connection, touched: set[tuple[str, str]]) -> None:
        if not touched:
            return
        pending = connection.execute("SELECT op, entity, entity_id, fields FROM outbox ORDER BY mutation_id").fetchall()
        for row in pending:
            if (row["entity"], row["entity_id"]) in touched:
                _apply_locally(connection, row["op"], row["entity"], row["entity_id"], json.loads(row["fields"]))

    def reset_for_resync(self) -> None:
        """Forget all pulled rows and the cursor, keeping the outbox, before downloading again."""
        with self.transaction() as connection:
            for entity in ENTITIES:
                connection.execute(f"DELETE FROM {entity}")
            self._set_meta(connection, "cursor", 0)
            self._set_meta(connection, "needs_rebase", 1)

    def rebase_all(self) -> None:
        """Apply every pending outbox entry on top of the local rows (after a full download)."""
        with self.transaction() as connection:
            pending = connection.execute("SELECT op, entity, entity_id, fields FROM outbox ORDER BY mutation_id").fetchall()
            for row in pending:
                _apply_locally(connection, row["op"], row["entity"], row["entity_id"], json.loads(row["fields"]))
            self._set_meta(connection, "needs_rebase", 0)

    # ---- Reads for the screens --------------------------------------------------------------

    def list_customers(self, search: str = "", limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        where, parameters = "", []
        if search.strip():
            pattern = f"%{search.strip()}%"
            where = "WHERE name LIKE ? OR city LIKE ? OR district LIKE ?"
            parameters = [pattern, pattern, pattern]
        total = self.query(f"SELECT COUNT(*) AS n FROM customers {where}", parameters)[0]["n"]
        rows = self.query(f"SELECT * FROM customers {where} ORDER BY name, id LIMIT ? OFFSET ?", [*parameters, limit, offset])
        return [dict(row) for row in rows], total

    def get_row(self, entity: str, entity_id: str) -> dict | None:
        rows = self.query(f"SELECT * FROM {entity} WHERE id = ?", (entity_id,))
        return dict(rows[0]) if rows else None

    def children_of(self, entity: str, customer_id: str, order_by: str) -> list[dict]:
        return [dict(row) for row in self.query(f"SELECT * FROM {entity} WHERE customer_id = ? ORDER BY {order_by}", (customer_id,))]

    def rejections(self, entity_id: str | None = None) -> list[dict]:
        if entity_id is None:
            rows = self.query("SELECT * FROM rejections ORDER BY created_at DESC")
        else:
            rows = self.query("SELECT * FROM rejections WHERE entity_id = ? ORDER BY created_at DESC", (entity_id,))
        return [dict(row) for row in rows]

    def conflicts(self, entity_id: str) -> list[dict]:
        return [dict(row) for row in self.query("SELECT * FROM conflicts WHERE entity_id = ? ORDER BY created_at DESC", (entity_id,))]

    def pending_for(self, entity_id: str) -> int:
        return self.query("SELECT COUNT(*) AS n FROM outbox WHERE entity_id = ?", (entity_id,))[0]["n"]


def _encode(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_batch(connection: sqlite3.Connection, changes: list[dict[str, Any]]) -> None:
    """Write consecutive pulled changes of one entity: upserts for puts, deletes otherwise."""
    entity = changes[0]["entity"]
    if changes[0]["op"] != "put":
        connection.executemany(f"DELETE FROM {entity} WHERE id = ?", [(change["id"],) for change in changes])
        return
    names = ["id", "version", *SYNCED_FIELDS[entity]]
    quoted = ", ".join(f'"{name}"' for name in names)
    placeholders = ", ".join("?" for _ in names)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in names[1:])
    connection.executemany(
        f"INSERT INTO {entity} ({quoted}) VALUES ({placeholders}) ON CONFLICT(id) DO UPDATE SET {updates}",
        [[_encode(change["row"].get(name)) for name in names] for change in changes],
    )


def _apply_locally(connection: sqlite3.Connection, op: str, entity: str, entity_id: str, fields: dict[str, Any]) -> None:
    """Apply a mutation's effect to the local rows (at write time, and again when rebasing)."""
    if op == "delete":
        connection.execute(f"DELETE FROM {entity} WHERE id = ?", (entity_id,))
        if entity == "customers":
            for child in ("contacts", "visits", "followups"):
                connection.execute(f"DELETE FROM {child} WHERE customer_id = ?", (entity_id,))
        return
    exists = connection.execute(f"SELECT 1 FROM {entity} WHERE id = ?", (entity_id,)).fetchone()
    if exists is None:
        if op == "patch":
            return  # The row is gone (deleted or out of scope); the server will reject the patch.
        names = ["id", *fields]
        connection.execute(
            f"INSERT INTO {entity} ({', '.join(chr(34) + n + chr(34) for n in names)}) VALUES ({', '.join('?' for _ in names)})",
            [entity_id, *(_encode(value) for value in fields.values())],
        )
    elif fields:
        assignments = ", ".join(f'"{name}" = ?' for name in fields)
        connection.execute(f"UPDATE {entity} SET {assignments} WHERE id = ?", [*(_encode(v) for v in fields.values()), entity_id])
