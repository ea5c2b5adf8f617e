"""The job_state table: one row per scheduled job, with its schedule bookkeeping and (on SQLite) its lock."""

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from server.models import UtcDateTime


class JobState(SQLModel, table=True):
    __tablename__ = "job_state"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    # SQLite lock: the runner holding the job and until when its lease lasts (unused on PostgreSQL).
    holder: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    last_started_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    last_finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    # ok or error
    last_status: str | None = Field(default=None, max_length=8)
    last_error: str | None = Field(default=None, max_length=500)
    last_duration_ms: float | None = None
    # What the last run reported (counts), for operators.
    last_result: str | None = Field(default=None, max_length=500)
    runs: int = 0
