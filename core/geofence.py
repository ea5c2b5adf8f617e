"""The check-in geofence rule, used unchanged by the phone (to unlock "arrived") and the server (to re-check).

A fix passes when it is fresh, reports an accuracy good enough for the radius, is not
mocked, and lies within the radius of the customer's location. Customer locations may
be stored in WGS-84 (GPS), GCJ-02 (AMap, Tencent) or BD-09 (Baidu); they are converted
to WGS-84 before the geodesic distance (WGS-84 ellipsoid, via geopy) is computed, because
a GCJ-02 point is typically 100-700 m away from the WGS-84 point of the same place.
"""

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import prcoords
from geopy.distance import geodesic

DEFAULT_RADIUS_M = 500.0


class CoordSystem(str, enum.Enum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


class Reason(str, enum.Enum):
    """Reason a fix does not pass, shown by the client and stored by the server as a flag."""

    NO_FIX = "no_fix"
    INVALID_FIX_COORDINATES = "invalid_fix_coordinates"
    NULL_ISLAND = "null_island"  # 0,0: a default value, never a real position here
    ACCURACY_MISSING = "accuracy_missing"
    ACCURACY_TOO_POOR = "accuracy_too_poor"
    FIX_TOO_OLD = "fix_too_old"
    FIX_IN_FUTURE = "fix_in_future"
    MOCKED = "mocked"
    CUSTOMER_LOCATION_MISSING = "customer_location_missing"
    UNKNOWN_COORD_SYSTEM = "unknown_coord_system"
    TOO_FAR = "too_far"


@dataclass(frozen=True)
class GeofencePolicy:
    radius_m: float = DEFAULT_RADIUS_M
    # A fix older than this is stale: the rep may have left.
    max_fix_age_s: float = 120.0
    # A fix timestamped further ahead than this is from a wrong clock.
    max_future_skew_s: float = 30.0
    # The reported accuracy (radius of 68% confidence, in metres) may be at most this share of the radius.
    max_accuracy_fraction: float = 0.4

    @property
    def max_accuracy_m(self) -> float:
        return self.radius_m * self.max_accuracy_fraction


@dataclass(frozen=True)
class Fix:
    """A position reading from the device, in WGS-84."""

    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    timestamp: datetime | None
    mocked: bool = False


@dataclass(frozen=True)
class Place:
    """A customer's stored location and the coordinate system it was captured in."""

    latitude: float | None
    longitude: float | None
    coord_system: str = CoordSystem.WGS84.value


@dataclass
class Decision:
    """The outcome with what it rests on: distance, accuracy, fix age and the coordinate system converted from."""

    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    distance_m: float | None = None
    accuracy_m: float | None = None
    fix_age_s: float | None = None
    radius_m: float = DEFAULT_RADIUS_M
    max_accuracy_m: float = DEFAULT_RADIUS_M * 0.4
    coord_system: str | None = None
    customer_wgs84: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed,
            "reasons": [reason.value for reason in self.reasons],
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "accuracy_m": self.accuracy_m,
            "fix_age_s": None if self.fix_age_s is None else round(self.fix_age_s, 1),
            "radius_m": self.radius_m,
            "max_accuracy_m": self.max_accuracy_m,
            "coord_system": self.coord_system,
        }


def _valid_coordinates(latitude, longitude) -> bool:
    return (
        isinstance(latitude, int | float) and isinstance(longitude, int | float)
        and math.isfinite(latitude) and math.isfinite(longitude)
        and -90 <= latitude <= 90 and -180 <= longitude <= 180
    )


def to_wgs84(place: Place) -> tuple[float, float]:
    """Convert a stored location to WGS-84; raises ValueError for an unknown coordinate system."""
    try:
        system = CoordSystem(place.coord_system)
    except ValueError:
        raise ValueError(f"unknown coordinate system {place.coord_system!r}; expected wgs84, gcj02 or bd09") from None
    point = prcoords.Coords(place.latitude, place.longitude)
    # Outside mainland China GCJ-02 equals WGS-84; prcoords returns such points unchanged
    # (and would warn, so the check is made here).
    in_china = prcoords.sanity_in_china_p(point)
    if system == CoordSystem.GCJ02 and in_china:
        point = prcoords.gcj_wgs_bored(point, check_china=False)
    elif system == CoordSystem.BD09:
        point = prcoords.bd_wgs_bored(point, check_china=False) if in_china else prcoords.bd_gcj(point)
    return point.lat, point.lon


def decide(place: Place, fix: Fix | None, now: datetime | None = None, policy: GeofencePolicy = GeofencePolicy()) -> Decision:
    """Apply the geofence rule to one fix; every failed condition is listed, not only the first."""
    now = now or datetime.now(timezone.utc)
    decision = Decision(allowed=False, radius_m=policy.radius_m, max_accuracy_m=policy.max_accuracy_m, coord_system=place.coord_system)

    if fix is None or fix.latitude is None or fix.longitude is None:
        decision.reasons.append(Reason.NO_FIX)
        return decision
    if not _valid_coordinates(fix.latitude, fix.longitude):
        decision.reasons.append(Reason.INVALID_FIX_COORDINATES)
        return decision
    if fix.latitude == 0 and fix.longitude == 0:
        decision.reasons.append(Reason.NULL_ISLAND)
        return decision

    _check_fix_quality(decision, fix, now, policy)
    _check_distance(decision, place, fix, policy)
    decision.allowed = not decision.reasons
    return decision


def _check_fix_quality(decision: Decision, fix: Fix, now: datetime, policy: GeofencePolicy) -> None:
    if fix.mocked:
        decision.reasons.append(Reason.MOCKED)

    accuracy = fix.accuracy_m
    if accuracy is None or not isinstance(accuracy, int | float) or not math.isfinite(accuracy) or accuracy <= 0:
        decision.reasons.append(Reason.ACCURACY_MISSING)
    else:
        decision.accuracy_m = float(accuracy)
        if accuracy > policy.max_accuracy_m:
            decision.reasons.append(Reason.ACCURACY_TOO_POOR)

    if fix.timestamp is None:
        decision.reasons.append(Reason.FIX_TOO_OLD)
        return
    timestamp = fix.timestamp if fix.timestamp.tzinfo else fix.timestamp.replace(tzinfo=timezone.utc)
    decision.fix_age_s = (now - timestamp).total_seconds()
    if decision.fix_age_s > policy.max_fix_age_s:
        decision.reasons.append(Reason.FIX_TOO_OLD)
    elif decision.fix_age_s < -policy.max_future_skew_s:
        decision.reasons.append(Reason.FIX_IN_FUTURE)


def _check_distance(decision: Decision, place: Place, fix: Fix, policy: GeofencePolicy) -> None:
    if place.latitude is None or place.longitude is None or not _valid_coordinates(place.latitude, place.longitude) \
            or (place.latitude == 0 and place.longitude == 0):
        decision.reasons.append(Reason.CUSTOMER_LOCATION_MISSING)
        return
    try:
        customer = to_wgs84(place)
    except ValueError:
        decision.reasons.append(Reason.UNKNOWN_COORD_SYSTEM)
        return
    decision.customer_wgs84 = customer
    decision.distance_m = geodesic(customer, (fix.latitude, fix.longitude)).meters
    if decision.distance_m > policy.radius_m:
        decision.reasons.append(Reason.TOO_FAR)
