"""The screens' data source on the device: customers from the local store, so lists and details work offline.

Store members are not synced to the device yet; they are still read from the server.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from mobile.api import (
    PAGE_SIZE,
    ApiClient,
    Contact,
    CustomerDetail,
    CustomerSummary,
    Member,
    NotFound,
    Page,
    Visit,
    parse_timestamp,
)
from mobile.offline.store import LocalStore

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
        return await self._api.list_members(query=query, offset=offset, limit=limit)


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

