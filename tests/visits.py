"""Helpers for the check-in, checklist and photo tests: raw sync pushes, customers at chosen places, check-in fields."""

import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
from geopy.distance import geodesic
from sqlmodel import Session, select

from server.models import CheckinFlag, Role, User, Visit
from tests.devices import sign_in
from tests.servers import ApiServer

# A customer site in Shenzhen's Nanshan district, as a GPS (WGS-84) reading.
SITE_WGS84 = (22.533287, 113.930413)

# Each test taps at its own moment, 6 hours apart, so check-ins of different tests by a
# reused demo rep never look like travel between them.
_moments = itertools.count(1)


def tap_moment() -> datetime:
    """Return a tap time no other test in this process uses (hours in the past)."""
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=6 * next(_moments))


def point_at(metres: float, bearing: float = 45.0, origin: tuple[float, float] = SITE_WGS84) -> tuple[float, float]:
    """Return the WGS-84 point `metres` away from `origin` on `bearing` (degrees), on the ellipsoid."""
    point = geodesic(meters=metres).destination(origin, bearing)
    return point.latitude, point.longitude


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


class Pusher:
    """One client installation of one user, pushing mutations with consecutive ids over raw HTTP."""

    def __init__(self, server: ApiServer, username: str) -> None:
        self.base_url = server.base_url
        self.headers = {"Authorization": f"Bearer {sign_in(server.base_url, username)}"}
        self.client_id = str(uuid.uuid4())
        self.next_id = 1

    def push(self, *mutations: tuple[str, str, str, dict], date: str | None = None) -> list[dict]:
        """Push (op, entity, entity_id, fields) mutations; return their results."""
        body = {"client_id": self.client_id, "mutations": []}
        for op, entity, entity_id, fields in mutations:
            body["mutations"].append({"id": self.next_id, "op": op, "entity": entity, "entity_id": entity_id, "fields": fields})
            self.next_id += 1
        headers = {**self.headers, "Content-Type": "application/json"}
        if date is not None:
            headers["Date"] = date
        # json.dumps writes NaN, which httpx's own encoder refuses: tests send it on purpose.
        response = httpx.post(f"{self.base_url}/api/sync/push", content=json.dumps(body, allow_nan=True), headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def put(self, entity: str, fields: dict, entity_id: str | None = None, date: str | None = None) -> tuple[str, dict]:
        """Push one put; return the row id and the mutation's result."""
        entity_id = entity_id or str(uuid.uuid4())
        (result,) = self.push(("put", entity, entity_id, fields), date=date)
        return entity_id, result


def new_customer(pusher: Pusher, position: tuple[float, float] = SITE_WGS84, coord_system: str = "wgs84") -> str:
    customer_id, result = pusher.put("customers", {
        "name": f"签到测试客户{uuid.uuid4().hex[:8]}", "latitude": position[0], "longitude": position[1], "coord_system": coord_system,
    })
    assert result["status"] == "applied", result
    return customer_id


def checkin_fields(
    customer_id: str,
    position: tuple[float, float],
    captured_at: datetime,
    accuracy: float | None = 20.0,
    fix_age_s: float = 5.0,
    mocked: bool = False,
    coord_system: str = "wgs84",
    visit_type: str = "routine",
) -> dict:
    """The fields of a check-in put: the fix taken `fix_age_s` before the tap at `captured_at`."""
    fields = {
        "customer_id": customer_id,
        "visit_type": visit_type,
        "checkin_latitude": position[0],
        "checkin_longitude": position[1],
        "checkin_accuracy_m": accuracy,
        "checkin_coord_system": coord_system,
        "checkin_fix_at": (captured_at - timedelta(seconds=fix_age_s)).isoformat(),
        "checkin_mocked": mocked,
        "captured_at": captured_at.isoformat(),
    }
    if accuracy is None:
        del fields["checkin_accuracy_m"]
    return fields


def server_visit(server: ApiServer, visit_id: str) -> Visit | None:
    with Session(server.engine) as session:
        return session.get(Visit, uuid.UUID(visit_id))


def flags_of(server: ApiServer, visit_id: str) -> list[CheckinFlag]:
    with Session(server.engine) as session:
        return list(session.exec(select(CheckinFlag).where(CheckinFlag.visit_id == uuid.UUID(visit_id))).all())


def lead_of(server: ApiServer, user: User, same_region: bool = True) -> User:
    """The regional lead of `user`'s region, or of another sales region."""
    with Session(server.engine) as session:
        leads = session.exec(select(User).where(User.role == Role.REGIONAL_LEAD).order_by(User.username)).all()
    return next(lead for lead in leads if (lead.region_id == user.region_id) is same_region)
