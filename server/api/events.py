"""Record external customer events (website downloads, proposal tracking, meetings, sales-process steps).

Callers: integrations with the X-Api-Key header, or admins. Recorded events rescore their
customers at once.
"""

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select

from server.api.access import Caller, integration_caller
from server.api.paging import Limit, Offset
from server.db import writing_session
from server.deps import CurrentUser, SessionDep
from server.models import Customer, Role
from server.scoring.hooks import rescore
from server.scoring.models import KINDS_WITH_REF, CustomerEvent, EventKind
from server.scoping import customers_query

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/events", tags=["health scores"])

# How far in the future an event time may lie, for clocks of integrations that run slightly ahead.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
MAX_EVENTS_PER_REQUEST = 1000

EventCaller = Annotated[Caller, Depends(integration_caller(Role.ADMIN))]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    kind: EventKind
    occurred_at: AwareDatetime = Field(description="When it happened, with a UTC offset, e.g. 2026-12-01T10:00:00+08:00.")
    ref: str | None = Field(default=None, min_length=1, max_length=64, description="Proposal, meeting or objection id; required for those kinds.")
    due_at: AwareDatetime | None = Field(default=None, description="competitor_sheet_submitted: when the sheet was due.")
    value: float | None = Field(default=None, ge=0, le=1, description="requirement_confirmed: share of requirement items confirmed.")
    payload: dict = Field(default_factory=dict, description="Anything else the source system sends, kept as is.")
    source: str = Field(default="api", min_length=1, max_length=32, pattern=r"^[a-z0-9_.-]+$")
    external_id: str | None = Field(default=None, min_length=1, max_length=64, description="The source's id; a repeat is ignored.")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> "EventIn":
        if self.kind in KINDS_WITH_REF and self.ref is None:
            raise ValueError(f"a {self.kind.value} event needs 'ref' (the id of the proposal, meeting or objection it is about)")
        if self.value is not None and self.kind != EventKind.REQUIREMENT_CONFIRMED:
            raise ValueError(f"'value' is only for requirement_confirmed events, not {self.kind.value}")
        if self.due_at is not None and self.kind != EventKind.COMPETITOR_SHEET_SUBMITTED:
            raise ValueError(f"'due_at' is only for competitor_sheet_submitted events, not {self.kind.value}")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class EventResult(BaseModel):
    index: int
    id: uuid.UUID
    status: str = Field(description="recorded, or duplicate when (source, external_id) was recorded before")


class EventBatchResult(BaseModel):
    recorded: int
    duplicates: int
    rescored_customers: int
    results: list[EventResult]


class EventPublic(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    occurred_at: datetime
    ref: str | None
    due_at: datetime | None
    value: float | None
    payload: dict
    source: str
    external_id: str | None
    recorded_at: datetime


@router.post("", response_model=EventBatchResult)
def record_events(body: EventBatch, caller: EventCaller) -> EventBatchResult:
    """Record a batch of events and rescore their customers. All events are checked before any is stored."""
    now = datetime.now(timezone.utc)
    late = [str(i) for i, event in enumerate(body.events) if event.occurred_at > now + MAX_CLOCK_AHEAD]
    if late:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"events {', '.join(late)} have occurred_at in the future (server time {now.isoformat()}); send the time the event happened.",
        )

    with writing_session() as session:
        customer_ids = {event.customer_id for event in body.events}
        found = set(session.exec(select(Customer.id).where(col(Customer.id).in_(customer_ids), Customer.deleted == False)).all())  # noqa: E712
        missing = sorted(str(customer_id) for customer_id in customer_ids - found)
        if missing:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"customers not found or deleted: {', '.join(missing)}.")

        results, touched = _store(session, body.events, caller, now)
        session.commit()
        recorded = sum(1 for result in results if result.status == "recorded")
        rescored = rescore(session, sorted(touched)).customers if touched else 0

    log.info("events recorded=%d duplicates=%d by %s; rescored %d customers",
             recorded, len(results) - recorded, caller.user_id or "integration", rescored)
    return EventBatchResult(recorded=recorded, duplicates=len(results) - recorded, rescored_customers=rescored, results=results)


def _store(session, events: list[EventIn], caller: Caller, now: datetime) -> tuple[list[EventResult], set]:
    keys = [(event.source, event.external_id) for event in events if event.external_id]
    known: dict = {}
    for source, external_id in keys:
        row = session.exec(select(CustomerEvent).where(CustomerEvent.source == source, CustomerEvent.external_id == external_id)).first()
        if row is not None:
            known[(source, external_id)] = row.id

    results, touched = [], set()
    for index, event in enumerate(events):
        key = (event.source, event.external_id)
        if event.external_id and key in known:
            results.append(EventResult(index=index, id=known[key], status="duplicate"))
            continue
        row = CustomerEvent(**{**event.model_dump(), "kind": event.kind.value}, recorded_by=caller.user_id, recorded_at=now)
        session.add(row)
        if event.external_id:
            known[key] = row.id
        touched.add(event.customer_id)
        results.append(EventResult(index=index, id=row.id, status="recorded"))
    session.flush()
    return results, touched


@router.get("", response_model=list[EventPublic])
def list_events(
    user: CurrentUser,
    session: SessionDep,
    customer_id: uuid.UUID,
    kind: Annotated[EventKind | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[EventPublic]:
    """List one customer's events, newest first. A customer outside the user's scope is 404, as if absent."""
    if session.exec(customers_query(user).where(Customer.id == customer_id)).first() is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} not found.")
    query = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if kind is not None:
        query = query.where(CustomerEvent.kind == kind.value)
    rows = session.exec(query.order_by(col(CustomerEvent.occurred_at).desc()).offset(offset).limit(limit)).all()
    return [EventPublic.model_validate(row, from_attributes=True) for row in rows]
