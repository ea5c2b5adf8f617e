"""The device's position through flet-geolocator's Geolocator service.

On phones this is the platform's location service; in web mode it is the browser's
geolocation API (navigator.geolocation), which browser tests feed with a fake position.

Facts about flet-geolocator 1.0.5 this module relies on:
- Geolocator is a service: it is constructed while a page session exists and is not
  added to the page.
- request_permission() was seen to never return when permission was already granted,
  so every platform call here runs under asyncio.wait_for.
- get_current_position() raises RuntimeError with the platform's message when
  permission is denied or location services are off.
- An accuracy of 0.0 means the platform did not report one.
"""

import asyncio
import logging
from datetime import datetime, timezone

import flet as ft
import flet_geolocator as fg

from core.geofence import Fix
from mobile.location import LocationReading, LocationState

log = logging.getLogger(__name__)

# Permission status values of flet-geolocator (GeolocatorPermissionStatus) to the denial they mean.
# "whileInUse" and "always" grant access. "unableToDetermine" (web browsers without the
# Permissions API) is treated as granted: a real denial then surfaces from the position request.
_DENIED_STATUSES = {
    "denied": LocationState.PERMISSION_DENIED,
    "deniedForever": LocationState.PERMISSION_DENIED_FOREVER,
}
# Seconds for calls that normally return at once (status, services).
_QUICK_CALL_TIMEOUT_S = 5.0


def state_for_permission(status: str) -> LocationState | None:
    """Return the denial a permission status means, or None when it lets the app read positions."""
    return _DENIED_STATUSES.get(status)


def state_for_error(message: str) -> LocationState:
    """Classify a failed position request by the platform's error message.

    The messages are those of the geolocator Flutter plugin's exceptions: PermissionDeniedException
    ("User denied permissions ..."), LocationServiceDisabledException ("The location service on
    the device is disabled"), and TimeoutException.
    """
    text = message.lower()
    if "denied" in text or "permission" in text:
        return LocationState.PERMISSION_DENIED
    if "disabled" in text or "service" in text:
        return LocationState.SERVICES_OFF
    if "timeout" in text or "timed out" in text:
        return LocationState.TIMEOUT
    return LocationState.NO_FIX


def fix_from_position(position: fg.GeolocatorPosition) -> Fix:
    """Convert a Geolocator position to a core.geofence.Fix (WGS-84, UTC timestamp)."""
    accuracy = position.accuracy
    if accuracy is not None and accuracy <= 0:
        accuracy = None
    return Fix(
        latitude=position.latitude,
        longitude=position.longitude,
        accuracy_m=float(accuracy) if accuracy is not None else None,
        timestamp=_utc_timestamp(position.timestamp),
        mocked=bool(position.mocked),
    )


def _utc_timestamp(value) -> datetime | None:
    """Return the position's timestamp as an aware UTC datetime; the plugin reports UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return _utc_timestamp(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


class GeolocatorSource:
    """LocationSource on flet-geolocator. Create it while the page's session is running."""

    def __init__(self, page: ft.Page, fix_timeout_s: float = 20.0, permission_timeout_s: float = 60.0) -> None:
        self._page = page
        self._geolocator = fg.Geolocator()
        self._fix_timeout_s = fix_timeout_s
        self._permission_timeout_s = permission_timeout_s
        # The system prompt is shown once automatically; later requests need the user's tap.
        self._permission_requested = False

    async def read(self) -> LocationReading:
        services_on = await self._quick_call(self._geolocator.is_location_service_enabled())
        if services_on is False:
            return LocationReading(LocationState.SERVICES_OFF)

        status = await self._quick_call(self._geolocator.get_permission_status())
        denial = state_for_permission(status.value) if status is not None else None
        if denial == LocationState.PERMISSION_DENIED and not self._permission_requested:
            denial = await self.request_permission()
        if denial is not None:
            return LocationReading(denial)
        return await self._current_position()

    async def request_permission(self) -> LocationState | None:
        self._permission_requested = True
        try:
            status = await asyncio.wait_for(self._geolocator.request_permission(), self._permission_timeout_s)
        except TimeoutError:
            # Seen when permission was already granted, so read the status instead.
            status = await self._quick_call(self._geolocator.get_permission_status())
        except RuntimeError as error:
            log.warning("location permission request failed: %s", error)
            return LocationState.PERMISSION_DENIED
        return state_for_permission(status.value) if status is not None else None

    async def open_settings(self, state: LocationState) -> bool:
        if self._page.web:
            return False
        opener = self._geolocator.open_location_settings if state == LocationState.SERVICES_OFF else self._geolocator.open_app_settings
        try:
            return bool(await asyncio.wait_for(opener(), _QUICK_CALL_TIMEOUT_S))
        except (TimeoutError, RuntimeError, ft.FletUnsupportedPlatformException) as error:
            log.warning("cannot open the settings for %s: %r", state.value, error)
            return False

    async def _current_position(self) -> LocationReading:
        try:
            position = await asyncio.wait_for(
                self._geolocator.get_current_position(self._configuration()), self._fix_timeout_s
            )
        except TimeoutError:
            return LocationReading(LocationState.TIMEOUT, detail=f"no fix within {self._fix_timeout_s:.0f} s")
        except RuntimeError as error:
            state = state_for_error(str(error))
            log.info("position request failed (%s): %s", state.value, error)
            return LocationReading(state, detail=str(error))
        if position is None or position.latitude is None or position.longitude is None:
            return LocationReading(LocationState.NO_FIX, detail="the platform returned no coordinates")
        return LocationReading(LocationState.FIX, fix=fix_from_position(position))

    def _configuration(self) -> fg.GeolocatorConfiguration:
        """Ask for the best accuracy and never a cached position: each check-in needs a fresh fix."""
        time_limit = ft.Duration(seconds=int(self._fix_timeout_s))
        if self._page.web:
            return fg.GeolocatorWebConfiguration(
                accuracy=fg.GeolocatorPositionAccuracy.BEST, time_limit=time_limit, maximum_age=ft.Duration(),
            )
        return fg.GeolocatorConfiguration(accuracy=fg.GeolocatorPositionAccuracy.BEST, time_limit=time_limit)

    @staticmethod
    async def _quick_call(call):
        """Await a call that normally returns at once; return None if it fails or hangs."""
        try:
            return await asyncio.wait_for(call, _QUICK_CALL_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as error:
            log.warning("geolocator call failed: %r", error)
            return None
