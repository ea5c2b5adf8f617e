"""Admin API for the lead grading and assignment rules: read the active version, save a new one."""

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from server.api.access import AdminUser
from server.deps import SessionDep
from server.leads.config import LeadRulesConfig, load_active_rules, save_rules
from server.leads.models import LeadRuleSet

router = APIRouter(prefix="/api/lead-rules", tags=["leads"])


class LeadRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: LeadRulesConfig
    note: str = Field(default="", max_length=500)


class LeadRulesPublic(BaseModel):
    version: int | None = Field(description="None: the built-in default, not saved yet")
    config: LeadRulesConfig
    note: str = ""
    created_at: datetime | None = None


@router.get("", response_model=LeadRulesPublic)
def get_rules(user: AdminUser, session: SessionDep) -> LeadRulesPublic:
    """Return the active rules (the built-in default when none was saved)."""
    active = load_active_rules(session)
    row = session.get(LeadRuleSet, active.version) if active.version is not None else None
    return LeadRulesPublic(version=active.version, config=active.config, note=row.note if row else "", created_at=row.created_at if row else None)


@router.get("/versions", response_model=list[LeadRulesPublic])
def list_versions(user: AdminUser, session: SessionDep) -> list[LeadRulesPublic]:
    rows = session.exec(select(LeadRuleSet).order_by(col(LeadRuleSet.version).desc())).all()
    return [LeadRulesPublic(version=row.version, config=LeadRulesConfig.model_validate(row.config), note=row.note, created_at=row.created_at) for row in rows]


@router.post("", response_model=LeadRulesPublic, status_code=status.HTTP_201_CREATED)
def save(body: LeadRulesIn, user: AdminUser, session: SessionDep) -> LeadRulesPublic:
    """Save and activate a new version; leads received from now on are graded by it."""
    row = save_rules(session, body.config, body.note, user.id)
    session.commit()
    session.refresh(row)
    return LeadRulesPublic(version=row.version, config=LeadRulesConfig.model_validate(row.config), note=row.note, created_at=row.created_at)
