"""Synced entities: their tables, how rows go on the wire, and what a client mutation may write.

Each client-writable entity has a pydantic model for the fields a `put` must carry
(`patch` validates the same fields, all optional) and an authorisation rule.
"""

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator
from sqlmodel import Session, select

from core.wire import SYNCED_FIELDS
from server.checkins.timestamps import DeviceTimestamp
from server.models import (
    CheckinFlag,
    ChecklistAnswer,
    ChecklistTemplate,
    Contact,
    CoordSystem,
    Customer,
    Followup,
    Member,
    Region,
    Role,
    SyncConflict,
    SyncedRow,
    SyncRejection,
    User,
    Visit,
    VisitStatus,
)
from server.alerts.models import Alert
from server.members.fields import FollowupStructureFields, MemberFields, MemberFollowupFields, ProfileViewFields
from server.members.models import MemberPurchase, MemberFollowup, ProfileView
from server.scoring.models import LatestScore

ENTITY_MODELS: dict[str, type[SyncedRow]] = {
    "customers": Customer,
    "contacts": Contact,
    "visits": Visit,
    "followups": Followup,
    "rejections": SyncRejection,
    "conflicts": SyncConflict,
    "checklist_templates": ChecklistTemplate,
    "checklist_answers": ChecklistAnswer,
    "checkin_flags": CheckinFlag,
    "score_snapshots": LatestScore,
    "alerts": Alert,
    "members": Member,
    "member_purchases": MemberPurchase,
    "member_followups": MemberFollowup,
    "profile_views": ProfileView,
}


class MutationRejected(Exception):
    """A mutation failed validation or authorisation; `reason` is shown to the user on the record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_wire(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


# Customer fields the server derives from other tables instead of reading from the row.
DERIVED_CUSTOMER_FIELDS = ("owner_name", "region_name")


def row_to_wire(entity: str, row: SyncedRow, names: "NameCache | None" = None) -> dict[str, Any]:
    """Return the row as the wire carries it: its synced fields, id and version."""
    if entity == "customers":
        data = {name: to_wire(getattr(row, name)) for name in SYNCED_FIELDS[entity] if name not in DERIVED_CUSTOMER_FIELDS}
        data["owner_name"] = names.user_name(row.owner_id) if names else None
        data["region_name"] = names.region_name(row.region_id) if names else None
    else:
        data = {name: to_wire(getattr(row, name)) for name in SYNCED_FIELDS[entity]}
    if entity == "members":
        # Shoppers' phone numbers are personal information: devices only ever receive them masked.
        from server.members.sync import mask_phone

        data["phone"] = mask_phone(row.phone or "")
    data["id"] = str(row.id)
    data["version"] = row.version
    return data


class NameCache:
    """Display names of users and regions, loaded once per request (both tables are small)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._users: dict | None = None
        self._regions: dict | None = None

    def user_name(self, user_id) -> str | None:
        if self._users is None:
            self._users = {u.id: u.display_name for u in self._session.exec(select(User)).all()}
        return self._users.get(user_id)

    def region_name(self, region_id) -> str | None:
        if self._regions is None:
            self._regions = {r.id: r.name for r in self._session.exec(select(Region)).all()}
        return self._regions.get(region_id)


# ---- Field models for client mutations -------------------------------------------------------

Text64 = Annotated[str, Field(max_length=64)]
Text128 = Annotated[str, Field(max_length=128)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerFields(_Fields):
    name: str = Field(min_length=1, max_length=128)
    industry: Text64 = ""
    address: str = Field(default="", max_length=255)
    province: str = Field(default="", max_length=32)
    city: str = Field(default="", max_length=32)
    district: str = Field(default="", max_length=32)
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    coord_system: CoordSystem = CoordSystem.WGS84
    owner_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None


class ContactFields(_Fields):
    customer_id: uuid.UUID
    name: str = Field(min_length=1, max_length=64)
    title: Text64 = ""
    decision_role: str = "other"
    phone: str = Field(default="", max_length=20, pattern=r"^[0-9+\- ]*$")

    @field_validator("decision_role")
    @classmethod
    def _known_decision_role(cls, value: str) -> str:
        allowed = ("technical", "purchasing", "finance", "other")
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value


class VisitFields(_Fields):
    """A visit and its check-in. The cross-field rules (a complete fix, check-out, required
    checklist answers) are checked by server.checkins.visits once the row is merged."""

    customer_id: uuid.UUID
    rep_id: uuid.UUID | None = None
    visit_type: str = Field(default="routine", min_length=1, max_length=32)
    checked_in_at: DeviceTimestamp | None = None
    checked_out_at: DeviceTimestamp | None = None
    summary: str = Field(default="", max_length=1000)
    checkin_latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    checkin_longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    checkin_accuracy_m: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    checkin_coord_system: CoordSystem = CoordSystem.WGS84
    checkin_fix_at: DeviceTimestamp | None = None
    checkin_mocked: bool = False
    captured_at: DeviceTimestamp | None = None
    status: VisitStatus = VisitStatus.OPEN
    template_id: uuid.UUID | None = None


class FollowupFields(FollowupStructureFields):
    customer_id: uuid.UUID
    author_id: uuid.UUID | None = None
    text: str = Field(min_length=1, max_length=2000)
    captured_at: datetime | None = None


class ChecklistAnswerFields(_Fields):
    """An answer; its value is checked against the visit's template by server.checkins.visits."""

    visit_id: uuid.UUID
    customer_id: uuid.UUID
    item_id: str = Field(min_length=1, max_length=32)
    value: JsonValue = None
    photo_id: uuid.UUID | None = None


FIELD_MODELS: dict[str, type[_Fields]] = {
    "customers": CustomerFields,
    "contacts": ContactFields,
    "visits": VisitFields,
    "followups": FollowupFields,
    "checklist_answers": ChecklistAnswerFields,
    "members": MemberFields,
    "member_followups": MemberFollowupFields,
    "profile_views": ProfileViewFields,
}

# Fields only a regional lead (in their region) or an admin may change: who owns a customer.
ASSIGNMENT_FIELDS = frozenset({"owner_id", "region_id"})
# Fields fixed once a row exists.
IMMUTABLE_FIELDS = {
    "contacts": frozenset({"customer_id"}),
    # A check-in is recorded once: a later tap is a new visit with its own id.
    "visits": frozenset({
        "customer_id", "rep_id", "checkin_latitude", "checkin_longitude", "checkin_accuracy_m",
        "checkin_coord_system", "checkin_fix_at", "checkin_mocked", "captured_at", "template_id",
    }),
    "followups": frozenset({"customer_id", "author_id"}),
    "customers": frozenset(),
    "checklist_answers": frozenset({"visit_id", "customer_id", "item_id"}),
    "members": frozenset({"member_code", "store_id"}),
    "member_followups": frozenset({"member_id", "author_id", "author_name"}),
    # The audit log: a view is recorded once and never changed.
    "profile_views": frozenset(ProfileViewFields.model_fields),
}


def validate_fields(entity: str, fields: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Validate mutation fields and return them converted to Python values.

    For a patch only the given fields are checked and returned.
    """
    model = FIELD_MODELS[entity]
    unknown = sorted(set(fields) - set(model.model_fields))
    if unknown:
        raise MutationRejected(f"unknown field(s) {', '.join(unknown)} for {entity}; allowed: {', '.join(model.model_fields)}")
    try:
        if partial:
            validated = _validate_partial(model, fields)
        else:
            validated = model.model_validate(fields).model_dump()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'fields'}: {issue['msg']} (got {issue.get('input')!r})"
            for issue in error.errors()
        )
        raise MutationRejected(f"invalid {entity} fields: {problems}") from None
    return validated


def _validate_partial(model: type[_Fields], fields: dict[str, Any]) -> dict[str, Any]:
    """Validate each given field with the model's rules for that field alone."""
    instance = model.model_construct()
    for name, value in fields.items():
        model.__pydantic_validator__.validate_assignment(instance, name, value)
    return {name: getattr(instance, name) for name in fields}


def user_may_assign(user: User, customer: Customer, new_region_id: uuid.UUID | None) -> bool:
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.REGIONAL_LEAD:
        return customer.region_id == user.region_id and (new_region_id is None or new_region_id == user.region_id)
    return False


def customer_in_scope(user: User, customer: Customer | None) -> bool:
    if customer is None:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.REP:
        return customer.owner_id == user.id
    if user.role == Role.REGIONAL_LEAD:
        return customer.region_id is not None and customer.region_id == user.region_id
    return False


def parent_customer(session: Session, entity: str, row_or_fields) -> Customer | None:
    customer_id = row_or_fields.get("customer_id") if isinstance(row_or_fields, dict) else row_or_fields.customer_id
    return session.get(Customer, customer_id) if customer_id else None
