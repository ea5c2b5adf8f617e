"""HTTP client of the Field Sales server, and the records the screens show.

Every failure surfaces as an ApiError subclass carrying the server's `detail` message,
so screens catch one exception type and show a localized message:

    ApiError
    ├── Unauthorized    401: wrong login, or the token expired or was revoked
    ├── Forbidden       403: the account is disabled or the role may not see this
    ├── NotFound        404: absent, or outside the user's scope
    ├── ServerError     5xx
    └── Unreachable     no connection (DNS, refused, reset)
        └── ServerTimeout  no response within the configured timeout

Screens do not use ApiClient directly but the Directory protocol, which a local
SQLite store can implement later so the same screens work offline.
"""

import calendar
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Generic, Protocol, TypeVar

import httpx

log = logging.getLogger(__name__)

PAGE_SIZE = 50


class ApiError(Exception):
    """A request to the server failed; `detail` is the server's message when it sent one."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class ServerError(ApiError):
    pass


class Unreachable(ApiError):
    pass


class ServerTimeout(Unreachable):
    pass


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    region_id: uuid.UUID | None
    region_name: str | None
    store_id: uuid.UUID | None
    store_name: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "User":
        return cls(
            id=uuid.UUID(data["id"]),
            username=data["username"],
            display_name=data["display_name"],
            role=data["role"],
            region_id=_optional_uuid(data.get("region_id")),
            region_name=data.get("region_name"),
            store_id=_optional_uuid(data.get("store_id")),
            store_name=data.get("store_name"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "region_id": _optional_str(self.region_id),
            "region_name": self.region_name,
            "store_id": _optional_str(self.store_id),
            "store_name": self.store_name,
        }


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True)
class CustomerSummary:
    id: uuid.UUID
    name: str
    industry: str
    province: str
    city: str
    district: str
    owner_id: uuid.UUID | None
    region_id: uuid.UUID | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CustomerSummary":
        return cls(
            id=uuid.UUID(data["id"]),
            name=data["name"],
            industry=data.get("industry", ""),
            province=data.get("province", ""),
            city=data.get("city", ""),
            district=data.get("district", ""),
            owner_id=_optional_uuid(data.get("owner_id")),
            region_id=_optional_uuid(data.get("region_id")),
        )


@dataclass(frozen=True)
class Contact:
    id: uuid.UUID
    name: str
    title: str
    # technical, purchasing, finance or other
    decision_role: str
    phone: str


@dataclass(frozen=True)
class Visit:
    id: uuid.UUID
    visit_type: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    summary: str


@dataclass(frozen=True)
class CustomerDetail:
    summary: CustomerSummary
    address: str
    latitude: float | None
    longitude: float | None
    coord_system: str
    owner_name: str | None
    region_name: str | None
    contacts: list[Contact]
    visits: list[Visit]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CustomerDetail":
        return cls(
            summary=CustomerSummary.from_json(data),
            address=data.get("address", ""),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            coord_system=data.get("coord_system", "wgs84"),
            owner_name=data.get("owner_name"),
            region_name=data.get("region_name"),
            contacts=[
                Contact(
                    id=uuid.UUID(item["id"]),
                    name=item["name"],
                    title=item.get("title", ""),
                    decision_role=item.get("decision_role", "other"),
                    phone=item.get("phone", ""),
                )
                for item in data.get("contacts", [])
            ],
            visits=[
                Visit(
                    id=uuid.UUID(item["id"]),
                    visit_type=item.get("visit_type", ""),
                    checked_in_at=parse_timestamp(item.get("checked_in_at")),
                    checked_out_at=parse_timestamp(item.get("checked_out_at")),
                    summary=item.get("summary", ""),
                )
                for item in data.get("visits", [])
            ],
        )


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    store_id: uuid.UUID
    member_code: str
    name: str
    # 138****5678: the server never sends a member's full phone number.
    phone_masked: str
    baby_birth_date: date | None
    # Free text entered by the store; empty when none are known.
    allergens: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Member":
        birth = data.get("baby_birth_date")
        return cls(
            id=uuid.UUID(data["id"]),
            store_id=uuid.UUID(data["store_id"]),
            member_code=data["member_code"],
            name=data["name"],
            phone_masked=data.get("phone_masked", ""),
            baby_birth_date=date.fromisoformat(birth) if birth else None,
            allergens=data.get("allergens", ""),
        )

    def baby_age_months(self, today: date) -> int | None:
        """Whole months from the baby's birth date to `today`; None without a birth date."""
        if self.baby_birth_date is None:
            return None
        birth = self.baby_birth_date
        months = (today.year - birth.year) * 12 + (today.month - birth.month)
        # A month is complete on the same day of the month, or on the month's last day
        # when it is shorter (born 31 January: one month old on 28 February).
        last_day_of_month = calendar.monthrange(today.year, today.month)[1]
        if today.day < birth.day and today.day != last_day_of_month:
            months -= 1
        return max(months, 0)


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        """Offset of the next page, or None when this page is the last."""
        following = self.offset + len(self.items)
        return following if following < self.total and self.items else None


class Directory(Protocol):
    """Read access to the customers and members the signed-in user may see.

    ApiClient reads them from the server; an offline store can implement the same methods.
    """

    async def list_customers(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[CustomerSummary]: ...

    async def get_customer(self, customer_id: uuid.UUID) -> CustomerDetail: ...

    async def list_members(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[Member]: ...


class ApiClient:
    """Async client of the Field Sales HTTP API. `token` is the bearer token of the signed-in user."""

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url
        self.token: str | None = None
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self, login: str, password: str) -> LoginResult:
        """Sign in with a username or phone number; on success the client keeps the new token."""
        path = "/api/auth/login"
        data = await self._request("POST", path, json={"login": login, "password": password}, auth=False)
        with _parsing(path):
            result = LoginResult(
                access_token=data["access_token"],
                expires_at=parse_timestamp(data["expires_at"]),
                user=User.from_json(data["user"]),
            )
        self.token = result.access_token
        return result

    async def me(self) -> User:
        path = "/api/auth/me"
        data = await self._request("GET", path)
        with _parsing(path):
            return User.from_json(data)

    async def list_customers(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[CustomerSummary]:
        path = "/api/customers"
        data = await self._request("GET", path, params={"q": query, "limit": limit, "offset": offset})
        with _parsing(path):
            return _page(data, CustomerSummary.from_json)

    async def get_customer(self, customer_id: uuid.UUID) -> CustomerDetail:
        path = f"/api/customers/{customer_id}"
        data = await self._request("GET", path)
        with _parsing(path):
            return CustomerDetail.from_json(data)

    async def list_members(self, query: str = "", offset: int = 0, limit: int = PAGE_SIZE) -> Page[Member]:
        path = "/api/members"
        data = await self._request("GET", path, params={"q": query, "limit": limit, "offset": offset})
        with _parsing(path):
            return _page(data, Member.from_json)

    async def _request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = {"Accept": "application/json"}
        if auth:
            if self.token is None:
                raise Unauthorized(f"{method} {path} needs a signed-in user: sign in first.")
            headers["Authorization"] = f"Bearer {self.token}"

        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as error:
            log.warning("%s %s timed out after %s s", method, path, self._http.timeout.read)
            raise ServerTimeout(f"{method} {path} timed out: {error!r}") from error
        except httpx.TransportError as error:
            log.warning("%s %s failed: cannot reach %s (%r)", method, path, self.base_url, error)
            raise Unreachable(f"Cannot reach {self.base_url}: {error!r}") from error

        if not response.is_success:
            raise _error_for(method, path, response)
        try:
            return response.json()
        except ValueError as error:
            raise ApiError(f"{method} {path} returned invalid JSON.", status_code=response.status_code) from error


@contextmanager
def _parsing(path: str) -> Iterator[None]:
    """Turn a response body of the wrong shape into an ApiError naming the endpoint."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as error:
        log.error("unexpected response body from %s: %r", path, error)
        raise ApiError(f"Unexpected response from {path}: {error!r}") from error


def _error_for(method: str, path: str, response: httpx.Response) -> ApiError:
    detail = _detail_of(response)
    status_code = response.status_code
    message = f"{method} {path} failed with HTTP {status_code}: {detail or response.reason_phrase}"
    log.info("%s", message)

    if status_code == 401:
        return Unauthorized(message, status_code=status_code, detail=detail)
    if status_code == 403:
        return Forbidden(message, status_code=status_code, detail=detail)
    if status_code == 404:
        return NotFound(message, status_code=status_code, detail=detail)
    if status_code >= 500:
        return ServerError(message, status_code=status_code, detail=detail)
    return ApiError(message, status_code=status_code, detail=detail)


def _detail_of(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _page(data: dict[str, Any], parse_item: Callable[[dict[str, Any]], T]) -> Page[T]:
    return Page(
        items=[parse_item(item) for item in data["items"]],
        total=data["total"],
        limit=data["limit"],
        offset=data["offset"],
    )


def _optional_uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _optional_str(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp; one without a zone is UTC, as the server stores it."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
