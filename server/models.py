"""Database tables of the organisation: regions, stores, users, customers, contacts, visits, members.

Every synced row has a client-generatable UUID primary key. Timestamps are UTC.
"""

import enum
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import Column, DateTime, Enum, String
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(nullable: bool = False, index: bool = False):
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class Role(str, enum.Enum):
    REP = "rep"
    CLERK = "clerk"
    STORE_MANAGER = "store_manager"
    REGIONAL_LEAD = "regional_lead"
    ADMIN = "admin"


class CoordSystem(str, enum.Enum):
    """Geodetic datum a stored position was captured in."""

    WGS84 = "wgs84"  # GPS
    GCJ02 = "gcj02"  # AMap, Tencent maps
    BD09 = "bd09"  # Baidu maps


def _enum_column_type(enum_class: type[enum.Enum], length: int) -> Enum:
    """A VARCHAR holding the enum's values (not names), loaded back as the enum member."""
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda members: [m.value for m in members])


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


class Customer(SQLModel, table=True):
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


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    name: str = Field(max_length=64)
    title: str = Field(default="", max_length=64)
    # Position in the customer's decision chain: technical, purchasing, finance or other.
    decision_role: str = Field(default="other", max_length=16)
    phone: str = Field(default="", max_length=20)


class Visit(SQLModel, table=True):
    __tablename__ = "visits"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id", index=True)
    rep_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    visit_type: str = Field(default="routine", max_length=32)
    checked_in_at: datetime | None = _timestamp(nullable=True)
    checked_out_at: datetime | None = _timestamp(nullable=True)
    summary: str = Field(default="", max_length=1000)


class Member(SQLModel, table=True):
    """A shopper in a store's loyalty programme."""

    __tablename__ = "members"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    store_id: uuid.UUID = Field(foreign_key="stores.id", index=True)
    member_code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    name: str = Field(max_length=64)
    phone: str = Field(default="", max_length=20)
    baby_birth_date: date | None = None
    allergens: str = Field(default="", max_length=255)
    created_at: datetime = _timestamp()
