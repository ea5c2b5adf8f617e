"""Tables of lead intake: leads and the versioned grading and assignment rules."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.models import UtcDateTime, utcnow


class LeadSource(str, enum.Enum):
    WEBSITE_FORM = "website_form"
    HOTLINE = "hotline"
    TRADE_SHOW = "trade_show"


class LeadStatus(str, enum.Enum):
    # In the sales pool, not assigned yet.
    NEW = "new"
    # Graded into the nurture pool: marketing follows it, not a rep.
    NURTURE = "nurture"
    ASSIGNED = "assigned"
    WON = "won"
    LOST = "lost"


# Statuses that count against a rep's capacity.
OPEN_STATUSES = (LeadStatus.ASSIGNED.value,)
CLOSED_STATUSES = (LeadStatus.WON.value, LeadStatus.LOST.value)


class LeadRuleSet(SQLModel, table=True):
    """One saved version of the lead grading and assignment rules; exactly one is active."""

    __tablename__ = "lead_rule_sets"
    __table_args__ = (
        Index("uq_lead_rule_sets_active", "is_active", unique=True, sqlite_where=text("is_active"), postgresql_where=text("is_active")),
    )

    version: int | None = Field(default=None, primary_key=True)
    # A LeadRulesConfig as JSON.
    config: dict = Field(sa_type=JSON)
    is_active: bool = False
    note: str = Field(default="", max_length=500)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


class Lead(SQLModel, table=True):
    """A lead from the website form, the hotline or a trade show, with its grade and assignment."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
        Index("ix_leads_status_grade", "status", "grade"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    source: str = Field(max_length=16)
    external_id: str | None = Field(default=None, max_length=64)
    # When the lead arrived at the source system; the assignment lag is measured from here.
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    company_name: str = Field(default="", max_length=128)
    contact_name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)
    province: str = Field(default="", max_length=32)
    city: str = Field(default="", max_length=32)
    industry: str = Field(default="", max_length=64)
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)

    # Website form: percentage of form fields filled (0..100), "has purchase budget" ticked, seconds on site.
    form_completeness_pct: float | None = None
    has_budget: bool | None = None
    time_on_site_s: float | None = None
    # Hotline: whether the call reached a human, and its duration in seconds.
    transferred_to_human: bool | None = None
    call_duration_s: float | None = None
    notes: str = Field(default="", max_length=1000)
    extra: dict = Field(default_factory=dict, sa_type=JSON)

    # A, B, C or nurture, with the rule that decided it and the values it checked.
    grade: str = Field(max_length=8)
    grade_reason: dict = Field(default_factory=dict, sa_type=JSON)
    rules_version: int | None = None

    status: str = Field(default=LeadStatus.NEW.value, max_length=16)
    assigned_to: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    assigned_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    assigned_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # Seconds from received_at to assigned_at.
    assignment_lag_s: float | None = None
    # How the rep was chosen: ability scores and open leads of the candidates considered.
    assignment: dict = Field(default_factory=dict, sa_type=JSON)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
