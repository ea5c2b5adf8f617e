"""Lead intake and assignment: website-form, hotline and trade-show leads are graded, stored and routed to reps."""

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import col, false, func, select

from server.api.access import Caller, LeadOrAdminUser, integration_caller
from server.api.paging import Limit, Offset
from server.deps import CurrentUser, SessionDep
from server.leads.ability import rep_abilities
from server.leads.config import load_active_rules
from server.leads.intake import LeadConflict, assign, close, intake, open_lead_count
from server.leads.models import Lead, LeadSource
from server.models import Role, User

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/leads", tags=["leads"])

IntakeCaller = Annotated[Caller, Depends(integration_caller(Role.ADMIN, Role.REGIONAL_LEAD))]

# How far in the future a lead's arrival time may lie (clocks of source systems running ahead).
MAX_CLOCK_AHEAD = timedelta(minutes=5)


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: LeadSource
    external_id: str | None = Field(default=None, min_length=1, max_length=64, description="The source system's id; a repeat returns the stored lead.")
    received_at: AwareDatetime | None = Field(default=None, description="When the lead arrived at the source; default now.")
    company_name: str = Field(default="", max_length=128)
    contact_name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20, pattern=r"^[0-9+\- ]*$")
    province: str = Field(default="", max_length=32)
    city: str = Field(default="", max_length=32)
    industry: str = Field(default="", max_length=64)
    region_code: str | None = Field(default=None, max_length=32, description="Region to route to; default: inferred from the province.")
    form_completeness_pct: float | None = Field(default=None, ge=0, le=100, description="Website form: percentage of fields filled.")
    has_budget: bool | None = Field(default=None, description="Website form or trade show: 'has purchase budget' ticked.")
    time_on_site_s: float | None = Field(default=None, ge=0, description="Website: seconds on the site before submitting.")
    transferred_to_human: bool | None = Field(default=None, description="Hotline: the call reached a person.")
    call_duration_s: float | None = Field(default=None, ge=0, description="Hotline: call duration in seconds.")
    notes: str = Field(default="", max_length=1000)
    extra: dict = Field(default_factory=dict, description="Anything else the source sends, kept as is.")


class LeadPublic(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str | None
    received_at: datetime
    company_name: str
    contact_name: str
    province: str
    city: str
    industry: str
    region_id: uuid.UUID | None
    form_completeness_pct: float | None
    has_budget: bool | None
    time_on_site_s: float | None
    transferred_to_human: bool | None
    call_duration_s: float | None
    grade: str
    grade_reason: dict
    rules_version: int | None
    status: str
    assigned_to: uuid.UUID | None
    assigned_at: datetime | None
    assignment_lag_s: float | None
    assignment: dict
    closed_at: datetime | None


class LeadPage(BaseModel):
    items: list[LeadPublic]
    total: int
    limit: int
    offset: int


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rep_id: uuid.UUID


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(pattern="^(won|lost)$")


def _public(lead: Lead) -> LeadPublic:
    return LeadPublic.model_validate(lead, from_attributes=True)


@router.post("", response_model=LeadPublic, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "A lead with this source and external_id was received before; it is returned unchanged."}})
def create_lead(body: LeadIn, caller: IntakeCaller, session: SessionDep, response: Response) -> LeadPublic:
    """Receive a lead: grade it by the active rules, store it (every lead is kept), and assign A leads to a rep."""
    now = datetime.now(timezone.utc)
    received_at = body.received_at or now
    if received_at > now + MAX_CLOCK_AHEAD:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"received_at {received_at.isoformat()} lies in the future (server time {now.isoformat()}).")
    values = body.model_dump(exclude={"region_code", "received_at"})
    values["source"] = body.source.value
    values["received_at"] = received_at
    try:
        result = intake(session, values, body.region_code, now)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{error}.") from None
    session.commit()
    session.refresh(result.lead)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _public(result.lead)


def _scoped(query, user: User):
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.REGIONAL_LEAD:
        return query.where(Lead.region_id == user.region_id)
    if user.role == Role.REP:
        return query.where(Lead.assigned_to == user.id)
    return query.where(false())


@router.get("", response_model=LeadPage)
def list_leads(
    user: CurrentUser,
    session: SessionDep,
    grade: Annotated[str | None, Query(pattern="^(A|B|C|nurture)$")] = None,
    lead_status: Annotated[str | None, Query(alias="status", pattern="^(new|nurture|assigned|won|lost)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LeadPage:
    """Leads the user may see (admin: all; regional lead: their region; rep: assigned to them), newest first."""
    query = _scoped(select(Lead), user)
    if grade is not None:
        query = query.where(Lead.grade == grade)
    if lead_status is not None:
        query = query.where(Lead.status == lead_status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Lead.received_at).desc(), Lead.id).offset(offset).limit(limit)).all()
    return LeadPage(items=[_public(row) for row in rows], total=total, limit=limit, offset=offset)


@router.get("/rep-abilities")
def list_rep_abilities(user: LeadOrAdminUser, session: SessionDep, region_id: uuid.UUID | None = None) -> list[dict]:
    """List every rep's ability score and its parts, highest first (a regional lead gets their region's reps)."""
    if user.role == Role.REGIONAL_LEAD:
        region_id = user.region_id
    parameters = load_active_rules(session).config.assignment.ability
    return [ability.as_dict() for ability in rep_abilities(session, parameters, datetime.now(timezone.utc), region_id)]


def _lead_for(session, user: User, lead_id: uuid.UUID) -> Lead:
    lead = session.exec(_scoped(select(Lead), user).where(Lead.id == lead_id)).first()
    if lead is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Lead {lead_id} not found.")
    return lead


@router.get("/{lead_id}", response_model=LeadPublic)
def get_lead(lead_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> LeadPublic:
    return _public(_lead_for(session, user, lead_id))


@router.post("/{lead_id}/assign", response_model=LeadPublic)
def assign_lead(lead_id: uuid.UUID, body: AssignIn, user: LeadOrAdminUser, session: SessionDep) -> LeadPublic:
    """Assign (or reassign) a lead to a rep by hand; the rep's capacity limit still applies."""
    lead = _lead_for(session, user, lead_id)
    rep = session.get(User, body.rep_id)
    if rep is None or rep.role != Role.REP or not rep.is_active:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"User {body.rep_id} is not an active rep.")
    if user.role == Role.REGIONAL_LEAD and rep.region_id != user.region_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "A regional lead may only assign leads to reps of their own region.")
    capacity = load_active_rules(session).config.assignment.max_open_leads_per_rep
    if lead.assigned_to != rep.id and open_lead_count(session, rep.id) >= capacity:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Rep {rep.username} already has {capacity} open leads, the limit; choose another rep.")
    try:
        assign(session, lead, rep.id, user.id, datetime.now(timezone.utc), {"method": "manual", "by": str(user.id)})
    except LeadConflict as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    session.commit()
    session.refresh(lead)
    return _public(lead)


@router.post("/{lead_id}/close", response_model=LeadPublic)
def close_lead(lead_id: uuid.UUID, body: CloseIn, user: CurrentUser, session: SessionDep) -> LeadPublic:
    """Close an assigned lead as won or lost (the assigned rep, their regional lead, or an admin)."""
    lead = _lead_for(session, user, lead_id)
    try:
        close(session, lead, body.outcome, datetime.now(timezone.utc))
    except LeadConflict as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    session.commit()
    session.refresh(lead)
    return _public(lead)
