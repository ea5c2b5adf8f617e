"""Write computed scores: a snapshot per customer, the synced latest score, and its change-log entries.

This is the bulk equivalent of writing each LatestScore through a ChangeRecorder, which
a full recompute of 100,000 customers cannot afford (one ORM object, flush and version
stamp per row). It keeps the recorder's contract. Inside the writing transaction it takes
one change sequence number per changed row from the counter, which stays locked until
commit. It replaces the row's previous entry in the log and stamps the row's version with
its number.

Values are passed to the driver as it returns them (see `facts`), through
`exec_driver_sql`, so no per-value conversion runs in Python.
"""

import secrets
import time
import uuid
from datetime import datetime, timezone
from itertools import repeat
from operator import itemgetter

from sqlalchemy.engine import Connection
from sqlmodel import Session

from server.models import UtcDateTime
from server.sync.changes import allocate_sequence_numbers

# Name of the synced entity of LatestScore rows (core.wire.SYNCED_FIELDS).
ENTITY = "score_snapshots"


class _Driver:
    """Placeholders and value forms of the connection's database driver."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.placeholder = "?" if self.sqlite else "%s"
        self.json_placeholder = "?" if self.sqlite else "CAST(%s AS JSON)"
        self._timestamp = UtcDateTime().bind_processor(connection.dialect)
        self._last_timestamp: tuple = (None, None)

    def timestamp(self, value):
        """Convert a datetime to the form the driver stores. Raw values read from the database pass through."""
        if not isinstance(value, datetime) or self._timestamp is None:
            return value
        # Most values of a batch are the same moment (its computation time); convert it once.
        if value is not self._last_timestamp[0]:
            self._last_timestamp = (value, self._timestamp(value))
        return self._last_timestamp[1]

    def new_ids(self, count: int) -> list:
        """Return `count` new UUIDs in ascending order, so a batch appends to the indexes on id instead of scattering.

        Each id is time-ordered like a version 7 UUID: the current Unix time in milliseconds,
        then random bits, with the batch position in the low bits.
        """
        prefix = (int(time.time() * 1000) << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62)
        start = secrets.randbits(40) << 20
        if self.sqlite:
            return [f"{prefix | (start + k):032x}" for k in range(count)]
        return [uuid.UUID(int=prefix | (start + k)) for k in range(count)]

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self.connection.exec_driver_sql(sql, rows)


def _snapshot_upsert(driver: _Driver) -> str:
    p, j = driver.placeholder, driver.json_placeholder
    return (
        "INSERT INTO score_snapshots (customer_id, computed_at, model_version, score, band, previous_score, trend, "
        f"effective_weights, indicators, explanation) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {j}, {j}, {j}) "
        "ON CONFLICT (customer_id, computed_at) DO UPDATE SET model_version = excluded.model_version, score = excluded.score, "
        "band = excluded.band, previous_score = excluded.previous_score, trend = excluded.trend, "
        "effective_weights = excluded.effective_weights, indicators = excluded.indicators, explanation = excluded.explanation"
    )


def _latest_upsert(driver: _Driver) -> str:
    p = driver.placeholder
    # A concurrent recompute that computed later wins; a tombstone (deleted customer) stays deleted.
    return (
        "INSERT INTO latest_scores (id, customer_id, computed_at, model_version, score, band, previous_score, trend, band_since, "
        "fingerprint, version, deleted, field_versions, server_updated_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, false, '{{}}', {p}) "
        "ON CONFLICT (customer_id) DO UPDATE SET computed_at = excluded.computed_at, model_version = excluded.model_version, "
        "score = excluded.score, band = excluded.band, previous_score = excluded.previous_score, trend = excluded.trend, "
        "band_since = excluded.band_since, fingerprint = excluded.fingerprint, version = excluded.version, "
        "server_updated_at = excluded.server_updated_at "
        "WHERE latest_scores.deleted = false AND latest_scores.computed_at <= excluded.computed_at"
    )


def write_batch(session: Session, batch, start: int, stop: int) -> int:
    """Write customers start..stop of `batch` in the session's transaction; return how many latest rows were logged.

    The caller commits. A latest row that a later computation already replaced keeps its
    newer values. Its log entry is written anyway, so devices only fetch the row once more.
    """
    driver = _Driver(session.connection())
    computed_at = driver.timestamp(batch.computed_at)
    stored_now = driver.timestamp(datetime.now(timezone.utc))
    facts = batch.facts

    # Rows go in customer id order: the primary-key and unique indexes then fill in order instead of at random.
    order = sorted(range(start, stop), key=facts.customer_ids.__getitem__)
    customer_ids = _pick(facts.customer_ids, order)
    scores = _pick(batch.scores.tolist(), order)
    bands = _pick(batch.bands.tolist(), order)
    earlier = [None if score != score else score for score in _pick(batch.previous_scores.tolist(), order)]
    trends = [None if before is None else round(score - before, 2) for score, before in zip(scores, earlier)]
    snapshots = list(zip(
        customer_ids, repeat(computed_at), repeat(batch.model_version), scores, bands, earlier, trends,
        _pick(batch.effective_weights_json, order), _pick(batch.indicators_json, order), _pick(batch.explanation_json, order),
    ))
    driver.executemany(_snapshot_upsert(driver), snapshots)

    changed = batch.changed.tolist()
    rows = [k for k, i in enumerate(order) if changed[i]]
    if not rows:
        return 0
    positions = [order[k] for k in rows]
    known_ids = _pick(batch.latest_ids, positions)
    new_ids = iter(driver.new_ids(sum(1 for latest_id in known_ids if latest_id is None)))
    latest_ids = [latest_id if latest_id is not None else next(new_ids) for latest_id in known_ids]
    first_seq = allocate_sequence_numbers(session, len(rows))
    seqs = range(first_seq, first_seq + len(rows))

    p = driver.placeholder
    # The log keeps one put or delete per row: drop the entries of rows logged before.
    driver.executemany(f"DELETE FROM sync_changes WHERE entity_id = {p} AND op <> 'evict'", [(i,) for i in known_ids if i is not None])
    driver.executemany(_latest_upsert(driver), list(zip(
        latest_ids, _pick(customer_ids, rows), repeat(computed_at), repeat(batch.model_version), _pick(scores, rows),
        _pick(bands, rows), _pick(earlier, rows), _pick(trends, rows),
        [driver.timestamp(batch.band_since[i]) for i in positions], _pick(batch.fingerprints, positions), seqs, repeat(stored_now),
    )))
    driver.executemany(
        "INSERT INTO sync_changes (seq, entity, entity_id, op, owner_id, region_id, store_id, changed_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
        list(zip(
            seqs, repeat(ENTITY), latest_ids, repeat("put"), _pick(facts.owner_ids, positions), _pick(facts.region_ids, positions),
            repeat(None), repeat(stored_now),
        )),
    )
    return len(rows)


def _pick(values: list, positions: list[int]) -> list:
    """values[i] for each i of positions (itemgetter does the lookups in C)."""
    if len(positions) == 1:
        return [values[positions[0]]]
    return list(itemgetter(*positions)(values)) if positions else []
