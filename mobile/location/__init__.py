"""Device location for check-ins: the LocationSource interface and the readings it returns.

Two implementations:
- mobile.location.geolocator.GeolocatorSource, on flet-geolocator's Geolocator service
  (the phone's GPS; in web mode the browser's geolocation API);
- mobile.location.simulated.SimulatedSource, fixed or scripted positions for development.

`location_source(page, config)` picks one from the [geofence] settings in flet.toml.
Every reading carries a LocationState, so the check-in screen can say why it has no
usable fix (permission, location services, timeout) instead of showing a bare error.
"""

import enum
from dataclasses import dataclass
from typing import Protocol

import flet as ft

from core.geofence import Fix
from mobile.config import GeofenceConfig


class LocationState(str, enum.Enum):
    """Outcome of one attempt to read the device's position."""

    FIX = "fix"
    PERMISSION_DENIED = "permission_denied"
    # The user chose "never ask again" (Android) or denied in the system settings (iOS):
    # only the app's settings page can grant it now.
    PERMISSION_DENIED_FOREVER = "permission_denied_forever"
    SERVICES_OFF = "services_off"
    NO_FIX = "no_fix"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class LocationReading:
    state: LocationState
    fix: Fix | None = None
    # The platform's error message, for the log; the screen shows text for `state`.
    detail: str = ""

    @property
    def has_fix(self) -> bool:
        return self.state == LocationState.FIX and self.fix is not None


class LocationSource(Protocol):
    """A source of position fixes for the check-in screen."""

    async def read(self) -> LocationReading:
        """Request a fresh fix. Denied permission, services off and time-outs come back as the reading's state, not as exceptions."""

    async def request_permission(self) -> LocationState | None:
        """Ask the user for location access; return the denial state, or None once granted."""

    async def open_settings(self, state: LocationState) -> bool:
        """Open the settings page that fixes `state` (app permissions or location services).

        Returns False where the platform cannot open it (web browsers).
        """


def location_source(page: ft.Page, config: GeofenceConfig) -> LocationSource:
    """Return the source that flet.toml's [geofence] location_source names."""
    if config.location_source == "simulated":
        from mobile.location.simulated import SimulatedSource

        return SimulatedSource.from_config(config)
    from mobile.location.geolocator import GeolocatorSource

    return GeolocatorSource(page, fix_timeout_s=config.fix_timeout_s, permission_timeout_s=config.permission_timeout_s)
