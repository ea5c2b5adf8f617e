"""Sync endpoints: push mutations, pull changes."""

import logging
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError

from core.wire import DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, MAX_PUSH_MUTATIONS, RESYNC_REQUIRED
from server.db import writing_session
from server.deps import CurrentUser, SessionDep
from server.sync.pull import ResyncRequired, read_pull
from server.sync.push import ClientOwnedByAnotherUser, Mutation, apply_push

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/sync", tags=["sync"])

# Attempts for a push that hits a deadlock or a locked database, which a retry resolves.
PUSH_ATTEMPTS = 4


class MutationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, description="Per-client mutation number: 1, 2, 3, ...")
    op: str = Field(description="put, patch or delete")
    entity: str
    entity_id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    base_version: int = Field(default=0, ge=0, description="Row version the client had when the user made the change.")
    captured_at: str | None = Field(default=None, description="Device time of the change (data only, never used for ordering).")


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: uuid.UUID
    mutations: list[MutationIn] = Field(max_length=MAX_PUSH_MUTATIONS)


class MutationResultOut(BaseModel):
    id: int
    status: str
    reason: str | None = None


class PushResponse(BaseModel):
    last_mutation_id: int
    gap: bool
    results: list[MutationResultOut]


class PullResponse(BaseModel):
    cursor: int
    has_more: bool
    last_mutation_id: int | None
    changes: list[dict[str, Any]]
    remaining: int | None = None


def parse_http_date(value: str | None) -> datetime | None:
    """Parse an HTTP Date header (RFC 9110 IMF-fixdate) into an aware UTC datetime; None if absent or invalid."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@router.post("/push", response_model=PushResponse)
def push(
    body: PushRequest,
    user: CurrentUser,
    date: Annotated[str | None, Header(description="The device clock when sending (RFC 9110 Date); used to detect a wrong device clock at check-in.")] = None,
) -> PushResponse:
    """Apply a batch of mutations in one transaction. See core/wire.py for the format."""
    mutations = [Mutation(**m.model_dump()) for m in body.mutations]
    device_time = parse_http_date(date)
    if date and device_time is None:
        log.info("sync push client=%s sent an unparseable Date header %r; clock skew not checked", body.client_id, date[:64])
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        with writing_session() as session:
            try:
                result = apply_push(session, user, body.client_id, mutations, device_time=device_time)
                break
            except ClientOwnedByAnotherUser as error:
                raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
            except OperationalError as error:
                session.rollback()
                if attempt == PUSH_ATTEMPTS:
                    raise
                log.warning("sync push client=%s attempt %d failed, retrying: %s", body.client_id, attempt, str(error.orig).splitlines()[0])
                time.sleep(0.05 * attempt)
    return PushResponse(
        last_mutation_id=result.last_mutation_id,
        gap=result.gap,
        results=[MutationResultOut(id=r.id, status=r.status, reason=r.reason) for r in result.results],
    )


@router.get("/pull", response_model=PullResponse, responses={410: {"description": "Cursor too old: download again from 0."}})
def pull(
    user: CurrentUser,
    session: SessionDep,
    client_id: uuid.UUID,
    cursor: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PULL_LIMIT)] = DEFAULT_PULL_LIMIT,
    with_remaining: Annotated[bool, Query(description="Also count the changes left to download (for a progress bar).")] = False,
):
    """Return the changes after `cursor` that the signed-in user may see."""
    try:
        page = read_pull(session, user, client_id, cursor, limit, with_remaining)
    except ResyncRequired as error:
        return JSONResponse(status_code=status.HTTP_410_GONE, content={"code": RESYNC_REQUIRED, "detail": str(error)})
    # Pages carry thousands of plain dicts; returning them without response-model
    # validation keeps serialisation cost to one json.dumps.
    return JSONResponse({
        "cursor": page.cursor,
        "has_more": page.has_more,
        "last_mutation_id": page.last_mutation_id,
        "changes": page.changes,
        "remaining": page.remaining,
    })
