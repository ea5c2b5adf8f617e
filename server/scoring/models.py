"""Tables of the health score: models, customer events, snapshots and the latest score per customer."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, UniqueConstraint, Uuid, text
from sqlmodel import Field, Relationship, SQLModel

from server.models import Contact, SyncedRow, UtcDateTime, Visit, utcnow


class HealthModel(SQLModel, table=True):
    """One saved version of the health model; exactly one version is active at a time.

    Versions are never edited: saving creates a new version, so every snapshot can name
    the configuration it was computed with.
    """

    __tablename__ = "health_models"
    __table_args__ = (
        Index("uq_health_models_active", "is_active", unique=True, sqlite_where=text("is_active"), postgresql_where=text("is_active")),
    )

    version: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    # A HealthModelConfig as JSON.
    config: dict = Field(sa_type=JSON)
    is_active: bool = False
    note: str = Field(default="", max_length=500)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    activated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class EventKind(str, enum.Enum):
    """Kinds of external customer events (website, proposal tracking, meetings, sales process)."""

    DOCUMENT_DOWNLOAD = "document_download"
    PROPOSAL_SENT = "proposal_sent"
    PROPOSAL_OPEN = "proposal_open"
    MEETING_INVITED = "meeting_invited"
    MEETING_ATTENDED = "meeting_attended"
    REQUIREMENT_CONFIRMED = "requirement_confirmed"
    COMPETITOR_SHEET_SUBMITTED = "competitor_sheet_submitted"
    OBJECTION_RAISED = "objection_raised"
    OBJECTION_RESOLVED = "objection_resolved"


# Kinds whose events must name what they are about in `ref` (the proposal, meeting or objection id),
# because the indicators count distinct refs or pair events by ref.
KINDS_WITH_REF = frozenset({
    EventKind.PROPOSAL_SENT, EventKind.PROPOSAL_OPEN, EventKind.MEETING_INVITED, EventKind.MEETING_ATTENDED,
    EventKind.OBJECTION_RAISED, EventKind.OBJECTION_RESOLVED,
})


class CustomerEvent(SQLModel, table=True):
    """Something a customer did or a sales step that happened, reported by an integration or an admin."""

    __tablename__ = "customer_events"
    __table_args__ = (
        # Covers the aggregate queries of server.scoring.facts, so they never read the table itself.
        Index("ix_customer_events_scoring", "customer_id", "occurred_at", "kind", "ref", "due_at", "value"),
        UniqueConstraint("source", "external_id", name="uq_customer_events_source_external_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customers.id")
    kind: str = Field(max_length=32)
    occurred_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # The proposal, meeting or objection the event is about.
    ref: str | None = Field(default=None, max_length=64)
    # competitor_sheet_submitted: when the sheet was due.
    due_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    # requirement_confirmed: share of the requirement items confirmed, 0..1 (none means all).
    value: float | None = None
    payload: dict = Field(default_factory=dict, sa_type=JSON)
    # The reporting system and its id for the event; a repeated (source, external_id) is a duplicate.
    source: str = Field(default="api", max_length=32)
    external_id: str | None = Field(default=None, max_length=64)
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


class ScoreSnapshot(SQLModel, table=True):
    """One computed health score of one customer, with the reasons for it. Append-only history."""

    __tablename__ = "score_snapshots"

    customer_id: uuid.UUID = Field(foreign_key="customers.id", primary_key=True)
    computed_at: datetime = Field(sa_column=Column(UtcDateTime(), primary_key=True))
    model_version: int
    score: float
    band: str = Field(max_length=8)
    previous_score: float | None = None
    # score - previous_score; None for a customer's first snapshot.
    trend: float | None = None
    # {indicator: weight}: the weights after the dynamic weight and the missing-value policy, summing to 1.
    effective_weights: dict = Field(default_factory=dict, sa_type=JSON)
    # {indicator: {"value": 0..1 or null (unknown), "contribution": points of the score}}.
    indicators: dict = Field(default_factory=dict, sa_type=JSON)
    # The missing-value policy, unknown and boosted indicators, points per dimension and input counts
    # (format in server.scoring.reasons).
    explanation: dict = Field(default_factory=dict, sa_type=JSON)


class LatestScore(SyncedRow, table=True):
    """The latest snapshot of each customer: the synced entity "score_snapshots" that devices receive.

    Each customer has one row (customer_id is unique), updated in place; its id is generated with the
    row and differs from the customer id. The JSON reasons are read from the snapshot the row points
    to (same customer_id and computed_at), not copied.
    """

    __tablename__ = "latest_scores"

    # Not indexed, unlike other synced tables: rows are found by id and customer, never by version.
    version: int = Field(default=0, sa_type=BigInteger)
    id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid(), ForeignKey("customers.id"), unique=True, nullable=False))
    computed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    model_version: int
    score: float
    band: str = Field(max_length=8)
    previous_score: float | None = None
    trend: float | None = None
    # When the customer entered its current band (the first snapshot in this band).
    band_since: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # CRC-32 of the reasons, to tell an unchanged recompute from a changed one without reading the JSON.
    fingerprint: int = Field(default=0, sa_type=BigInteger)

    snapshot: ScoreSnapshot | None = Relationship(
        sa_relationship_kwargs={
            "lazy": "joined",
            "viewonly": True,
            "uselist": False,
            "primaryjoin": "and_(LatestScore.customer_id == foreign(ScoreSnapshot.customer_id), "
            "LatestScore.computed_at == foreign(ScoreSnapshot.computed_at))",
        }
    )

    @property
    def effective_weights(self) -> dict:
        return self.snapshot.effective_weights if self.snapshot else {}

    @property
    def indicators(self) -> dict:
        return self.snapshot.indicators if self.snapshot else {}

    @property
    def explanation(self) -> dict:
        return self.snapshot.explanation if self.snapshot else {}


# Cover the decision-chain count and the confirming-visit lookup of the health score (server.scoring.facts),
# so a full recompute reads these indexes instead of the contacts and visits tables.
Index("ix_contacts_scoring", Contact.__table__.c.customer_id, Contact.__table__.c.decision_role, Contact.__table__.c.deleted)
Index("ix_visits_scoring", Visit.__table__.c.visit_type, Visit.__table__.c.checked_in_at, Visit.__table__.c.customer_id, Visit.__table__.c.deleted)
