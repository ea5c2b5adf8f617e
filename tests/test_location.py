"""Location readings for check-in: permission and error states, Geolocator positions, the simulated source, settings.

The real Geolocator runs in the browser test (tests/e2e/test_visit_checkin.py); here the
mapping from its values is tested on real flet-geolocator value objects.
"""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import flet_geolocator as fg
import pytest

from core.geofence import GeofencePolicy, Place, Reason, decide
from mobile.config import ConfigError, load_config
from mobile.location import LocationState
from mobile.location.geolocator import fix_from_position, state_for_error, state_for_permission
from mobile.location.simulated import SimulatedSource
from tests.servers import run_coroutine

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE = (22.533287, 113.930413)


# ---- Permission status and platform errors --------------------------------------------------

@pytest.mark.parametrize("status, expected", [
    (fg.GeolocatorPermissionStatus.DENIED, LocationState.PERMISSION_DENIED),
    (fg.GeolocatorPermissionStatus.DENIED_FOREVER, LocationState.PERMISSION_DENIED_FOREVER),
    (fg.GeolocatorPermissionStatus.WHILE_IN_USE, None),
    (fg.GeolocatorPermissionStatus.ALWAYS, None),
    (fg.GeolocatorPermissionStatus.UNABLE_TO_DETERMINE, None),
])
def test_permission_status_mapping(status, expected):
    assert state_for_permission(status.value) is expected


@pytest.mark.parametrize("message, expected", [
    ("User denied permissions to access the device's location.", LocationState.PERMISSION_DENIED),
    ("The location service on the device is disabled.", LocationState.SERVICES_OFF),
    ("TimeoutException after 0:00:20.000000: Future not completed", LocationState.TIMEOUT),
    ("Position update is unavailable", LocationState.NO_FIX),
])
def test_error_message_mapping(message, expected):
    assert state_for_error(message) is expected


# ---- Geolocator positions -------------------------------------------------------------------

def test_position_becomes_fix():
    taken = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
    position = fg.GeolocatorPosition(latitude=SITE[0], longitude=SITE[1], accuracy=12.5, timestamp=taken, mocked=False)

    fix = fix_from_position(position)

    assert (fix.latitude, fix.longitude) == SITE
    assert fix.accuracy_m == 12.5
    assert fix.timestamp == taken
    assert fix.mocked is False


def test_position_zero_accuracy_is_missing():
    position = fg.GeolocatorPosition(latitude=SITE[0], longitude=SITE[1], accuracy=0.0, timestamp=datetime.now(timezone.utc))

    fix = fix_from_position(position)

    assert fix.accuracy_m is None
    decision = decide(Place(*SITE), fix)
    assert Reason.ACCURACY_MISSING in decision.reasons


def test_position_naive_timestamp_is_utc():
    position = fg.GeolocatorPosition(latitude=SITE[0], longitude=SITE[1], accuracy=5, timestamp=datetime(2026, 12, 4, 1, 0))

    assert fix_from_position(position).timestamp == datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)


def test_position_millisecond_timestamp():
    position = fg.GeolocatorPosition(latitude=SITE[0], longitude=SITE[1], accuracy=5, timestamp=1_764_000_000_000)

    assert fix_from_position(position).timestamp == datetime.fromtimestamp(1_764_000_000, tz=timezone.utc)


def test_position_mocked_flag_kept():
    position = fg.GeolocatorPosition(latitude=SITE[0], longitude=SITE[1], accuracy=5, timestamp=datetime.now(timezone.utc), mocked=True)

    fix = fix_from_position(position)

    assert fix.mocked is True
    assert decide(Place(*SITE), fix).reasons == [Reason.MOCKED]


# ---- Simulated source -----------------------------------------------------------------------

def _read(source: SimulatedSource):
    return run_coroutine(lambda: source.read())


def test_simulated_cycles_fixes():
    moment = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
    source = SimulatedSource([(22.5, 113.9, 15.0), (22.6, 114.0, 30.0)], clock=lambda: moment)

    readings = [_read(source) for _ in range(3)]

    assert [reading.state for reading in readings] == [LocationState.FIX] * 3
    assert [(r.fix.latitude, r.fix.longitude, r.fix.accuracy_m) for r in readings] == [
        (22.5, 113.9, 15.0), (22.6, 114.0, 30.0), (22.5, 113.9, 15.0),
    ]
    assert all(reading.fix.timestamp == moment for reading in readings)
    assert source.reads == 3


def test_simulated_fix_passes_rule():
    source = SimulatedSource([(SITE[0], SITE[1], 15.0)])

    reading = _read(source)

    assert reading.has_fix
    assert decide(Place(*SITE), reading.fix).allowed


def test_simulated_without_fixes_has_none():
    reading = _read(SimulatedSource([]))

    assert reading.state == LocationState.NO_FIX
    assert reading.fix is None
    assert not reading.has_fix


@pytest.mark.parametrize("state", [
    LocationState.PERMISSION_DENIED_FOREVER, LocationState.SERVICES_OFF, LocationState.NO_FIX, LocationState.TIMEOUT,
])
def test_simulated_failure_states(state):
    source = SimulatedSource([SITE + (10.0,)], state=state)

    reading = _read(source)

    assert reading.state == state
    assert reading.fix is None


def test_simulated_permission_granted_on_request():
    source = SimulatedSource([SITE + (10.0,)], state=LocationState.PERMISSION_DENIED)
    assert _read(source).state == LocationState.PERMISSION_DENIED

    denial = run_coroutine(lambda: source.request_permission())

    assert denial is None
    assert _read(source).has_fix


def test_simulated_denied_forever_stays_denied():
    source = SimulatedSource([SITE + (10.0,)], state=LocationState.PERMISSION_DENIED_FOREVER)

    assert run_coroutine(lambda: source.request_permission()) == LocationState.PERMISSION_DENIED_FOREVER
    assert run_coroutine(lambda: source.open_settings(LocationState.PERMISSION_DENIED_FOREVER)) is False


def test_simulated_mocked_fix_locked():
    source = SimulatedSource([SITE + (10.0,)], mocked=True)

    decision = decide(Place(*SITE), _read(source).fix, policy=GeofencePolicy())

    assert not decision.allowed
    assert decision.reasons == [Reason.MOCKED]


# ---- [geofence] settings --------------------------------------------------------------------

def _settings(tmp_path: Path, geofence_lines: str) -> Path:
    """Write a copy of flet.toml whose [geofence] table is `geofence_lines`."""
    text = (REPO_ROOT / "flet.toml").read_text(encoding="utf-8")
    start = text.index("[geofence]")
    end = text.index("\n[", start + 1)
    path = tmp_path / "flet.toml"
    path.write_text(text[:start] + "[geofence]\n" + geofence_lines + text[end:], encoding="utf-8")
    return path


def test_settings_defaults(tmp_path):
    config = load_config(_settings(tmp_path, "default_radius_m = 500\n"), environ={})

    assert config.geofence.location_source == "device"
    assert config.geofence.refresh_interval_s == 15
    assert config.geofence.simulated_fixes == ()


def test_settings_simulated(tmp_path):
    lines = 'default_radius_m = 300\nlocation_source = "simulated"\nsimulated_fixes = [[22.5, 113.9, 12]]\nsimulated_state = "services_off"\n'

    config = load_config(_settings(tmp_path, lines), environ={})

    assert config.geofence.default_radius_m == 300
    assert config.geofence.simulated_fixes == ((22.5, 113.9, 12.0),)
    assert SimulatedSource.from_config(config.geofence).state == LocationState.SERVICES_OFF


@pytest.mark.parametrize("line, named", [
    ('location_source = "gps"', "location_source"),
    ('simulated_state = "lost"', "simulated_state"),
    ("simulated_fixes = [[95.0, 113.9, 10]]", "simulated_fixes"),
    ("simulated_fixes = [[22.5, 113.9]]", "simulated_fixes"),
    ("simulated_fixes = [[22.5, 113.9, 0]]", "simulated_fixes"),
    ("refresh_interval_s = 0", "refresh_interval_s"),
    ('simulated_mocked = "yes"', "simulated_mocked"),
])
def test_settings_invalid_named(tmp_path, line, named):
    with pytest.raises(ConfigError, match=named):
        load_config(_settings(tmp_path, f"default_radius_m = 500\n{line}\n"), environ={})


def test_repository_settings_load():
    config = load_config(REPO_ROOT / "flet.toml", environ={})

    assert config.geofence.location_source in ("device", "simulated")
    assert config.geofence.fix_timeout_s > 0


def test_fix_age_judged_at_read_time():
    old = datetime.now(timezone.utc) - timedelta(seconds=121)
    source = SimulatedSource([SITE + (10.0,)], clock=lambda: old)

    decision = decide(Place(*SITE), _read(source).fix)

    assert decision.reasons == [Reason.FIX_TOO_OLD]


# ---- Nearby customers on the device ---------------------------------------------------------

def test_nearby_matches_exact_search(tmp_path):
    """The indexed search returns what an exact geodesic scan over every customer returns."""
    import random

    import prcoords
    from geopy.distance import geodesic

    from core.geofence import to_wgs84
    from core.wire import SYNCED_FIELDS
    from mobile.offline.store import LocalStore
    from mobile.offline.visits import nearby_customers

    rng = random.Random(7)
    store = LocalStore(tmp_path / "local.sqlite3")
    changes = []
    for number in range(400):
        point = geodesic(meters=rng.uniform(0, 3000)).destination(SITE, rng.uniform(0, 360))
        system = rng.choice(["wgs84", "gcj02", "bd09"])
        stored = prcoords.Coords(point.latitude, point.longitude)
        if system == "gcj02":
            stored = prcoords.wgs_gcj(stored)
        elif system == "bd09":
            stored = prcoords.wgs_bd(stored)
        row = {name: None for name in SYNCED_FIELDS["customers"]}
        row.update({"name": f"客户{number}", "latitude": stored.lat, "longitude": stored.lon, "coord_system": system, "id": f"c{number}", "version": 1})
        changes.append({"seq": number + 1, "entity": "customers", "id": f"c{number}", "op": "put", "row": row})
    store.apply_pull_page(changes, cursor=len(changes), last_mutation_id=None)

    found = nearby_customers(store, SITE[0], SITE[1], radius_m=500, limit=1000)

    expected = sorted(
        (geodesic(to_wgs84(Place(c["row"]["latitude"], c["row"]["longitude"], c["row"]["coord_system"])), SITE).meters, c["id"])
        for c in changes
    )
    expected_ids = [customer_id for distance, customer_id in expected if distance <= 500]
    assert expected_ids
    assert [customer.id for customer in found] == expected_ids
    assert all(a.distance_m <= b.distance_m for a, b in zip(found, found[1:]))
    assert len(nearby_customers(store, SITE[0], SITE[1], radius_m=500, limit=3)) == 3
