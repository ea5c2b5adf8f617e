"""The screens' data source on the device: customers and store members from the local store, so lists and details work offline."""

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from mobile.api import (
    PAGE_SIZE,
    ApiClient,
    ApiError,
    Contact,
    CustomerDetail,
    CustomerSummary,
    Member,
    NotFound,
    Page,
    Unauthorized,
    Visit,
    parse_timestamp,
)
from mobile.offline.store import LocalStore
from mobile.offline.store_members import store_members

# Recent visits shown on a customer's detail screen.
RECENT_VISITS = 20


@dataclass(frozen=True)
class Followup:
    id: uuid.UUID
    text: str
    captured_at: datetime | None
    pending: bool


@dataclass(frozen=True)
class Conflict:
    field: str
    won: str
    lost: str


@dataclass(frozen=True)
class CustomerActivity:
    followups: list[Followup]
    # Local changes to the customer or its rows not yet acknowledged by the server.
    pending_changes: int
    rejections: list[str]
    conflicts: list[Conflict]


def _unwrap(value) -> str:
    """Return the value a conflict recorded, stored as JSON {"value": ...}."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return str(value)
    inner = data.get("value") if isinstance(data, dict) else data
    return "" if inner is None else str(inner)


class LocalDirectory:
    """Implements mobile.api.Directory on a LocalStore."""

    def __init__(self, store: LocalStore, api: ApiClient) -> None:
        self.store = store
        self._api = api

    async def list_customers(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[CustomerSummary]:
        rows, total = await asyncio.to_thread(self.store.list_customers, query, limit, offset)
        return Page(items=[_summary(row) for row in rows], total=total, limit=limit, offset=offset)

    async def get_customer(self, customer_id: uuid.UUID) -> CustomerDetail:
        row = await asyncio.to_thread(self.store.get_row, "customers", str(customer_id))
        if row is None:
            raise NotFound(f"customer {customer_id} is not on this device", status_code=404)
        contacts = await asyncio.to_thread(self.store.children_of, "contacts", str(customer_id), "name")
        visits = await asyncio.to_thread(self.store.children_of, "visits", str(customer_id), "checked_in_at DESC")
        return CustomerDetail(
            summary=_summary(row),
            address=row["address"] or "",
            latitude=row["latitude"],
            longitude=row["longitude"],
            coord_system=row["coord_system"] or "wgs84",
            owner_name=row["owner_name"],
            region_name=row["region_name"],
            contacts=[
                Contact(uuid.UUID(c["id"]), c["name"] or "", c["title"] or "", c["decision_role"] or "other", c["phone"] or "")
                for c in contacts
            ],
            visits=[
                Visit(uuid.UUID(v["id"]), v["visit_type"] or "", parse_timestamp(v["checked_in_at"]), parse_timestamp(v["checked_out_at"]), v["summary"] or "")
                for v in visits[:RECENT_VISITS]
            ],
        )

    async def customer_activity(self, customer_id: uuid.UUID) -> "CustomerActivity":
        """Follow-ups of the customer and the sync state of its record on this device."""
        return await asyncio.to_thread(self._customer_activity, str(customer_id))

    def _customer_activity(self, customer_id: str) -> "CustomerActivity":
        store = self.store
        followups = store.children_of("followups", customer_id, "captured_at DESC")
        related_ids = [customer_id, *(row["id"] for row in followups)]
        related_ids += [row["id"] for row in store.children_of("contacts", customer_id, "name")]
        rejections = [r for entity_id in related_ids for r in store.rejections(entity_id)]
        conflicts = [c for entity_id in related_ids for c in store.conflicts(entity_id)]
        pending = sum(store.pending_for(entity_id) for entity_id in related_ids)
        return CustomerActivity(
            followups=[
                Followup(uuid.UUID(row["id"]), row["text"] or "", parse_timestamp(row["captured_at"]), store.pending_for(row["id"]) > 0)
                for row in followups
            ],
            pending_changes=pending,
            rejections=[row["reason"] for row in rejections],
            conflicts=[Conflict(row["field"], _unwrap(row["won_value"]), _unwrap(row["lost_value"])) for row in conflicts],
        )

    async def list_members(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[Member]:
        """Return a page of the store's members, which sync brings to the device with their phones masked."""
        summaries, total = await asyncio.to_thread(store_members(self.store).search, query, limit, offset)
        members = [
            Member(id=uuid.UUID(summary.id), store_id=uuid.UUID(summary.store_id) if summary.store_id else None, member_code=summary.member_code,
                   name=summary.name, phone_masked=summary.phone_masked, baby_birth_date=summary.baby_birth_date,
                   allergens=summary.allergens)
            for summary in summaries
        ]
        return Page(items=members, total=total, limit=limit, offset=offset)


def _summary(row: dict) -> CustomerSummary:
    return CustomerSummary(
        id=uuid.UUID(row["id"]),
        name=row["name"] or "",
        industry=row["industry"] or "",
        province=row["province"] or "",
        city=row["city"] or "",
        district=row["district"] or "",
        owner_id=uuid.UUID(row["owner_id"]) if row["owner_id"] else None,
        region_id=uuid.UUID(row["region_id"]) if row["region_id"] else None,
    )



# ---- Health scores, alerts and content packs of the battle map ---------------------------------

# Local-only tables: content packs fetched from the server, and ticked intervention checklist items.
# They are written with LocalStore.query (autocommit, no outbox entry) because nothing in them syncs.
_LOCAL_TABLES = (
    "CREATE TABLE IF NOT EXISTS content_cache (key TEXT PRIMARY KEY, body TEXT NOT NULL, fetched_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS intervention_ticks ("
    " customer_id TEXT NOT NULL, pack_key TEXT NOT NULL, item_key TEXT NOT NULL, ticked_at TEXT NOT NULL,"
    " PRIMARY KEY (customer_id, pack_key, item_key))",
    "CREATE INDEX IF NOT EXISTS ix_score_snapshots_customer ON score_snapshots(customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_alerts_created ON alerts(created_at)",
)

# Allowed alert state changes, as the server enforces them: new -> read -> done, new -> done.
ALERT_NEXT_STATES = {"new": ("read", "done"), "read": ("done",), "done": ()}


@dataclass(frozen=True)
class ScoredCustomer:
    """A customer row of the battle map: the customer and its latest health score, if any."""

    summary: CustomerSummary
    score: float | None
    # Band stored in the snapshot (None without a snapshot); core.bands.band_of_snapshot decides what is shown.
    band: str | None
    # Score change since the previous snapshot; None for a first snapshot.
    trend: float | None
    latitude: float | None
    longitude: float | None
    coord_system: str


@dataclass(frozen=True)
class IndicatorReason:
    name: str
    # 0..1, or None when unknown.
    value: float | None
    # Points of the 0..100 score.
    contribution: float
    effective_weight: float | None


@dataclass(frozen=True)
class ScoreReasons:
    """A customer's latest health score with the reasons for it ("why this score"), from the synced snapshot."""

    customer_id: uuid.UUID
    score: float
    band: str | None
    previous_score: float | None
    trend: float | None
    computed_at: datetime | None
    model_version: int | None
    # Ordered by contribution, largest first, with unknown indicators last.
    indicators: list[IndicatorReason]
    missing_policy: str
    unknown: list[str]
    boosted: list[str]


@dataclass(frozen=True)
class AlertItem:
    id: uuid.UUID
    kind: str
    state: str
    customer_id: uuid.UUID | None
    reason: str
    data: dict
    created_at: datetime | None
    read_at: datetime | None
    done_at: datetime | None
    # A state change made on this device and not yet acknowledged by the server.
    pending: bool


@dataclass(frozen=True)
class ContentPack:
    key: str
    kind: str
    title: str
    description: str
    items: list[dict]
    version: int
    # True when the server could not be reached and this is the copy stored on the device.
    from_cache: bool


def _json_object(value) -> dict:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _scored(row: dict) -> ScoredCustomer:
    return ScoredCustomer(
        summary=_summary(row),
        score=_optional_float(row["score"]),
        band=row["band"],
        trend=_optional_float(row["trend"]),
        latitude=_optional_float(row["latitude"]),
        longitude=_optional_float(row["longitude"]),
        coord_system=row["coord_system"] or "wgs84",
    )


def _reasons(row: dict) -> ScoreReasons:
    indicators = _json_object(row["indicators"])
    weights = _json_object(row["effective_weights"])
    explanation = _json_object(row["explanation"])
    reasons = [
        IndicatorReason(
            name=name,
            value=_optional_float((entry or {}).get("value")),
            contribution=float((entry or {}).get("contribution") or 0.0),
            effective_weight=_optional_float(weights.get(name)),
        )
        for name, entry in indicators.items()
    ]
    # Largest contribution first; unknown indicators last.
    reasons.sort(key=lambda reason: (reason.value is None, -reason.contribution, reason.name))
    return ScoreReasons(
        customer_id=uuid.UUID(row["customer_id"]),
        score=float(row["score"]),
        band=row["band"],
        previous_score=_optional_float(row["previous_score"]),
        trend=_optional_float(row["trend"]),
        computed_at=parse_timestamp(row["computed_at"]),
        model_version=row["model_version"],
        indicators=reasons,
        missing_policy=str(explanation.get("missing_policy") or ""),
        unknown=list(explanation.get("unknown") or []),
        boosted=list(explanation.get("boosted") or []),
    )


def _alert(row: dict, pending: bool) -> AlertItem:
    return AlertItem(
        id=uuid.UUID(row["id"]),
        kind=row["kind"] or "",
        state=row["state"] or "new",
        customer_id=uuid.UUID(row["customer_id"]) if row["customer_id"] else None,
        reason=row["reason"] or "",
        data=_json_object(row["data"]),
        created_at=parse_timestamp(row["created_at"]),
        read_at=parse_timestamp(row["read_at"]),
        done_at=parse_timestamp(row["done_at"]),
        pending=pending,
    )


class BattleMapData:
    """Data source of the battle map, score section, alert inbox and content screens.

    Scores and alerts come from the synced tables. Content packs are fetched from the
    server and kept on the device, so their screens work offline once opened online.
    """

    def __init__(self, store: LocalStore, api: ApiClient) -> None:
        self.store = store
        self._api = api
        for statement in _LOCAL_TABLES:
            store.query(statement)

    # Customers with their scores

    async def list_scored_customers(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[ScoredCustomer]:
        rows, total = await asyncio.to_thread(self._list_scored, query, limit, offset)
        return Page(items=[_scored(row) for row in rows], total=total, limit=limit, offset=offset)

    def _list_scored(self, search: str, limit: int, offset: int) -> tuple[list[dict], int]:
        # Same filter and order as LocalStore.list_customers, so both lists page alike.
        where, parameters = "", []
        if search.strip():
            pattern = f"%{search.strip()}%"
            where = "WHERE c.name LIKE ? OR c.city LIKE ? OR c.district LIKE ?"
            parameters = [pattern, pattern, pattern]
        total = self.store.query(f"SELECT COUNT(*) AS n FROM customers c {where}", parameters)[0]["n"]
        rows = self.store.query(
            "SELECT c.*, s.score AS score, s.band AS band, s.trend AS trend FROM customers c"
            f" LEFT JOIN score_snapshots s ON s.customer_id = c.id {where} ORDER BY c.name, c.id LIMIT ? OFFSET ?",
            [*parameters, limit, offset],
        )
        return [dict(row) for row in rows], total

    async def map_customers(self, limit: int) -> tuple[list[ScoredCustomer], int]:
        """Return up to `limit` customers with a location, lowest score first (unscored last), and how many have one."""
        return await asyncio.to_thread(self._map_customers, limit)

    def _map_customers(self, limit: int) -> tuple[list[ScoredCustomer], int]:
        located = "c.latitude IS NOT NULL AND c.longitude IS NOT NULL"
        total = self.store.query(f"SELECT COUNT(*) AS n FROM customers c WHERE {located}")[0]["n"]
        rows = self.store.query(
            "SELECT c.*, s.score AS score, s.band AS band, s.trend AS trend FROM customers c"
            f" LEFT JOIN score_snapshots s ON s.customer_id = c.id WHERE {located}"
            " ORDER BY s.score IS NULL, s.score, c.name LIMIT ?",
            (limit,),
        )
        return [_scored(dict(row)) for row in rows], total

    async def score_reasons(self, customer_id: uuid.UUID) -> ScoreReasons | None:
        return await asyncio.to_thread(self.score_reasons_now, customer_id)

    def score_reasons_now(self, customer_id: uuid.UUID) -> ScoreReasons | None:
        """Read the customer's snapshot on the calling thread (one indexed row, for a screen being built)."""
        rows = self.store.query("SELECT * FROM score_snapshots WHERE customer_id = ?", (str(customer_id),))
        return _reasons(dict(rows[0])) if rows else None

    # Alerts

    async def list_alerts(self, state: str | None = None, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[AlertItem]:
        """Return a page of the user's alerts, newest first, filtered by `state` and by `query` in the reason."""
        return await asyncio.to_thread(self._list_alerts, state, query, offset, limit)

    def _list_alerts(self, state: str | None, query: str, offset: int, limit: int) -> Page[AlertItem]:
        conditions, parameters = [], []
        if state:
            conditions.append("state = ?")
            parameters.append(state)
        if query.strip():
            conditions.append("reason LIKE ?")
            parameters.append(f"%{query.strip()}%")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        total = self.store.query(f"SELECT COUNT(*) AS n FROM alerts {where}", parameters)[0]["n"]
        rows = self.store.query(f"SELECT * FROM alerts {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?", [*parameters, limit, offset])
        items = [_alert(dict(row), self.store.pending_for(row["id"]) > 0) for row in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def unread_alert_count(self) -> int:
        rows = await asyncio.to_thread(self.store.query, "SELECT COUNT(*) AS n FROM alerts WHERE state = 'new'")
        return rows[0]["n"]

    async def get_alert(self, alert_id: uuid.UUID) -> AlertItem:
        row = await asyncio.to_thread(self.store.get_row, "alerts", str(alert_id))
        if row is None:
            raise NotFound(f"alert {alert_id} is not on this device", status_code=404)
        return _alert(row, await asyncio.to_thread(self.store.pending_for, str(alert_id)) > 0)

    async def set_alert_state(self, alert_id: uuid.UUID, state: str) -> bool:
        """Mark an alert read or done on the device; the sync loop sends the change. Return False if nothing changed.

        Raises ValueError for a change the server would reject (back to new, or out of done).
        """
        alert = await self.get_alert(alert_id)
        if state == alert.state:
            return False
        if state not in ALERT_NEXT_STATES.get(alert.state, ()):
            raise ValueError(f"alert {alert_id} is '{alert.state}' and cannot become '{state}'; allowed: new -> read -> done")
        now = datetime.now(timezone.utc).isoformat()
        fields = {"state": state}
        if alert.read_at is None:
            fields["read_at"] = now
        if state == "done":
            fields["done_at"] = now
        await asyncio.to_thread(self.store.patch, "alerts", str(alert_id), fields)
        return True

    # Content packs and intervention ticks

    async def cached_content_pack(self, key: str) -> ContentPack | None:
        """Return the copy of a content pack kept on the device, or None."""
        cached = await asyncio.to_thread(self.store.query, "SELECT body FROM content_cache WHERE key = ?", (key,))
        return _pack(json.loads(cached[0]["body"]), from_cache=True) if cached else None

    async def content_pack(self, key: str) -> ContentPack:
        """Fetch a content pack from the server and keep a copy; offline, return the copy.

        Raises the ApiError of the fetch when the device has no copy yet.
        """
        try:
            body = await self._api._request("GET", f"/api/content/{key}")
        except Unauthorized:
            raise
        except ApiError:
            cached = await self.cached_content_pack(key)
            if cached is None:
                raise
            return cached
        await asyncio.to_thread(
            self.store.query,
            "INSERT INTO content_cache (key, body, fetched_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
            (key, json.dumps(body, ensure_ascii=False), datetime.now(timezone.utc).isoformat()),
        )
        return _pack(body, from_cache=False)

    async def ticked_items(self, customer_id: uuid.UUID, pack_key: str) -> set[str]:
        rows = await asyncio.to_thread(
            self.store.query, "SELECT item_key FROM intervention_ticks WHERE customer_id = ? AND pack_key = ?", (str(customer_id), pack_key)
        )
        return {row["item_key"] for row in rows}

    async def set_ticked(self, customer_id: uuid.UUID, pack_key: str, item_key: str, ticked: bool) -> None:
        if ticked:
            statement = "INSERT OR IGNORE INTO intervention_ticks (customer_id, pack_key, item_key, ticked_at) VALUES (?, ?, ?, ?)"
            parameters: tuple = (str(customer_id), pack_key, item_key, datetime.now(timezone.utc).isoformat())
        else:
            statement = "DELETE FROM intervention_ticks WHERE customer_id = ? AND pack_key = ? AND item_key = ?"
            parameters = (str(customer_id), pack_key, item_key)
        await asyncio.to_thread(self.store.query, statement, parameters)


def _pack(body: dict, from_cache: bool) -> ContentPack:
    return ContentPack(
        key=body.get("key", ""),
        kind=body.get("kind", ""),
        title=body.get("title", ""),
        description=body.get("description", ""),
        items=[item for item in body.get("items", []) if isinstance(item, dict)],
        version=int(body.get("version") or 0),
        from_cache=from_cache,
    )
