"""The alert inbox: a user's own alerts (a regional lead may also review their region's), state changes, and the customer behind an alert."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, false, func, select, true

from server.alerts.models import Alert
from server.alerts.service import InvalidTransition, change_state
from server.api.customers import get_customer
from server.api.paging import Limit, Offset
from server.deps import CurrentUser, SessionDep
from server.models import Role, User
from server.schemas import CustomerDetail
from server.sync.changes import ChangeRecorder

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class AlertPublic(BaseModel):
    id: uuid.UUID
    recipient_id: uuid.UUID
    kind: str = Field(description="reactivation, followup_escalation or lead_unassigned")
    state: str = Field(description="new, read or done")
    customer_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    region_id: uuid.UUID | None
    reason: str
    data: dict
    created_at: datetime
    read_at: datetime | None
    done_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertPublic]
    total: int
    limit: int
    offset: int


class AlertStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(pattern="^(read|done)$")


def _scope(user: User, scope: str):
    if scope == "own":
        return Alert.recipient_id == user.id
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.REGIONAL_LEAD and user.region_id is not None:
        return Alert.region_id == user.region_id
    return false()


@router.get("", response_model=AlertPage)
def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    scope: Annotated[str, Query(pattern="^(own|region)$", description="own: addressed to me; region: every alert of my region (leads, admins)")] = "own",
    state: Annotated[str | None, Query(pattern="^(new|read|done)$")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AlertPage:
    """Alerts, newest first."""
    query = select(Alert).where(_scope(user, scope))
    if state is not None:
        query = query.where(Alert.state == state)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Alert.created_at).desc(), Alert.id).offset(offset).limit(limit)).all()
    return AlertPage(items=[AlertPublic.model_validate(row, from_attributes=True) for row in rows], total=total, limit=limit, offset=offset)


def _own_alert(session, user: User, alert_id: uuid.UUID) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.recipient_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Alert {alert_id} not found among your alerts.")
    return alert


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertPublic:
    return AlertPublic.model_validate(_own_alert(session, user, alert_id), from_attributes=True)


@router.patch("/{alert_id}", response_model=AlertPublic)
def set_state(alert_id: uuid.UUID, body: AlertStateIn, user: CurrentUser, session: SessionDep) -> AlertPublic:
    """Mark one of your alerts read or done (new -> read -> done; done is final). The change syncs to your devices."""
    alert = _own_alert(session, user, alert_id)
    recorder = ChangeRecorder(session)
    try:
        change_state(session, recorder, alert, body.state, user)
    except InvalidTransition as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    recorder.flush()
    session.commit()
    session.refresh(alert)
    return AlertPublic.model_validate(alert, from_attributes=True)


@router.get("/{alert_id}/customer", response_model=CustomerDetail)
def open_customer(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CustomerDetail:
    """The customer an alert is about, as GET /api/customers/{id} returns it (404 if it left your scope)."""
    alert = _own_alert(session, user, alert_id)
    if alert.customer_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Alert {alert_id} is not about a customer (kind {alert.kind}).")
    return get_customer(alert.customer_id, user, session)

