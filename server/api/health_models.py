"""Admin API for the health model: read the versions, save a new version, activate one."""

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from server.api.access import AdminUser
from server.deps import CurrentUser, SessionDep
from server.scoring.config import INDICATORS, HealthModelConfig
from server.scoring.health_models import NoSuchModel, activate_model, ensure_active_model, save_model
from server.scoring.models import HealthModel

router = APIRouter(prefix="/api/health-models", tags=["health scores"])


class HealthModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    config: HealthModelConfig
    activate: bool = Field(default=True, description="Make this version the active model at once.")
    note: str = Field(default="", max_length=500)


class HealthModelPublic(BaseModel):
    version: int
    name: str
    is_active: bool
    note: str
    config: HealthModelConfig
    created_at: datetime
    activated_at: datetime | None


class IndicatorPublic(BaseModel):
    name: str
    dimension: str
    description: str


def _public(row: HealthModel) -> HealthModelPublic:
    return HealthModelPublic(
        version=row.version, name=row.name, is_active=row.is_active, note=row.note,
        config=HealthModelConfig.model_validate(row.config), created_at=row.created_at, activated_at=row.activated_at,
    )


@router.get("/indicators", response_model=list[IndicatorPublic])
def list_indicators(user: CurrentUser) -> list[IndicatorPublic]:
    """List the nine indicators, their dimension (one of customer_profile, interaction, sales_process) and how each is computed."""
    return [IndicatorPublic(name=i.name, dimension=i.dimension, description=i.description) for i in INDICATORS]


@router.get("", response_model=list[HealthModelPublic])
def list_models(user: AdminUser, session: SessionDep) -> list[HealthModelPublic]:
    """List every saved version, newest first."""
    ensure_active_model(session)
    rows = session.exec(select(HealthModel).order_by(HealthModel.version.desc())).all()
    return [_public(row) for row in rows]


@router.get("/active", response_model=HealthModelPublic)
def get_active_model(user: AdminUser, session: SessionDep) -> HealthModelPublic:
    active = ensure_active_model(session)
    return _public(session.get(HealthModel, active.version))


@router.post("", response_model=HealthModelPublic, status_code=status.HTTP_201_CREATED)
def create_model(body: HealthModelIn, user: AdminUser, session: SessionDep) -> HealthModelPublic:
    """Save a new version (weights normalised to sum to 1). Scores follow at the next recompute (POST /api/scores/recompute runs one now)."""
    row = save_model(session, body.config, name=body.name, activate=body.activate, note=body.note, created_by=user.id)
    session.commit()
    session.refresh(row)
    return _public(row)


@router.post("/{version}/activate", response_model=HealthModelPublic)
def activate(version: int, user: AdminUser, session: SessionDep) -> HealthModelPublic:
    try:
        row = activate_model(session, version)
    except NoSuchModel as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{error}; list the versions with GET /api/health-models.") from None
    session.commit()
    session.refresh(row)
    return _public(row)

