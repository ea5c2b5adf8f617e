"""Admin API for the WeCom and DingTalk robots that receive each region's alerts, and their delivery log."""

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col, select

from server.alerts.models import AlertChannel, AlertDelivery, AlertKind
from server.api.access import AdminUser
from server.deps import SessionDep
from server.models import Region, utcnow

router = APIRouter(prefix="/api/alert-channels", tags=["alerts"])

# Both WeCom and DingTalk accept at most 20 messages a minute per robot.
ROBOT_MESSAGES_PER_MINUTE = 20


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


def _check_kinds(kinds: list[str]) -> list[str]:
    known = {kind.value for kind in AlertKind}
    unknown = sorted(set(kinds) - known)
    if unknown:
        raise ValueError(f"unknown alert kinds {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return kinds


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    kind: str = Field(pattern="^(wecom|dingtalk)$")
    region_id: uuid.UUID | None = Field(default=None, description="None: the robot receives the alerts of every region.")
    webhook_url: str = Field(max_length=500, description="The robot's webhook URL, including its key or access_token.")
    secret: str | None = Field(default=None, max_length=200, description="DingTalk signing secret (SEC...), if the robot signs.")
    enabled: bool = True
    max_per_minute: int = Field(default=ROBOT_MESSAGES_PER_MINUTE, ge=1, le=ROBOT_MESSAGES_PER_MINUTE)
    alert_kinds: list[str] = Field(default_factory=list, description="Alert kinds to send; empty means all.")

    _url = field_validator("webhook_url")(_check_url)
    _kinds = field_validator("alert_kinds")(_check_kinds)


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=64)
    region_id: uuid.UUID | None = None
    webhook_url: str | None = Field(default=None, max_length=500)
    secret: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    max_per_minute: int | None = Field(default=None, ge=1, le=ROBOT_MESSAGES_PER_MINUTE)
    alert_kinds: list[str] | None = None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("alert_kinds")
    @classmethod
    def _kinds(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_kinds(value)


class ChannelPublic(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    region_id: uuid.UUID | None
    # The URL without its query string, which carries the robot's key.
    webhook_url_masked: str
    has_secret: bool
    enabled: bool
    max_per_minute: int
    alert_kinds: list[str]
    created_at: datetime
    updated_at: datetime


class DeliveryPublic(BaseModel):
    id: int
    channel_kind: str
    channel_id: uuid.UUID | None
    alert_ids: list[str]
    status: str
    http_status: int | None
    error: str | None
    attempt: int
    next_attempt_at: datetime | None
    attempted_at: datetime
    duration_ms: float | None


def _public(channel: AlertChannel) -> ChannelPublic:
    parts = urlsplit(channel.webhook_url)
    masked = f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
    return ChannelPublic(
        id=channel.id, name=channel.name, kind=channel.kind, region_id=channel.region_id, webhook_url_masked=masked,
        has_secret=bool(channel.secret), enabled=channel.enabled, max_per_minute=channel.max_per_minute,
        alert_kinds=list(channel.alert_kinds or []), created_at=channel.created_at, updated_at=channel.updated_at,
    )


def _check_region(session, region_id: uuid.UUID | None) -> None:
    if region_id is not None and session.get(Region, region_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Region {region_id} not found.")


@router.get("", response_model=list[ChannelPublic])
def list_channels(user: AdminUser, session: SessionDep) -> list[ChannelPublic]:
    return [_public(channel) for channel in session.exec(select(AlertChannel).order_by(AlertChannel.name)).all()]


@router.post("", response_model=ChannelPublic, status_code=status.HTTP_201_CREATED)
def create_channel(body: ChannelIn, user: AdminUser, session: SessionDep) -> ChannelPublic:
    _check_region(session, body.region_id)
    channel = AlertChannel(**body.model_dump())
    session.add(channel)
    session.commit()
    session.refresh(channel)
    return _public(channel)


@router.patch("/{channel_id}", response_model=ChannelPublic)
def update_channel(channel_id: uuid.UUID, body: ChannelPatch, user: AdminUser, session: SessionDep) -> ChannelPublic:
    """Change a robot; disable it with {"enabled": false} (queued alerts then wait until it is enabled again)."""
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Alert channel {channel_id} not found.")
    changes = body.model_dump(exclude_unset=True)
    _check_region(session, changes.get("region_id"))
    for name, value in changes.items():
        setattr(channel, name, value)
    channel.updated_at = utcnow()
    session.add(channel)
    session.commit()
    session.refresh(channel)
    return _public(channel)


@router.get("/{channel_id}/deliveries", response_model=list[DeliveryPublic])
def list_deliveries(
    channel_id: uuid.UUID, user: AdminUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[DeliveryPublic]:
    """List the robot's delivery attempts, newest first."""
    if session.get(AlertChannel, channel_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Alert channel {channel_id} not found.")
    rows = session.exec(
        select(AlertDelivery).where(AlertDelivery.channel_id == channel_id).order_by(col(AlertDelivery.attempted_at).desc(), col(AlertDelivery.id).desc()).limit(limit)
    ).all()
    return [DeliveryPublic.model_validate(row, from_attributes=True) for row in rows]
