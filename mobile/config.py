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


@dataclass(frozen=True)
class GeofenceConfig:
    default_radius_m: float


@dataclass(frozen=True)
class VoiceConfig:
    model_path: Path


@dataclass(frozen=True)
class ClientConfig:
    api: ApiConfig
    ui: UiConfig
    sync: SyncConfig
    geofence: GeofenceConfig
    voice: VoiceConfig
    storage: StorageConfig


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

    base_url = environ.get(API_URL_ENV) or api.string("base_url")
    _check_http_url(base_url, f"{API_URL_ENV} or [api] base_url in {path}")

    locale = ui.string("locale")
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"[ui] locale in {path} is '{locale}'; use one of {', '.join(SUPPORTED_LOCALES)}.")

    return ClientConfig(
        api=ApiConfig(base_url=base_url.rstrip("/"), timeout_s=api.positive_number("timeout_s")),
        ui=UiConfig(locale=locale, utc_offset_hours=ui.number("utc_offset_hours")),
        sync=SyncConfig(interval_s=int(sync.positive_number("interval_s"))),
        geofence=GeofenceConfig(default_radius_m=geofence.positive_number("default_radius_m")),
        voice=VoiceConfig(model_path=APP_DIR / voice.string("model_path")),
        storage=StorageConfig(data_dir=_data_dir(storage.string("data_dir"), environ)),
    )


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
