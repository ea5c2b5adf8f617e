"""A simulated location source for development: fixed or scripted positions, or a chosen failure.

Enable it in flet.toml:

    [geofence]
    location_source = "simulated"
    # WGS-84 positions, each [latitude, longitude, accuracy_m]; each read returns the next, cycling.
    simulated_fixes = [[22.533287, 113.930413, 15.0]]
    # "fix", or a failure to show its screen: permission_denied, permission_denied_forever,
    # services_off, no_fix, timeout.
    simulated_state = "fix"

Each fix is stamped with the current time, so it is always fresh. A granted permission
request turns a simulated permission denial into "fix", to walk through the permission screen.
"""

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from core.geofence import Fix
from mobile.config import GeofenceConfig
from mobile.location import LocationReading, LocationState

_PERMISSION_STATES = (LocationState.PERMISSION_DENIED, LocationState.PERMISSION_DENIED_FOREVER)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SimulatedSource:
    """LocationSource returning configured positions in turn, or a configured failure state."""

    def __init__(
        self,
        fixes: Sequence[tuple[float, float, float]],
        state: LocationState = LocationState.FIX,
        mocked: bool = False,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.state = state
        self._fixes = list(fixes)
        self._next = itertools.cycle(self._fixes) if self._fixes else None
        self._mocked = mocked
        self._clock = clock
        self.reads = 0

    @classmethod
    def from_config(cls, config: GeofenceConfig) -> "SimulatedSource":
        return cls(config.simulated_fixes, LocationState(config.simulated_state), config.simulated_mocked)

    async def read(self) -> LocationReading:
        self.reads += 1
        if self.state != LocationState.FIX:
            return LocationReading(self.state, detail="simulated")
        if self._next is None:
            return LocationReading(LocationState.NO_FIX, detail="no simulated_fixes configured")
        latitude, longitude, accuracy = next(self._next)
        return LocationReading(LocationState.FIX, fix=Fix(latitude, longitude, accuracy, self._clock(), self._mocked))

    async def request_permission(self) -> LocationState | None:
        if self.state == LocationState.PERMISSION_DENIED:
            self.state = LocationState.FIX
        return self.state if self.state in _PERMISSION_STATES else None

    async def open_settings(self, state: LocationState) -> bool:
        return False
