"""The content_packs table: editable content that alerts and screens show (seeded in Chinese)."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from server.models import UtcDateTime, utcnow


class PackKind(str, enum.Enum):
    # Scenario scripts for a rep or clerk to use with customers; items: {key, title, scenario, body}.
    TALK_TRACKS = "talk_tracks"
    # Preset contract clauses; items: {key, title, body}.
    CLAUSES = "clauses"
    # Steps to work through; items: {key, title, body, required}.
    CHECKLIST = "checklist"
    # Wording of alerts and robot digests; items: {key, title, body} with $placeholders.
    MESSAGE_TEMPLATES = "message_templates"


class ContentPack(SQLModel, table=True):
    """A named pack of content items; `version` grows by one on every save."""

    __tablename__ = "content_packs"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    kind: str = Field(max_length=32)
    title: str = Field(max_length=128)
    description: str = Field(default="", max_length=500)
    items: list = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
