"""Client runtime settings, read once at start from flet.toml in the app directory.

Flet itself reads its build settings from pyproject.toml, so flet.toml contains only
what this app reads. The environment variable FIELDSALES_API_URL overrides [api] base_url,
so tests and developers can point the client at another server without editing files.
"""

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# The app directory: the repository root in development, the package root on a phone.
APP_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = APP_DIR / "flet.toml"
API_URL_ENV = "FIELDSALES_API_URL"
DATA_DIR_ENV = "FIELDSALES_DATA_DIR"
# Overrides [voice] model_path: the directory of a Vosk model.
VOICE_MODEL_ENV = "FIELDSALES_VOICE_MODEL"
# Override [map] tile_url and tile_coord_system, e.g. for tests that serve tiles on 127.0.0.1.
TILE_URL_ENV = "FIELDSALES_TILE_URL"
TILE_COORD_SYSTEM_ENV = "FIELDSALES_TILE_COORD_SYSTEM"
TILE_COORD_SYSTEMS = ("gcj02", "wgs84")
# Set by Flet on Android and iOS to the app's writable data directory.
FLET_APP_DATA_ENV = "FLET_APP_STORAGE_DATA"
SUPPORTED_LOCALES = ("zh-CN", "en")


class ConfigError(ValueError):
    """flet.toml is missing, unreadable or contains an invalid value."""


@dataclass(frozen=True)
class ApiConfig:
    base_url: str
    timeout_s: float


@dataclass(frozen=True)
class UiConfig:
    locale: str
    utc_offset_hours: float


@dataclass(frozen=True)
class StorageConfig:
    # Directory of the per-user local databases.
    data_dir: Path


@dataclass(frozen=True)
class SyncConfig:
    interval_s: int


# Values of [geofence] location_source.
LOCATION_SOURCES = ("device", "simulated")
# Values of [geofence] simulated_state: the states of mobile.location.LocationState.
SIMULATED_STATES = ("fix", "permission_denied", "permission_denied_forever", "services_off", "no_fix", "timeout")


@dataclass(frozen=True)
class GeofenceConfig:
    default_radius_m: float
    # "device": the phone's location service (the browser's in web mode); "simulated": the positions below.
    location_source: str = "device"
    # Seconds to wait for one fix, and between automatic fix refreshes on the check-in screen.
    fix_timeout_s: float = 20.0
    refresh_interval_s: float = 15.0
    # Seconds to wait for the user's answer to the system's location permission prompt.
    permission_timeout_s: float = 60.0
    # The simulated source's WGS-84 positions: (latitude, longitude, accuracy in metres).
    simulated_fixes: tuple[tuple[float, float, float], ...] = ()
    simulated_state: str = "fix"
    simulated_mocked: bool = False


@dataclass(frozen=True)
class VoiceConfig:
    model_path: Path


@dataclass(frozen=True)
class MapConfig:
    # Tile URL template with {x}, {y}, {z} and optionally {s} (one of `subdomains`).
    tile_url: str
    subdomains: tuple[str, ...]
    attribution: str
    # Coordinate system the tiles are drawn in: "gcj02" (AMap, Tencent) or "wgs84" (OpenStreetMap).
    tile_coord_system: str
    max_zoom: int
    # Maximum number of markers drawn at once; the list shows every customer.
    max_markers: int


@dataclass(frozen=True)
class ClientConfig:
    api: ApiConfig
    ui: UiConfig
    sync: SyncConfig
    geofence: GeofenceConfig
    voice: VoiceConfig
    storage: StorageConfig
    map: MapConfig


def load_config(path: Path = DEFAULT_CONFIG_PATH, environ: Mapping[str, str] = os.environ) -> ClientConfig:
    """Read and validate `path`; raise ConfigError naming the file and the bad key."""
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError as error:
        raise ConfigError(f"Client settings file {path} not found.") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error

    settings = _Section(raw, path)
    api = settings.section("api")
    ui = settings.section("ui")
    sync = settings.section("sync")
    geofence = settings.section("geofence")
    voice = settings.section("voice")
    storage = settings.section("storage")
    map_settings = settings.section("map")

    base_url = environ.get(API_URL_ENV) or api.string("base_url")
    _check_http_url(base_url, f"{API_URL_ENV} or [api] base_url in {path}")

    locale = ui.string("locale")
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"[ui] locale in {path} is '{locale}'; use one of {', '.join(SUPPORTED_LOCALES)}.")

    return ClientConfig(
        api=ApiConfig(base_url=base_url.rstrip("/"), timeout_s=api.positive_number("timeout_s")),
        ui=UiConfig(locale=locale, utc_offset_hours=ui.number("utc_offset_hours")),
        sync=SyncConfig(interval_s=int(sync.positive_number("interval_s"))),
        geofence=_geofence_config(geofence, path),
        voice=VoiceConfig(model_path=Path(environ.get(VOICE_MODEL_ENV) or APP_DIR / voice.string("model_path"))),
        storage=StorageConfig(data_dir=_data_dir(storage.string("data_dir"), environ)),
        map=_map_config(map_settings, path, environ),
    )


def _map_config(section: "_Section", path: Path, environ: Mapping[str, str]) -> MapConfig:
    tile_url = environ.get(TILE_URL_ENV) or section.string("tile_url")
    _check_http_url(tile_url, f"{TILE_URL_ENV} or [map] tile_url in {path}")
    missing = [name for name in ("{x}", "{y}", "{z}") if name not in tile_url]
    if missing:
        raise ConfigError(f"[map] tile_url '{tile_url}' lacks {', '.join(missing)}; write a template such as https://host/{{z}}/{{x}}/{{y}}.png.")

    coord_system = environ.get(TILE_COORD_SYSTEM_ENV) or section.string("tile_coord_system")
    if coord_system not in TILE_COORD_SYSTEMS:
        raise ConfigError(
            f"[map] tile_coord_system in {path} is '{coord_system}'; use gcj02 for AMap-style tiles or wgs84 for OpenStreetMap."
        )

    subdomains = section.string_list("subdomains")
    if "{s}" in tile_url and not subdomains:
        raise ConfigError(f"[map] tile_url in {path} contains {{s}} but [map] subdomains is empty; list them, e.g. [\"1\", \"2\"].")
    return MapConfig(
        tile_url=tile_url,
        subdomains=tuple(subdomains),
        attribution=section.string("attribution"),
        tile_coord_system=coord_system,
        max_zoom=int(section.positive_number("max_zoom")),
        max_markers=int(section.positive_number("max_markers")),
    )


def _geofence_config(section: "_Section", path: Path) -> GeofenceConfig:
    """Read [geofence]; every key but default_radius_m is optional."""
    defaults = GeofenceConfig(default_radius_m=section.positive_number("default_radius_m"))
    table = section.table
    source = table.get("location_source", defaults.location_source)
    if source not in LOCATION_SOURCES:
        raise ConfigError(f"[geofence] location_source in {path} is {source!r}; use one of {', '.join(LOCATION_SOURCES)}.")
    state = table.get("simulated_state", defaults.simulated_state)
    if state not in SIMULATED_STATES:
        raise ConfigError(f"[geofence] simulated_state in {path} is {state!r}; use one of {', '.join(SIMULATED_STATES)}.")
    mocked = table.get("simulated_mocked", defaults.simulated_mocked)
    if not isinstance(mocked, bool):
        raise ConfigError(f"[geofence] simulated_mocked in {path} must be true or false, got {mocked!r}.")

    def optional_positive(key: str) -> float:
        return section.positive_number(key) if key in table else getattr(defaults, key)

    return GeofenceConfig(
        default_radius_m=defaults.default_radius_m,
        location_source=source,
        fix_timeout_s=optional_positive("fix_timeout_s"),
        refresh_interval_s=optional_positive("refresh_interval_s"),
        permission_timeout_s=optional_positive("permission_timeout_s"),
        simulated_fixes=_simulated_fixes(table.get("simulated_fixes", []), path),
        simulated_state=state,
        simulated_mocked=mocked,
    )


def _simulated_fixes(value, path: Path) -> tuple[tuple[float, float, float], ...]:
    example = "[[22.533287, 113.930413, 15.0]]"
    if not isinstance(value, list):
        raise ConfigError(f"[geofence] simulated_fixes in {path} must be a list such as {example}, got {value!r}.")
    fixes = []
    for entry in value:
        numbers_ok = isinstance(entry, list) and len(entry) == 3 and all(
            isinstance(number, int | float) and not isinstance(number, bool) for number in entry
        )
        if not numbers_ok or not (-90 <= entry[0] <= 90 and -180 <= entry[1] <= 180 and entry[2] > 0):
            raise ConfigError(
                f"[geofence] simulated_fixes in {path} contains {entry!r}; each entry is "
                f"[latitude -90..90, longitude -180..180, accuracy_m > 0], e.g. {example}."
            )
        fixes.append((float(entry[0]), float(entry[1]), float(entry[2])))
    return tuple(fixes)


def _data_dir(configured: str, environ: Mapping[str, str]) -> Path:
    """Return the local database directory: the override, the phone's app data directory, or flet.toml's."""
    if environ.get(DATA_DIR_ENV):
        return Path(environ[DATA_DIR_ENV])
    if environ.get(FLET_APP_DATA_ENV):
        return Path(environ[FLET_APP_DATA_ENV]) / "fieldsales"
    return APP_DIR / configured


def _check_http_url(url: str, source: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{source} is '{url}'; expected an http(s) URL such as http://127.0.0.1:8000.")


class _Section:
    """One table of the TOML document, with typed getters that name the key on error."""

    def __init__(self, table: Mapping, path: Path, name: str = "") -> None:
        self._table = table
        self._path = path
        self._name = name

    @property
    def table(self) -> Mapping:
        return self._table

    def section(self, name: str) -> "_Section":
        value = self._table.get(name)
        if not isinstance(value, Mapping):
            raise ConfigError(f"Table [{name}] missing from {self._path}.")
        return _Section(value, self._path, name)

    def string(self, key: str) -> str:
        value = self._table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"[{self._name}] {key} in {self._path} must be a non-empty string, got {value!r}.")
        return value.strip()

    def string_list(self, key: str) -> list[str]:
        value = self._table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise ConfigError(f"[{self._name}] {key} in {self._path} must be a list of non-empty strings, got {value!r}.")
        return [item.strip() for item in value]

    def number(self, key: str) -> float:
        value = self._table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"[{self._name}] {key} in {self._path} must be a number, got {value!r}.")
        return float(value)

    def positive_number(self, key: str) -> float:
        value = self._table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"[{self._name}] {key} in {self._path} must be a positive number, got {value!r}.")
        return float(value)
