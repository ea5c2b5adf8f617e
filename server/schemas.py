"""Request and response bodies of the HTTP API.

Requests reject unknown fields, so a misspelt field is reported instead of ignored.
"""

import uuid
from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from server.models import CoordSystem, Role


class StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(StrictRequest):
    login: str = Field(min_length=1, max_length=64, description="Username or mobile phone number.")
    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    region_id: uuid.UUID | None
    region_name: str | None = None
    store_id: uuid.UUID | None
    store_name: str | None = None


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserPublic


class CustomerSummary(BaseModel):
    id: uuid.UUID
    name: str
    industry: str
    province: str
    city: str
    district: str
    owner_id: uuid.UUID | None
    region_id: uuid.UUID | None


class ContactPublic(BaseModel):
    id: uuid.UUID
    name: str
    title: str
    decision_role: str
    phone: str


class VisitPublic(BaseModel):
    id: uuid.UUID
    visit_type: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    summary: str


class CustomerDetail(CustomerSummary):
    address: str
    latitude: float | None
    longitude: float | None
    coord_system: CoordSystem
    owner_name: str | None
    region_name: str | None
    contacts: list[ContactPublic]
    visits: list[VisitPublic]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class MemberPublic(BaseModel):
    id: uuid.UUID
    store_id: uuid.UUID
    member_code: str
    name: str
    # Shown as 138****1234: shoppers' phone numbers are personal information.
    phone_masked: str
    baby_birth_date: date | None
    allergens: str
