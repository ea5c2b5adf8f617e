"""Device timestamps in visit mutations: ISO-8601 with a UTC offset, and not far in the future."""

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

# A device timestamp may run ahead of the server clock by at most this much. Phones that
# take network time are seconds off. A timestamp further ahead comes from a clock set
# wrong, and a check-in time in the future would make the visit's record false.
MAX_FUTURE_SKEW = timedelta(minutes=5)

_EXAMPLE = "2026-12-04T09:30:00+08:00"


def parse_device_timestamp(value: Any) -> datetime:
    """Parse an ISO-8601 timestamp that carries a UTC offset and return it in UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 timestamp; send one such as {_EXAMPLE}") from None
    else:
        raise ValueError(f"must be an ISO-8601 timestamp string such as {_EXAMPLE}")
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset, so the instant is ambiguous; send one such as {_EXAMPLE}")
    return moment.astimezone(timezone.utc)


def reject_future_timestamp(moment: datetime) -> datetime:
    """Raise ValueError for a timestamp more than MAX_FUTURE_SKEW ahead of the server clock."""
    now = datetime.now(timezone.utc)
    ahead = moment - now
    if ahead > MAX_FUTURE_SKEW:
        raise ValueError(
            f"{moment.isoformat()} is {ahead.total_seconds():.0f} s ahead of the server clock "
            f"({now.isoformat(timespec='seconds')}); at most {MAX_FUTURE_SKEW.total_seconds():.0f} s is accepted, "
            "so check the phone's date and time"
        )
    return moment


DeviceTimestamp = Annotated[datetime, BeforeValidator(parse_device_timestamp), AfterValidator(reject_future_timestamp)]
