"""Geofenced check-in on the server: re-check flags, their audience, idempotent check-in, check-out, bad input.

Check-ins go through the real sync push of a real server (SQLite and PostgreSQL). Flags are
read from the API and from lead devices running the real client sync code.
"""

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import prcoords
import pytest
from geopy.distance import geodesic
from sqlmodel import Session, func, select

from server.models import CheckinFlag, Customer, SyncRejection, User, Visit
from tests.conftest import login
from tests.devices import Device, assert_device_matches_server, next_rep
from tests.servers import ApiServer
from tests.visits import (
    SITE_WGS84,
    Pusher,
    checkin_fields,
    flags_of,
    http_date,
    lead_of,
    new_customer,
    point_at,
    server_visit,
    tap_moment,
)


@pytest.fixture
def rep(api_server: ApiServer) -> User:
    return next_rep(api_server)


@pytest.fixture
def pusher(api_server: ApiServer, rep: User) -> Pusher:
    return Pusher(api_server, rep.username)


def _check_in(pusher: Pusher, customer_id: str, position, captured_at: datetime, date: str | None = None, **options) -> str:
    visit_id, result = pusher.put("visits", checkin_fields(customer_id, position, captured_at, **options), date=date)
    assert result["status"] == "applied", result
    return visit_id


def _reasons(server: ApiServer, visit_id: str) -> list[str] | None:
    flags = flags_of(server, visit_id)
    assert len(flags) <= 1
    return flags[0].reasons if flags else None


# ---- Geofence re-check -----------------------------------------------------------------------

@pytest.mark.parametrize("metres, flagged", [(499, False), (501, True)])
def test_distance_boundary(api_server, pusher, metres, flagged):
    customer_id = new_customer(pusher)
    tap = tap_moment()

    visit_id = _check_in(pusher, customer_id, point_at(metres), tap)

    visit = server_visit(api_server, visit_id)
    assert visit.geofence["distance_m"] == pytest.approx(metres, abs=0.2)
    assert visit.geofence["allowed"] is (not flagged)
    assert visit.checked_in_at == tap
    assert visit.captured_at == tap
    assert abs((visit.server_received_at - datetime.now(timezone.utc)).total_seconds()) < 60
    flags = flags_of(api_server, visit_id)
    if flagged:
        assert len(flags) == 1
        assert flags[0].reasons == ["too_far"]
        assert flags[0].details["distance_m"] == pytest.approx(501, abs=0.2)
        assert flags[0].details["radius_m"] == 500
        assert flags[0].details["clock_skew_s"] is None
    else:
        assert flags == []


@pytest.mark.parametrize("accuracy, flagged", [(200.0, False), (201.0, True)])
def test_accuracy_limit(api_server, pusher, accuracy, flagged):
    customer_id = new_customer(pusher)

    visit_id = _check_in(pusher, customer_id, point_at(100), tap_moment(), accuracy=accuracy)

    if flagged:
        assert _reasons(api_server, visit_id) == ["accuracy_too_poor"]
        details = flags_of(api_server, visit_id)[0].details
        assert details["accuracy_m"] == 201.0
        assert details["max_accuracy_m"] == 200.0
    else:
        assert _reasons(api_server, visit_id) is None


def test_customer_radius_applies(api_server, pusher):
    customer_id = new_customer(pusher)
    with Session(api_server.engine) as session:
        customer = session.get(Customer, uuid.UUID(customer_id))
        customer.geofence_radius_m = 1000.0
        session.add(customer)
        session.commit()

    visit_id = _check_in(pusher, customer_id, point_at(800), tap_moment())

    assert _reasons(api_server, visit_id) is None
    assert server_visit(api_server, visit_id).geofence["radius_m"] == 1000.0


@pytest.mark.parametrize("fix_age_s, flagged", [(120, False), (121, True)])
def test_stale_fix(api_server, pusher, fix_age_s, flagged):
    customer_id = new_customer(pusher)

    visit_id = _check_in(pusher, customer_id, point_at(10), tap_moment(), fix_age_s=fix_age_s)

    assert _reasons(api_server, visit_id) == (["fix_too_old"] if flagged else None)
    assert server_visit(api_server, visit_id).geofence["fix_age_s"] == pytest.approx(fix_age_s)


def test_offline_checkin_judged_at_tap(api_server, pusher):
    customer_id = new_customer(pusher)
    # Tapped hours ago with a fresh fix, pushed only now.
    tap = tap_moment()

    visit_id = _check_in(pusher, customer_id, point_at(10), tap, fix_age_s=3)

    assert _reasons(api_server, visit_id) is None
    assert server_visit(api_server, visit_id).geofence["fix_age_s"] == pytest.approx(3)


def test_mocked_fix_flagged(api_server, pusher):
    customer_id = new_customer(pusher)

    visit_id = _check_in(pusher, customer_id, point_at(10), tap_moment(), mocked=True)

    assert _reasons(api_server, visit_id) == ["mocked"]
    assert flags_of(api_server, visit_id)[0].details["mocked"] is True


def test_gcj02_customer_wgs84_fix_same_place(api_server, pusher):
    gcj = prcoords.wgs_gcj(prcoords.Coords(*SITE_WGS84))
    assert geodesic(SITE_WGS84, (gcj.lat, gcj.lon)).meters > 100  # the datums really differ here
    customer_id = new_customer(pusher, (gcj.lat, gcj.lon), coord_system="gcj02")

    visit_id = _check_in(pusher, customer_id, SITE_WGS84, tap_moment())

    assert _reasons(api_server, visit_id) is None
    assert server_visit(api_server, visit_id).geofence["distance_m"] < 1.0


def test_gcj02_fix_converted(api_server, pusher):
    customer_id = new_customer(pusher)
    gcj = prcoords.wgs_gcj(prcoords.Coords(*SITE_WGS84))

    visit_id = _check_in(pusher, customer_id, (gcj.lat, gcj.lon), tap_moment(), coord_system="gcj02")

    assert _reasons(api_server, visit_id) is None
    assert server_visit(api_server, visit_id).geofence["distance_m"] < 1.0


def test_visit_without_fix_not_rechecked(api_server, pusher):
    customer_id = new_customer(pusher)
    tap = tap_moment()

    visit_id, result = pusher.put("visits", {"customer_id": customer_id, "checked_in_at": tap.isoformat(), "summary": "补录拜访"})

    assert result["status"] == "applied"
    visit = server_visit(api_server, visit_id)
    assert visit.geofence is None
    assert visit.checked_in_at == tap
    assert flags_of(api_server, visit_id) == []


# ---- Travel speed and device clock -----------------------------------------------------------

def test_impossible_travel_flagged(api_server, pusher):
    near = new_customer(pusher)
    far_position = point_at(100_000, bearing=0)
    far = new_customer(pusher, far_position)
    tap = tap_moment()

    first = _check_in(pusher, near, SITE_WGS84, tap)
    second = _check_in(pusher, far, far_position, tap + timedelta(minutes=10))

    assert _reasons(api_server, first) is None
    assert _reasons(api_server, second) == ["impossible_travel"]
    details = flags_of(api_server, second)[0].details
    assert details["travel_visit_id"] == first
    assert details["travel_s"] == 600
    # 100 km less both 20 m accuracies in 10 minutes.
    assert details["speed_kmh"] == pytest.approx((100_000 - 40) / 600 * 3.6, abs=0.1)


def test_travel_checked_against_later_checkin(api_server, pusher):
    """A check-in pushed late is compared with the rep's next check-in too."""
    near = new_customer(pusher)
    far_position = point_at(100_000, bearing=0)
    far = new_customer(pusher, far_position)
    tap = tap_moment()

    later = _check_in(pusher, near, SITE_WGS84, tap)
    earlier = _check_in(pusher, far, far_position, tap - timedelta(minutes=20))
    plausible = _check_in(pusher, far, far_position, tap - timedelta(hours=3))

    assert _reasons(api_server, later) is None
    assert _reasons(api_server, earlier) == ["impossible_travel"]
    assert flags_of(api_server, earlier)[0].details["travel_visit_id"] == later
    assert _reasons(api_server, plausible) is None


def test_clock_skew_flagged_only_for_recent_tap(api_server, pusher):
    customer_id = new_customer(pusher)
    tap = tap_moment()
    now = datetime.now(timezone.utc).replace(microsecond=0)

    # The device clock reads `tap` (hours behind) and the push follows the tap at once.
    slow_clock = _check_in(pusher, customer_id, point_at(10), tap, date=http_date(tap + timedelta(seconds=5)))
    # Tapped offline an hour later by the device clock, pushed now by a clock that is right.
    offline = _check_in(pusher, customer_id, point_at(10), tap + timedelta(hours=1), date=http_date(now))
    # Right clock, pushed at once.
    online = _check_in(pusher, customer_id, point_at(10), now - timedelta(seconds=10), date=http_date(now))

    assert _reasons(api_server, slow_clock) == ["clock_skew"]
    skew = flags_of(api_server, slow_clock)[0].details["clock_skew_s"]
    assert skew == pytest.approx((tap + timedelta(seconds=5) - now).total_seconds(), abs=30)
    assert skew < -600
    assert _reasons(api_server, offline) is None
    assert _reasons(api_server, online) is None


# ---- Who receives a flag ---------------------------------------------------------------------

def _all_flags(http: httpx.Client, headers: dict) -> list[dict]:
    items, offset = [], 0
    while True:
        page = http.get("/api/checkins/flags", params={"limit": 200, "offset": offset}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        offset += body["limit"]
        if offset >= body["total"]:
            return items


def test_flag_visible_to_region_lead_api(api_server, client, rep, pusher):
    customer_id = new_customer(pusher)
    visit_id = _check_in(pusher, customer_id, point_at(2000), tap_moment())
    lead, other_lead = lead_of(api_server, rep), lead_of(api_server, rep, same_region=False)

    lead_flags = _all_flags(client, login(client, lead.username))
    other_flags = _all_flags(client, login(client, other_lead.username))
    admin_flags = _all_flags(client, login(client, "admin"))

    mine = [flag for flag in lead_flags if flag["visit_id"] == visit_id]
    assert len(mine) == 1
    assert mine[0]["reasons"] == ["too_far"]
    assert mine[0]["rep_name"] == rep.display_name
    assert mine[0]["customer_name"].startswith("签到测试客户")
    assert mine[0]["region_id"] == str(rep.region_id)
    assert mine[0]["details"]["distance_m"] == pytest.approx(2000, abs=0.2)
    assert lead_flags[0]["visit_id"] == visit_id  # newest first
    created = [flag["created_at"] for flag in lead_flags]
    assert created == sorted(created, reverse=True)
    assert {flag["region_id"] for flag in lead_flags} == {str(rep.region_id)}
    assert visit_id not in {flag["visit_id"] for flag in other_flags}
    assert visit_id in {flag["visit_id"] for flag in admin_flags}


@pytest.mark.parametrize("username", ["rep01", "clerk01", "manager01"])
def test_flags_api_forbidden_to_others(client, username):
    response = client.get("/api/checkins/flags", headers=login(client, username))

    assert response.status_code == 403
    assert "regional leads and admins" in response.json()["detail"]


def test_flag_synced_to_region_lead_devices(api_server, rep, pusher, tmp_path):
    customer_id = new_customer(pusher)
    visit_id = _check_in(pusher, customer_id, point_at(10), tap_moment(), mocked=True)
    flag_id = str(flags_of(api_server, visit_id)[0].id)
    lead, other_lead = lead_of(api_server, rep), lead_of(api_server, rep, same_region=False)
    lead_device, other_device, rep_device = (Device(api_server, user, tmp_path) for user in (lead, other_lead, rep))

    for device in (lead_device, other_device, rep_device):
        device.sync()

    synced = lead_device.rows("checkin_flags")[flag_id]
    assert synced["visit_id"] == visit_id
    assert "mocked" in synced["reasons"]
    assert flag_id in rep_device.rows("checkin_flags")
    assert flag_id not in other_device.rows("checkin_flags")
    assert visit_id in rep_device.rows("visits")
    for device in (lead_device, other_device, rep_device):
        assert_device_matches_server(device, entities=("visits", "checkin_flags"))


# ---- One check-in per tap --------------------------------------------------------------------

def _count(server: ApiServer, model, *conditions) -> int:
    with Session(server.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def test_repeated_checkin_is_idempotent(api_server, rep, pusher):
    customer_id = new_customer(pusher)
    visit_id = str(uuid.uuid4())
    fields = checkin_fields(customer_id, point_at(900), tap_moment())

    twice = pusher.push(("put", "visits", visit_id, fields), ("put", "visits", visit_id, fields))
    version = server_visit(api_server, visit_id).version
    pusher.next_id -= 2
    replayed = pusher.push(("put", "visits", visit_id, fields), ("put", "visits", visit_id, fields))
    other_device = Pusher(api_server, rep.username).push(("put", "visits", visit_id, fields))
    version_after_replays = server_visit(api_server, visit_id).version
    moved = dict(fields, checkin_latitude=fields["checkin_latitude"] + 0.01)
    changed = pusher.push(("put", "visits", visit_id, moved))

    assert [r["status"] for r in twice] == ["applied", "applied"]
    assert [r["status"] for r in replayed] == ["duplicate", "duplicate"]
    assert other_device[0]["status"] == "applied"
    assert changed[0]["status"] == "rejected"
    assert "checkin_latitude" in changed[0]["reason"]
    assert "cannot change" in changed[0]["reason"]
    assert _count(api_server, Visit, Visit.id == uuid.UUID(visit_id)) == 1
    assert _count(api_server, CheckinFlag, CheckinFlag.visit_id == uuid.UUID(visit_id)) == 1
    assert version_after_replays == version
    assert server_visit(api_server, visit_id).checkin_latitude == pytest.approx(fields["checkin_latitude"])


# ---- Check-out -------------------------------------------------------------------------------

def test_checkout_computes_duration(api_server, pusher):
    customer_id = new_customer(pusher)
    tap = tap_moment()
    # Demo visits have no checklist template, so completing needs no answers.
    visit_id = _check_in(pusher, customer_id, point_at(10), tap, visit_type="demo")
    checked_out = (tap + timedelta(minutes=45, seconds=30)).isoformat()

    (result,) = pusher.push(("patch", "visits", visit_id, {"status": "completed", "checked_out_at": checked_out}))
    (reopen,) = pusher.push(("patch", "visits", visit_id, {"status": "open"}))

    assert result["status"] == "applied", result
    visit = server_visit(api_server, visit_id)
    assert visit.status.value == "completed"
    assert visit.duration_s == 45 * 60 + 30
    assert visit.template_id is None
    assert reopen["status"] == "rejected"
    assert "cannot be reopened" in reopen["reason"]


def test_checkout_inputs_checked(api_server, pusher):
    customer_id = new_customer(pusher)
    tap = tap_moment()
    visit_id = _check_in(pusher, customer_id, point_at(10), tap, visit_type="demo")

    before, no_time = pusher.push(
        ("patch", "visits", visit_id, {"status": "completed", "checked_out_at": (tap - timedelta(minutes=1)).isoformat()}),
        ("patch", "visits", visit_id, {"status": "completed"}),
    )

    assert before["status"] == "rejected"
    assert "before the check-in" in before["reason"]
    assert no_time["status"] == "rejected"
    assert "checked_out_at" in no_time["reason"]
    assert server_visit(api_server, visit_id).status.value == "open"


# ---- Invalid check-ins -----------------------------------------------------------------------

def test_bad_checkins_rejected_others_apply(api_server, rep, pusher, tmp_path):
    customer_id = new_customer(pusher)
    tap = tap_moment()
    future = datetime.now(timezone.utc) + timedelta(minutes=10)

    def bad(**changes):
        fields = checkin_fields(customer_id, point_at(10), tap, visit_type="demo")
        fields.update(changes)
        return {name: value for name, value in fields.items() if value is not ...}

    cases = [
        ("good", bad()),
        ("latitude", bad(checkin_latitude=91.0)),
        ("nan", bad(checkin_longitude=float("nan"))),
        ("accuracy", bad(checkin_accuracy_m=...)),
        ("future", bad(captured_at=future.isoformat())),
        ("datum", bad(checkin_coord_system="mars")),
        ("offset", bad(checkin_fix_at="2026-12-04T09:30:00")),
        ("good2", bad()),
    ]
    ids = {name: str(uuid.uuid4()) for name, _ in cases}

    results = dict(zip(ids, pusher.push(*(("put", "visits", ids[name], fields) for name, fields in cases))))

    assert {name: r["status"] for name, r in results.items()} == {
        "good": "applied", "latitude": "rejected", "nan": "rejected", "accuracy": "rejected",
        "future": "rejected", "datum": "rejected", "offset": "rejected", "good2": "applied",
    }
    assert "checkin_latitude" in results["latitude"]["reason"]
    assert "91" in results["latitude"]["reason"]
    assert "checkin_longitude" in results["nan"]["reason"]
    assert "finite" in results["nan"]["reason"]
    assert "missing checkin_accuracy_m" in results["accuracy"]["reason"]
    assert "ahead of the server clock" in results["future"]["reason"]
    assert future.isoformat()[:19] in results["future"]["reason"]
    assert "checkin_coord_system" in results["datum"]["reason"]
    assert "mars" in results["datum"]["reason"]
    assert "no UTC offset" in results["offset"]["reason"]
    for name in ("latitude", "nan", "accuracy", "future", "datum", "offset"):
        assert server_visit(api_server, ids[name]) is None
        assert _count(api_server, SyncRejection, SyncRejection.entity_id == ids[name]) == 1
    assert server_visit(api_server, ids["good2"]) is not None

    device = Device(api_server, rep, tmp_path)
    device.sync()
    assert "ahead of the server clock" in device.store.rejections(ids["future"])[0]["reason"]
    assert ids["good"] in device.rows("visits")
