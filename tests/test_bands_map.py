"""Battle-map settings and marker positions: tile URL from flet.toml or the environment, coordinates converted to the tiles' system."""

from pathlib import Path

import pytest
from geopy.distance import geodesic

from core.geofence import Place
from mobile.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from mobile.views.battle_map import map_position

# Shanghai People's Square in GCJ-02, as AMap reports it.
SHANGHAI_GCJ = Place(31.2304, 121.4737, "gcj02")


def test_same_system_unchanged():
    assert map_position(SHANGHAI_GCJ, "gcj02") == (31.2304, 121.4737)


def test_gcj02_moved_for_osm_tiles():
    latitude, longitude = map_position(SHANGHAI_GCJ, "wgs84")
    shift_m = geodesic((latitude, longitude), (SHANGHAI_GCJ.latitude, SHANGHAI_GCJ.longitude)).meters

    assert 100 < shift_m < 700


def test_wgs84_round_trip_to_gcj02():
    wgs = Place(*map_position(SHANGHAI_GCJ, "wgs84"), "wgs84")
    latitude, longitude = map_position(wgs, "gcj02")

    assert geodesic((latitude, longitude), (SHANGHAI_GCJ.latitude, SHANGHAI_GCJ.longitude)).meters < 1


def test_bd09_converted_to_gcj02():
    latitude, longitude = map_position(Place(31.2367, 121.4802, "bd09"), "gcj02")
    shift_m = geodesic((latitude, longitude), (31.2367, 121.4802)).meters

    assert 500 < shift_m < 1200


def test_outside_china_unchanged():
    berlin = Place(52.52, 13.405, "gcj02")

    assert map_position(berlin, "wgs84") == (52.52, 13.405)


def test_unknown_coord_system_raises():
    with pytest.raises(ValueError, match="unknown coordinate system 'utm'"):
        map_position(Place(31.2, 121.4, "utm"), "wgs84")


def test_default_tiles_are_gcj02():
    config = load_config(environ={})

    assert config.map.tile_coord_system == "gcj02"
    assert "{x}" in config.map.tile_url
    assert config.map.subdomains


def test_tile_url_from_environment():
    environ = {"FIELDSALES_TILE_URL": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png", "FIELDSALES_TILE_COORD_SYSTEM": "wgs84"}
    config = load_config(environ=environ)

    assert config.map.tile_url == "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
    assert config.map.tile_coord_system == "wgs84"


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ('tile_url = "https://tiles.example/{z}/{x}.png"', r"lacks \{y\}"),
        ('tile_coord_system = "bd09"', "use gcj02 for AMap-style tiles or wgs84"),
        ("subdomains = []", r"contains \{s\} but \[map\] subdomains is empty"),
    ],
)
def test_invalid_map_settings(tmp_path: Path, replacement: str, message: str):
    key = replacement.split(" =")[0]
    lines = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").splitlines()
    in_map = False
    for number, line in enumerate(lines):
        if line.startswith("["):
            in_map = line == "[map]"
        elif in_map and line.startswith(f"{key} ="):
            lines[number] = replacement
    path = tmp_path / "flet.toml"
    path.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
