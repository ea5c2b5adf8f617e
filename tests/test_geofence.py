"""The geofence rule's boundaries: distance, accuracy, freshness, mocked fixes and coordinate systems."""

from datetime import datetime, timedelta, timezone

import prcoords
import pytest
from geopy.distance import geodesic

from core.geofence import Fix, GeofencePolicy, Place, Reason, decide

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
# A customer in Shenzhen's Nanshan district, as a GPS (WGS-84) reading.
CUSTOMER_WGS84 = (22.533287, 113.930413)


def _fix_at(metres: float, bearing: float = 45.0, accuracy: float | None = 20.0, age_s: float = 5.0, mocked: bool = False) -> Fix:
    point = geodesic(meters=metres).destination(CUSTOMER_WGS84, bearing)
    return Fix(point.latitude, point.longitude, accuracy, NOW - timedelta(seconds=age_s), mocked)


def _customer(coord_system: str = "wgs84", point=CUSTOMER_WGS84) -> Place:
    return Place(point[0], point[1], coord_system)


@pytest.mark.parametrize("metres, allowed", [(0, True), (499, True), (501, False), (2000, False)])
def test_distance_boundary(metres, allowed):
    decision = decide(_customer(), _fix_at(metres), NOW)

    assert decision.allowed is allowed
    assert decision.distance_m == pytest.approx(metres, abs=0.01)
    assert (Reason.TOO_FAR in decision.reasons) is (not allowed)


def test_radius_configurable_per_customer():
    wide = GeofencePolicy(radius_m=1000)

    assert decide(_customer(), _fix_at(800), NOW, wide).allowed
    assert not decide(_customer(), _fix_at(800), NOW).allowed


@pytest.mark.parametrize("accuracy, allowed", [(199.9, True), (200.0, True), (200.1, False)])
def test_accuracy_limit(accuracy, allowed):
    decision = decide(_customer(), _fix_at(100, accuracy=accuracy), NOW)

    assert decision.allowed is allowed
    assert (Reason.ACCURACY_TOO_POOR in decision.reasons) is (not allowed)
    assert decision.max_accuracy_m == 200.0


@pytest.mark.parametrize("accuracy", [None, 0, -5, float("nan")])
def test_missing_accuracy_fails(accuracy):
    decision = decide(_customer(), _fix_at(10, accuracy=accuracy), NOW)

    assert not decision.allowed
    assert Reason.ACCURACY_MISSING in decision.reasons


@pytest.mark.parametrize("age_s, allowed", [(119, True), (120, True), (121, False)])
def test_fix_freshness(age_s, allowed):
    decision = decide(_customer(), _fix_at(10, age_s=age_s), NOW)

    assert decision.allowed is allowed
    assert decision.fix_age_s == pytest.approx(age_s)
    assert (Reason.FIX_TOO_OLD in decision.reasons) is (not allowed)


@pytest.mark.parametrize("ahead_s, allowed", [(29, True), (31, False)])
def test_fix_from_future_clock(ahead_s, allowed):
    decision = decide(_customer(), _fix_at(10, age_s=-ahead_s), NOW)

    assert decision.allowed is allowed
    assert (Reason.FIX_IN_FUTURE in decision.reasons) is (not allowed)


def test_null_island_never_passes():
    decision = decide(Place(0.0, 0.0, "wgs84"), Fix(0.0, 0.0, 5.0, NOW), NOW)

    assert not decision.allowed
    assert decision.reasons == [Reason.NULL_ISLAND]


def test_customer_at_null_island_fails():
    decision = decide(Place(0.0, 0.0, "wgs84"), _fix_at(10), NOW)

    assert not decision.allowed
    assert Reason.CUSTOMER_LOCATION_MISSING in decision.reasons


def test_missing_fix_and_location():
    assert decide(_customer(), None, NOW).reasons == [Reason.NO_FIX]
    assert decide(_customer(), Fix(None, 113.9, 5.0, NOW), NOW).reasons == [Reason.NO_FIX]
    assert Reason.CUSTOMER_LOCATION_MISSING in decide(Place(None, None), _fix_at(10), NOW).reasons


def test_mocked_fix_never_accepted():
    decision = decide(_customer(), _fix_at(5, mocked=True), NOW)

    assert not decision.allowed
    assert decision.reasons == [Reason.MOCKED]
    assert decision.distance_m == pytest.approx(5, abs=0.01)


@pytest.mark.parametrize("latitude, longitude", [(91.0, 113.9), (22.5, 181.0), (float("nan"), 113.9), (22.5, float("inf"))])
def test_out_of_range_fix_rejected(latitude, longitude):
    decision = decide(_customer(), Fix(latitude, longitude, 5.0, NOW), NOW)

    assert not decision.allowed
    assert decision.reasons == [Reason.INVALID_FIX_COORDINATES]


def test_unknown_coordinate_system_named():
    decision = decide(_customer(coord_system="cgcs2000x"), _fix_at(10), NOW)

    assert not decision.allowed
    assert Reason.UNKNOWN_COORD_SYSTEM in decision.reasons


def test_gcj02_customer_same_place_passes():
    gcj = prcoords.wgs_gcj(prcoords.Coords(*CUSTOMER_WGS84))
    fix = _fix_at(0)

    decision = decide(_customer("gcj02", (gcj.lat, gcj.lon)), fix, NOW)

    assert decision.allowed
    assert decision.distance_m < 1.0
    assert decision.coord_system == "gcj02"


def test_gcj02_without_conversion_shows_offset():
    """Treating the GCJ-02 point as WGS-84 puts the same place hundreds of metres away."""
    gcj = prcoords.wgs_gcj(prcoords.Coords(*CUSTOMER_WGS84))

    decision = decide(_customer("wgs84", (gcj.lat, gcj.lon)), _fix_at(0), NOW)

    assert not decision.allowed
    assert Reason.TOO_FAR in decision.reasons
    assert 500 < decision.distance_m < 700


def test_bd09_customer_same_place_passes():
    bd = prcoords.wgs_bd(prcoords.Coords(*CUSTOMER_WGS84))

    decision = decide(_customer("bd09", (bd.lat, bd.lon)), _fix_at(0), NOW)

    assert decision.allowed
    assert decision.distance_m < 1.0


def test_all_failures_listed():
    decision = decide(_customer(), _fix_at(900, accuracy=400, age_s=600, mocked=True), NOW)

    assert set(decision.reasons) == {Reason.MOCKED, Reason.ACCURACY_TOO_POOR, Reason.FIX_TOO_OLD, Reason.TOO_FAR}
    assert decision.as_dict()["reasons"] == [reason.value for reason in decision.reasons]
