"""The server's re-check of a check-in it receives through sync push.

The phone unlocks "arrived" with the geofence rule. The server runs the same rule
(core.geofence.decide) on the stored fix and adds checks that need other data: the rep's
other check-ins and the server clock. A check-in that fails any check is still stored:
the server writes one CheckinFlag for the visit, synced to the rep and to the lead of the
customer's region, and logs it. The visit's `geofence` column keeps the decision either way.

Which clock judges what:

- Fix age is captured_at (device time of the tap) minus checkin_fix_at (device time of
  the fix). Both are on the device clock, so the age is right even when that clock is
  wrong, and a check-in captured offline and pushed hours later is judged by the age of
  its fix at the tap, not at the push. The customer's own radius (or the
  GEOFENCE_RADIUS_M setting) and the customer's coordinate system apply, and the fix is
  converted from its own coordinate system to WGS-84 first.
- Device clock skew is measured only from the device's current time, which the client
  sends in the push request's HTTP Date header: skew = Date minus server receive time.
  It describes the clock at the tap only when the tap is recent on the device clock
  (|Date - captured_at| <= RECENT_TAP_S): between an offline tap and a later push the
  clock may have been corrected. A skew beyond MAX_CLOCK_SKEW_S is flagged. Without a
  Date header, or for an older tap, skew is not judged: server receive time minus
  captured_at mixes the offline delay with the skew and cannot tell them apart. A clock
  more than 5 minutes ahead never gets here, because validation rejects such timestamps.
- Travel speed compares this check-in with the rep's previous and next check-ins by
  captured_at (an offline phone may deliver an earlier check-in later). The distance is
  reduced by both fixes' accuracies, so jitter between neighbouring customers is not
  counted, and divided by the time between the two taps.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from geopy.distance import geodesic
from sqlmodel import Session, col, select

from core.geofence import Decision, Fix, GeofencePolicy, Place, decide, to_wgs84
from server.config import get_settings
from server.models import CheckinFlag, Customer, Visit
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)

# Door to door between two customers, a rep by car, or by high-speed train with the rides
# to and from the stations, averages well under 200 km/h, so a faster pair of check-ins
# means one fix is false. A long flight can beat it: that is why this is a flag for the
# lead to judge, never a rejection.
MAX_TRAVEL_SPEED_KMH = 200.0
# Ten minutes of device clock error is far beyond network-synchronised phones (seconds)
# and enough to misstate when a rep was at a customer.
MAX_CLOCK_SKEW_S = 600.0
# A tap pushed within 5 minutes on the device clock was pushed by the sync loop right
# after it, so the device clock at the push is the clock that timed the tap.
RECENT_TAP_S = 300.0
# Shortest time between two taps used for a speed: avoids dividing by zero.
_MIN_TRAVEL_S = 1.0

# Flag reasons besides core.geofence.Reason values.
IMPOSSIBLE_TRAVEL = "impossible_travel"
CLOCK_SKEW = "clock_skew"


@dataclass(frozen=True)
class PushClock:
    """When the server received a push, and the device's clock when it sent it (HTTP Date header)."""

    received_at: datetime
    device_time: datetime | None = None


@dataclass(frozen=True)
class Travel:
    """The move between this check-in and another of the same rep."""

    other_visit_id: str
    distance_m: float
    seconds: float
    speed_kmh: float


def recheck_checkin(session: Session, recorder: ChangeRecorder, visit: Visit, clock: PushClock) -> CheckinFlag | None:
    """Re-check a newly received check-in, store the geofence decision on the visit, and flag failures.

    Returns the flag written, or None when every check passed. The caller has validated
    that the visit carries a complete fix and captured_at.
    """
    customer = session.get(Customer, visit.customer_id)
    decision = geofence_decision(visit, customer)
    visit.geofence = decision.as_dict()
    reasons = [reason.value for reason in decision.reasons]
    details = {
        "distance_m": visit.geofence["distance_m"],
        "radius_m": decision.radius_m,
        "accuracy_m": decision.accuracy_m,
        "max_accuracy_m": decision.max_accuracy_m,
        "fix_age_s": visit.geofence["fix_age_s"],
        "mocked": bool(visit.checkin_mocked),
    }

    travel = fastest_travel(session, visit)
    details.update({
        "speed_kmh": None if travel is None else round(travel.speed_kmh, 1),
        "travel_distance_m": None if travel is None else round(travel.distance_m, 1),
        "travel_s": None if travel is None else round(travel.seconds, 1),
        "travel_visit_id": None if travel is None else travel.other_visit_id,
    })
    if travel is not None and travel.speed_kmh > MAX_TRAVEL_SPEED_KMH:
        reasons.append(IMPOSSIBLE_TRAVEL)

    skew = clock_skew_s(visit.captured_at, clock)
    details["clock_skew_s"] = None if skew is None else round(skew, 1)
    if skew is not None and abs(skew) > MAX_CLOCK_SKEW_S:
        reasons.append(CLOCK_SKEW)

    if not reasons:
        return None
    flag = CheckinFlag(
        visit_id=visit.id,
        customer_id=visit.customer_id,
        rep_id=visit.rep_id,
        region_id=customer.region_id if customer else None,
        reasons=reasons,
        details=details,
    )
    session.add(flag)
    recorder.put("checkin_flags", flag, changed_fields=set())
    log.info(
        "check-in flagged visit=%s customer=%s rep=%s region=%s reasons=%s",
        visit.id, visit.customer_id, visit.rep_id, flag.region_id, ",".join(reasons),
    )
    return flag


def geofence_decision(visit: Visit, customer: Customer | None) -> Decision:
    """Apply core.geofence.decide to the visit's fix, with the fix's age at the tap."""
    settings = get_settings()
    if customer is None:
        place = Place(None, None)
        radius = settings.geofence_radius_m
    else:
        place = Place(customer.latitude, customer.longitude, customer.coord_system.value)
        radius = customer.geofence_radius_m or settings.geofence_radius_m
    latitude, longitude = fix_wgs84(visit)
    fix = Fix(latitude, longitude, visit.checkin_accuracy_m, visit.checkin_fix_at, bool(visit.checkin_mocked))
    return decide(place, fix, now=visit.captured_at, policy=GeofencePolicy(radius_m=radius))


def fix_wgs84(visit: Visit) -> tuple[float, float]:
    """Return the visit's fix in WGS-84, converted from the coordinate system the device reported."""
    return to_wgs84(Place(visit.checkin_latitude, visit.checkin_longitude, visit.checkin_coord_system.value))


def fastest_travel(session: Session, visit: Visit) -> Travel | None:
    """Return the faster of the moves from the rep's previous check-in and to the next one, or None without either."""
    has_fix = (Visit.rep_id == visit.rep_id, Visit.id != visit.id, Visit.deleted == False,  # noqa: E712
               col(Visit.checkin_latitude).is_not(None), col(Visit.captured_at).is_not(None))
    previous = session.exec(
        select(Visit).where(*has_fix, col(Visit.captured_at) <= visit.captured_at).order_by(col(Visit.captured_at).desc()).limit(1)
    ).first()
    following = session.exec(
        select(Visit).where(*has_fix, col(Visit.captured_at) > visit.captured_at).order_by(col(Visit.captured_at)).limit(1)
    ).first()
    moves = [travel_between(visit, other) for other in (previous, following) if other is not None]
    return max(moves, key=lambda move: move.speed_kmh, default=None)


def travel_between(visit: Visit, other: Visit) -> Travel:
    distance = geodesic(fix_wgs84(visit), fix_wgs84(other)).meters
    # The minimum distance both fixes allow, because each position may be off by its accuracy.
    least_distance = max(0.0, distance - visit.checkin_accuracy_m - (other.checkin_accuracy_m or 0.0))
    seconds = abs((visit.captured_at - other.captured_at).total_seconds())
    speed_kmh = least_distance / max(seconds, _MIN_TRAVEL_S) * 3.6
    return Travel(other_visit_id=str(other.id), distance_m=distance, seconds=seconds, speed_kmh=speed_kmh)


def clock_skew_s(captured_at: datetime | None, clock: PushClock) -> float | None:
    """Return device clock minus server clock in seconds, or None when the push cannot tell the clock at the tap."""
    if clock.device_time is None or captured_at is None:
        return None
    since_tap = (clock.device_time - captured_at).total_seconds()
    if abs(since_tap) > RECENT_TAP_S:
        return None
    return (clock.device_time - clock.received_at).total_seconds()
