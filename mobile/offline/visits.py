"""Visits on the device: check-in, checklist answers and check-out as local writes, and the reads the visit screens need.

Every write goes through LocalStore, so it lands in the outbox and syncs when the server is
reachable. Check-in and check-out keep the device time of the tap (captured_at,
checked_out_at); the server keeps its own receive time apart. The functions block on
SQLite: screens call them through asyncio.to_thread.
"""

import json
import math
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone

from geopy.distance import geodesic

from core.geofence import Fix, Place, to_wgs84
from mobile.offline.store import LocalStore

DEFAULT_VISIT_TYPE = "routine"
OPEN, COMPLETED = "open", "completed"

# Metres per degree of latitude (mean); a degree of longitude is this times cos(latitude).
_METRES_PER_DEGREE = 111_320.0
# Largest distance between a stored point and its WGS-84 point, by coordinate system, with
# room to spare. GCJ-02 shifts points in mainland China by about 100-700 m. BD-09 adds about
# 0.0065 degrees of longitude and 0.006 of latitude (some 900 m) to GCJ-02. Stored
# coordinates are searched with the radius plus this margin, and the exact distance is then
# computed on converted coordinates.
_COORD_SYSTEM_MARGIN_M = {"wgs84": 1.0, "gcj02": 1000.0, "bd09": 2000.0}
_SEARCH_MARGIN_M = max(_COORD_SYSTEM_MARGIN_M.values())
_location_indexed: "weakref.WeakSet[LocalStore]" = weakref.WeakSet()


@dataclass(frozen=True)
class CustomerSite:
    """A customer's location as the geofence rule needs it."""

    id: str
    name: str
    place: Place
    # Metres; None means the app's default radius.
    radius_m: float | None


@dataclass(frozen=True)
class Template:
    id: str
    visit_type: str
    name: str
    items: list[dict]


@dataclass(frozen=True)
class VisitState:
    """Status, duration, check-in flag and sync state of one visit, for the visit list."""

    status: str
    duration_s: float | None
    flagged: bool
    pending: bool
    # The server's reason for rejecting the latest change of this visit from this device, if it did.
    rejection: str | None = None


@dataclass(frozen=True)
class NearbyCustomer:
    id: str
    name: str
    distance_m: float


@dataclass(frozen=True)
class FlagRow:
    """A flagged check-in with the names the lead's list shows."""

    id: str
    visit_id: str
    customer_id: str
    customer_name: str
    rep_id: str
    # The customer's owner when the owner made the check-in; None when another rep did.
    rep_name: str | None
    reasons: list[str]
    details: dict
    created_at: str | None
    captured_at: str | None


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def customer_site(store: LocalStore, customer_id: str) -> CustomerSite | None:
    row = store.get_row("customers", customer_id)
    if row is None:
        return None
    return CustomerSite(
        id=row["id"],
        name=row["name"] or "",
        place=Place(row["latitude"], row["longitude"], row["coord_system"] or "wgs84"),
        radius_m=row.get("geofence_radius_m"),
    )


def active_template(store: LocalStore, visit_type: str) -> Template | None:
    """Return the newest active checklist template of `visit_type`, as synced from the server."""
    rows = store.query(
        "SELECT * FROM checklist_templates WHERE visit_type = ? AND active ORDER BY revision DESC LIMIT 1", (visit_type,)
    )
    return _template(dict(rows[0])) if rows else None


def template_by_id(store: LocalStore, template_id: str | None) -> Template | None:
    row = store.get_row("checklist_templates", template_id) if template_id else None
    return _template(row) if row else None


def _template(row: dict) -> Template:
    items = row["items"]
    if isinstance(items, str):
        items = json.loads(items)
    return Template(id=row["id"], visit_type=row["visit_type"], name=row["name"] or "", items=list(items or []))


# ---- Writes ---------------------------------------------------------------------------------

def record_checkin(
    store: LocalStore,
    visit_id: str,
    customer_id: str,
    rep_id: str,
    visit_type: str,
    fix: Fix,
    captured_at: datetime,
    template_id: str | None,
) -> bool:
    """Write the check-in visit `visit_id` with its fix; return False if it was already written.

    The caller generates `visit_id` once per check-in screen, so repeated taps and retries
    write one visit.
    """
    if store.get_row("visits", visit_id) is not None:
        return False
    fields = {
        "customer_id": customer_id,
        "rep_id": rep_id,
        "visit_type": visit_type,
        "checkin_latitude": fix.latitude,
        "checkin_longitude": fix.longitude,
        "checkin_accuracy_m": fix.accuracy_m,
        "checkin_coord_system": "wgs84",
        "checkin_fix_at": iso(fix.timestamp),
        "checkin_mocked": bool(fix.mocked),
        "captured_at": iso(captured_at),
        # The server takes captured_at as checked_in_at too; set here so the visit lists in order at once.
        "checked_in_at": iso(captured_at),
        "status": OPEN,
    }
    if template_id is not None:
        fields["template_id"] = template_id
    store.put("visits", fields, entity_id=visit_id)
    return True


def answers_of(store: LocalStore, visit_id: str) -> dict[str, dict]:
    """Return the visit's answers by item id, each the answer row."""
    rows = store.query("SELECT * FROM checklist_answers WHERE visit_id = ?", (visit_id,))
    return {row["item_id"]: dict(row) for row in rows}


def save_answer(store: LocalStore, visit_id: str, customer_id: str, item_id: str, value=None, photo_id: str | None = None) -> None:
    """Write the answer to one item, replacing the visit's earlier answer to it; None and no photo removes it."""
    existing = store.query("SELECT id, value, photo_id FROM checklist_answers WHERE visit_id = ? AND item_id = ?", (visit_id, item_id))
    if value is None and photo_id is None:
        if existing:
            store.delete("checklist_answers", existing[0]["id"])
        return
    if existing:
        store.patch("checklist_answers", existing[0]["id"], {"value": value, "photo_id": photo_id})
    else:
        store.put("checklist_answers", {
            "visit_id": visit_id, "customer_id": customer_id, "item_id": item_id, "value": value, "photo_id": photo_id,
        })


def complete_visit(store: LocalStore, visit_id: str, checked_out_at: datetime) -> bool:
    """Check out: mark the visit completed at `checked_out_at`; return False if it already was."""
    row = store.get_row("visits", visit_id)
    if row is None:
        raise ValueError(f"visit {visit_id} is not on this device")
    if row["status"] == COMPLETED:
        return False
    store.patch("visits", visit_id, {"status": COMPLETED, "checked_out_at": iso(checked_out_at)})
    return True


# ---- Reads for the screens ------------------------------------------------------------------

def visit_states(store: LocalStore, customer_id: str) -> dict[str, VisitState]:
    """Return status, duration, flag and sync state of each of the customer's visits, by visit id."""
    rows = store.query(
        "SELECT v.id, v.status, v.duration_s, v.checked_in_at, v.checked_out_at,"
        " EXISTS (SELECT 1 FROM checkin_flags f WHERE f.visit_id = v.id) AS flagged,"
        " EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = v.id) AS pending,"
        " (SELECT r.reason FROM rejections r WHERE r.entity_id = v.id ORDER BY r.created_at DESC LIMIT 1) AS rejection"
        " FROM visits v WHERE v.customer_id = ?",
        (customer_id,),
    )
    states = {}
    for row in rows:
        duration = row["duration_s"]
        if duration is None:
            duration = _seconds_between(row["checked_in_at"], row["checked_out_at"])
        states[row["id"]] = VisitState(
            status=row["status"] or (COMPLETED if row["checked_out_at"] else OPEN),
            duration_s=duration,
            flagged=bool(row["flagged"]),
            pending=bool(row["pending"]),
            rejection=row["rejection"],
        )
    return states


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def region_flags(store: LocalStore, limit: int = 200) -> list[FlagRow]:
    """Return the flagged check-ins on this device, newest first, with customer and rep names."""
    rows = store.query(
        "SELECT f.*, c.name AS customer_name, c.owner_id, c.owner_name, v.captured_at"
        " FROM checkin_flags f"
        " LEFT JOIN customers c ON c.id = f.customer_id"
        " LEFT JOIN visits v ON v.id = f.visit_id"
        " ORDER BY f.created_at DESC, f.id DESC LIMIT ?",
        (limit,),
    )
    flags = []
    for row in rows:
        flags.append(FlagRow(
            id=row["id"],
            visit_id=row["visit_id"],
            customer_id=row["customer_id"],
            customer_name=row["customer_name"] or "",
            rep_id=row["rep_id"] or "",
            rep_name=row["owner_name"] if row["owner_id"] and row["owner_id"] == row["rep_id"] else None,
            reasons=_json_list(row["reasons"]),
            details=_json_dict(row["details"]),
            created_at=row["created_at"],
            captured_at=row["captured_at"],
        ))
    return flags


def _json_list(value) -> list:
    data = json.loads(value) if isinstance(value, str) else value
    return list(data) if isinstance(data, list) else []


def _json_dict(value) -> dict:
    data = json.loads(value) if isinstance(value, str) else value
    return dict(data) if isinstance(data, dict) else {}


def ensure_location_index(store: LocalStore) -> None:
    """Create the index the nearby search's bounding box uses, once per store."""
    if store in _location_indexed:
        return
    store.query("CREATE INDEX IF NOT EXISTS ix_customers_latitude_longitude ON customers(latitude, longitude)")
    _location_indexed.add(store)


def nearby_customers(store: LocalStore, latitude: float, longitude: float, radius_m: float = 500.0, limit: int = 5) -> list[NearbyCustomer]:
    """Return the customers within `radius_m` of a WGS-84 position, nearest first, at most `limit`.

    A bounding box on the indexed stored coordinates, widened by the coordinate systems'
    offsets, selects candidates. Each candidate's location is then converted to WGS-84 and
    its exact geodesic distance computed.
    """
    ensure_location_index(store)
    reach = radius_m + _SEARCH_MARGIN_M
    metres_per_degree_longitude = _METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01)
    dlat = reach / _METRES_PER_DEGREE
    dlon = reach / metres_per_degree_longitude
    rows = store.query(
        "SELECT id, name, latitude, longitude, coord_system FROM customers"
        " WHERE latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?",
        (latitude - dlat, latitude + dlat, longitude - dlon, longitude + dlon),
    )
    found = []
    for row in rows:
        # Equirectangular distance on the stored coordinates: cheap, and within a few metres at this range.
        rough_m = math.hypot((row["latitude"] - latitude) * _METRES_PER_DEGREE, (row["longitude"] - longitude) * metres_per_degree_longitude)
        if rough_m > radius_m + _COORD_SYSTEM_MARGIN_M.get(row["coord_system"] or "wgs84", _SEARCH_MARGIN_M):
            continue
        try:
            site = to_wgs84(Place(row["latitude"], row["longitude"], row["coord_system"] or "wgs84"))
        except ValueError:
            continue  # unknown coordinate system: the check-in screen explains it for that customer
        distance = geodesic(site, (latitude, longitude)).meters
        if distance <= radius_m:
            found.append(NearbyCustomer(row["id"], row["name"] or "", distance))
    found.sort(key=lambda customer: customer.distance_m)
    return found[:limit]


def new_visit_id() -> str:
    return str(uuid.uuid4())
