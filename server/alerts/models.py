"""Tables of alerts: the alerts themselves, the robot channels per region, the delivery queue and attempt log."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from server.models import SyncedRow, UtcDateTime, utcnow


class AlertKind(str, enum.Enum):
    # The customer's score is red: the owning rep gets the reactivation talk-track pack.
    REACTIVATION = "reactivation"
    # A green customer has had no follow-up for too long: the regional lead gets a to-do.
    FOLLOWUP_ESCALATION = "followup_escalation"
    # An A lead was not assigned in time: the regional lead gets a to-do.
    LEAD_UNASSIGNED = "lead_unassigned"


class AlertState(str, enum.Enum):
    NEW = "new"
    READ = "read"
    DONE = "done"


class Alert(SyncedRow, table=True):
    """An alert for one recipient, synced to the recipient's devices as their inbox."""

    __tablename__ = "alerts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    recipient_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=32)
    state: str = Field(default=AlertState.NEW.value, max_length=8)
    customer_id: uuid.UUID | None = Field(default=None, foreign_key="customers.id", index=True)
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id", index=True)
    # Region whose robot channels receive the alert.
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id")
    reason: str = Field(max_length=500)
    # The data behind the alert (score, band, days without follow-up, the talk-track scripts, ...).
    data: dict = Field(default_factory=dict, sa_type=JSON)
    # Identifies the cause; an alert with the same key is never raised again.
    dedupe_key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    done_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class ChannelKind(str, enum.Enum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    # Mobile push through a PushProvider; not a row of alert_channels.
    PUSH = "push"


class AlertChannel(SQLModel, table=True):
    """A WeCom or DingTalk group robot that receives the alerts of one region (or of all regions)."""

    __tablename__ = "alert_channels"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    # None: the robot receives the alerts of every region.
    region_id: uuid.UUID | None = Field(default=None, foreign_key="regions.id", index=True)
    # The robot's webhook URL, which carries its access key: treat it as a secret.
    webhook_url: str = Field(max_length=500)
    # DingTalk "additional signature" secret (SEC...); None when the robot does not sign.
    secret: str | None = Field(default=None, max_length=200)
    enabled: bool = True
    # Messages per minute the robot accepts: at most 20 for WeCom and DingTalk robots.
    max_per_minute: int = 20
    # Alert kinds this robot receives; empty means all.
    alert_kinds: list = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


class QueueState(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    # Given up after the maximum number of attempts.
    FAILED = "failed"


class AlertQueueItem(SQLModel, table=True):
    """One alert waiting for (or done with) delivery on one channel."""

    __tablename__ = "alert_queue"
    __table_args__ = (Index("ix_alert_queue_state_next", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: uuid.UUID = Field(foreign_key="alerts.id", index=True)
    channel_kind: str = Field(max_length=16)
    channel_id: uuid.UUID | None = Field(default=None, foreign_key="alert_channels.id")
    state: str = Field(default=QueueState.PENDING.value, max_length=8)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class DeliveryStatus(str, enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    TIMEOUT = "timeout"


class AlertDelivery(SQLModel, table=True):
    """One delivery attempt: one HTTP request to a robot (a digest of one or more alerts) or one push."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_channel_time", "channel_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_kind: str = Field(max_length=16)
    channel_id: uuid.UUID | None = Field(default=None, foreign_key="alert_channels.id")
    alert_ids: list = Field(default_factory=list, sa_type=JSON)
    status: str = Field(max_length=8)
    http_status: int | None = None
    error: str | None = Field(default=None, max_length=500)
    # The attempt number of the oldest alert in the digest: 1 for a first try.
    attempt: int = 1
    # When the alerts of a failed attempt are tried again; None after a success or the last attempt.
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    duration_ms: float | None = None
