"""Database tables: the organisation (regions, stores, users, customers, contacts, visits,
follow-ups, members), check-ins (checklist templates and answers, check-in flags, photos)
and the sync bookkeeping (change log, clients, rejections, conflicts).

Every synced row has a client-generatable UUID primary key, a `version` (the change
sequence number of its last write), a `deleted` tombstone flag and the change sequence
number of each field's last write. Timestamps are UTC.
"""

import enum
import uuid
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Enum, Index, String, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from core.geofence import CoordSystem  # the geodetic datum a stored position was captured in


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(nullable: bool = False, index: bool = False):
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and always loaded as an aware UTC datetime.

    SQLite has no timezone type: SQLAlchemy drops the offset when storing and loads a
    naive value, so an instant sent as 09:30+08:00 would read back as 09:30 UTC.
    Naive values are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _utc_timestamp(index: bool = False):
    """Return the field of a nullable UtcDateTime column."""
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True, index=index))


class Role(str, enum.Enum):
    REP = "rep"
    CLERK = "clerk"
    STORE_MANAGER = "store_manager"
    REGIONAL_LEAD = "regional_lead"
    ADMIN = "admin"


def _enum_column_type(enum_class: type[enum.Enum], length: int) -> Enum:
    """Return a VARCHAR type that stores the enum's values (not names) and loads the enum member."""
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda members: [m.value for m in members])


class SyncedRow(SQLModel):
    """Columns every synced table carries."""

    version: int = Field(default=0, sa_type=BigInteger, index=True)
    deleted: bool = False
    # Change sequence number of each field's last write, for field-level conflict detection.
    field_versions: dict = Field(default_factory=dict, sa_type=JSON)
    server_updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Region(SQLModel, table=True):
    __tablename__ = "regions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    name: str = Field(max_length=64)


class Store(SQLModel, table=True):
    __tablename__ = "stores"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    name: str = Field(max_length=128)
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)
    address: str = Field(default="", max_length=255)
    latitude: float | None = None
    longitude: float | None = None
    coord_system: CoordSystem = Field(default=CoordSystem.WGS84, sa_type=_enum_column_type(CoordSystem, 8))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(20), unique=True, nullable=True))
    display_name: str = Field(max_length=64)
    role: Role = Field(sa_type=_enum_column_type(Role, 20), index=True)
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)
    store_id: uuid.UUID | None = Field(default=None, foreign_key="stores.id", index=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = _timestamp()


class AuthToken(SQLModel, table=True):
    """An issued bearer token. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    issued_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Customer(SyncedRow, table=True):
    __tablename__ = "customers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=128, index=True)
    industry: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=255)
    province: str = Field(default="", max_length=32)
    city: str = Field(default="", max_length=32)
    district: str = Field(default="", max_length=32)
    latitude: float | None = None
    longitude: float | None = None
    coord_system: CoordSystem = Field(default=CoordSystem.WGS84, sa_type=_enum_column_type(CoordSystem, 8))
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    # Check-in geofence radius in metres; None means the server's GEOFENCE_RADIUS_M setting.
    geofence_radius_m: float | None = None
    # Annual purchase band code, scored by the health model (server.scoring); None when not known.
    purchase_band: str | None = Field(default=None, max_length=16)


class Contact(SyncedRow, table=True):
    __tablename__ = "contacts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    name: str = Field(max_length=64)
    title: str = Field(default="", max_length=64)
    # Position in the customer's decision chain: technical, purchasing, finance or other.
    decision_role: str = Field(default="other", max_length=16)
    phone: str = Field(default="", max_length=20)


class ChecklistTemplate(SyncedRow, table=True):
    """One revision of the checklist shown after check-in for a visit type.

    `items` is a list of item objects (id, label, type, required, and options or min/max);
    server.checkins.checklists validates them. A new revision is a new row; at most one
    revision per visit type is active. Named `revision` because `version` is the sync version.
    """

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("visit_type", "revision", name="uq_checklist_templates_visit_type_revision"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    visit_type: str = Field(max_length=32, index=True)
    name: str = Field(max_length=64)
    revision: int = 1
    items: list = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    created_at: datetime = _timestamp()


class VisitStatus(str, enum.Enum):
    OPEN = "open"
    COMPLETED = "completed"


class Visit(SyncedRow, table=True):
    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_rep_captured_at", "rep_id", "captured_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    rep_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    visit_type: str = Field(default="routine", max_length=32)
    checked_in_at: datetime | None = _utc_timestamp()
    checked_out_at: datetime | None = _utc_timestamp()
    summary: str = Field(default="", max_length=1000)
    # The check-in fix as the device reported it; checkin_fix_at is on the device clock.
    checkin_latitude: float | None = None
    checkin_longitude: float | None = None
    checkin_accuracy_m: float | None = None
    checkin_coord_system: CoordSystem = Field(default=CoordSystem.WGS84, sa_type=_enum_column_type(CoordSystem, 8))
    checkin_fix_at: datetime | None = _utc_timestamp()
    checkin_mocked: bool = False
    # Device time of the check-in tap: when the rep was there. Kept as data, never used for ordering.
    captured_at: datetime | None = _utc_timestamp()
    # Server time of the push that delivered the check-in.
    server_received_at: datetime | None = _utc_timestamp()
    # Seconds from check-in to check-out, computed by the server at check-out.
    duration_s: int | None = None
    status: VisitStatus = Field(default=VisitStatus.OPEN, sa_type=_enum_column_type(VisitStatus, 16))
    template_id: uuid.UUID | None = Field(default=None, foreign_key="checklist_templates.id", index=True)
    # The server's geofence decision on the check-in fix: core.geofence.Decision.as_dict().
    geofence: dict | None = Field(default=None, sa_type=JSON)


class FollowupStructure(SyncedRow):
    """Fields a one-line follow-up gets from core.followup_structuring and the chosen talk track.

    Shared by customer follow-ups (Followup) and member follow-ups (server.members.models).
    """

    # "voice" when the text came from speech recognition (and was perhaps corrected), else "typed".
    input_method: str = Field(default="typed", max_length=8)
    baby_age_months: int | None = None
    life_stage: str | None = Field(default=None, max_length=16)
    # Product ids of assets/knowledge/products.*.json named in the follow-up.
    product_ids: list = Field(default_factory=list, sa_type=JSON)
    intent: str | None = Field(default=None, max_length=16)
    # Days from the follow-up to the promised next contact.
    followup_in_days: int | None = None
    # The suggested talk track the author chose (an id of assets/knowledge/talk_tracks.*.json).
    talk_track_id: str | None = Field(default=None, max_length=64)


class Followup(FollowupStructure, table=True):
    """A one-line follow-up a rep or clerk recorded about a customer."""

    __tablename__ = "followups"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    author_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    text: str = Field(default="", max_length=2000)
    # When the author recorded it, by the device clock; kept as data, never used for ordering.
    captured_at: datetime | None = _utc_timestamp()


class ChecklistAnswer(SyncedRow, table=True):
    """The answer to one checklist item of a visit; `value` is validated against the visit's template."""

    __tablename__ = "checklist_answers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visits.id", index=True)
    # The visit's customer, repeated so answers share the customer's sync audience.
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    item_id: str = Field(max_length=32)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The uploaded photo of a photo item (see server.api.photos).
    photo_id: uuid.UUID | None = None


class CheckinFlag(SyncedRow, table=True):
    """A check-in that failed the server's re-check; the visit is kept and the flag shown to the lead."""

    __tablename__ = "checkin_flags"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visits.id", unique=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    rep_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    # The customer's region when the check-in arrived; its lead receives the flag.
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)
    reasons: list = Field(default_factory=list, sa_type=JSON)
    # Distance, accuracy, fix age, travel speed and clock skew behind the reasons.
    details: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _timestamp(index=True)


class Photo(SQLModel, table=True):
    """A completely uploaded and verified visit photo; the file is under the PHOTO_DIR setting."""

    __tablename__ = "photos"

    id: uuid.UUID = Field(primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visits.id", index=True)
    uploaded_by: uuid.UUID = Field(foreign_key="users.id", index=True)
    size: int = Field(sa_type=BigInteger)
    content_type: str = Field(max_length=32)
    sha256: str = Field(max_length=64)
    created_at: datetime = _timestamp()


class Member(SyncedRow, table=True):
    """A shopper in a store's loyalty programme, synced to the store's tablets with the phone number masked."""

    __tablename__ = "members"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    store_id: uuid.UUID = Field(foreign_key="stores.id", index=True)
    member_code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    name: str = Field(max_length=64)
    phone: str = Field(default="", max_length=20)
    baby_birth_date: date | None = None
    allergens: str = Field(default="", max_length=255)
    created_at: datetime = _timestamp()


class SyncCounter(SQLModel, table=True):
    """The single row that hands out change sequence numbers.

    A writing transaction increments `value` just before it commits and keeps the row
    locked until then, so sequence numbers are handed out in commit order. Pulls read
    `value` as their high-water mark: every change at or below it is committed.
    """

    __tablename__ = "sync_counter"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)
    # Tombstones and evictions at or below this number have been purged; a client
    # whose cursor is older must download its data again.
    tombstone_floor: int = Field(default=0, sa_type=BigInteger)


class SyncChange(SQLModel, table=True):
    """One entry of the change log that pulls read, in change sequence order.

    The log holds the latest entry per row and audience only: an older `put` or
    `delete` of the same row is removed when a newer one is written. The scope
    columns say who receives the entry: the owning rep, the region's lead, the
    store's clerks and managers; admins receive every entry except evictions.
    """

    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_owner_seq", "owner_id", "seq"),
        Index("ix_sync_changes_region_seq", "region_id", "seq"),
        Index("ix_sync_changes_store_seq", "store_id", "seq"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    entity: str = Field(max_length=32)
    entity_id: uuid.UUID = Field(index=True)
    # put: the row is new or changed; delete: tombstone; evict: the row left this audience's scope.
    op: str = Field(max_length=8)
    owner_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None
    store_id: uuid.UUID | None = None
    changed_at: datetime = _timestamp()


class SyncClient(SQLModel, table=True):
    """A client installation (one local database) and the last mutation id the server applied from it."""

    __tablename__ = "sync_clients"

    client_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    last_mutation_id: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()


class SyncRejection(SyncedRow, table=True):
    """A mutation the server did not apply, with the reason shown to the user on the record."""

    __tablename__ = "sync_rejections"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(index=True)
    mutation_id: int = Field(sa_type=BigInteger)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    op: str = Field(max_length=8)
    reason: str = Field(max_length=500)
    fields: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _timestamp()


class SyncConflict(SyncedRow, table=True):
    """A field value that a concurrent edit overwrote: last writer in server order won."""

    __tablename__ = "sync_conflicts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    entity: str = Field(max_length=32)
    entity_id: uuid.UUID = Field(index=True)
    field: str = Field(max_length=32)
    lost_value: dict = Field(default_factory=dict, sa_type=JSON)
    won_value: dict = Field(default_factory=dict, sa_type=JSON)
    lost_by: uuid.UUID | None = None
    won_by: uuid.UUID | None = None
    created_at: datetime = _timestamp()


# Tables of the health score, leads, alerts, content, jobs and store members, registered on the same metadata.
from server import feature_tables  # noqa: E402,F401
