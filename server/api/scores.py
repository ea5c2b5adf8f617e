"""Health scores: the latest score of each customer in scope, its reasons, its history, and a full recompute."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from server.api.access import AdminUser
from server.api.paging import Limit, Offset
from server.db import get_engine, writing_session
from server.deps import CurrentUser, SessionDep
from server.models import Customer
from server.scoring.engine import recompute_all
from server.scoring.models import LatestScore, ScoreSnapshot
from server.scoping import customers_query

router = APIRouter(prefix="/api/scores", tags=["health scores"])


class ScoreSummary(BaseModel):
    customer_id: uuid.UUID
    customer_name: str
    score: float
    band: str = Field(description="red (below 60), yellow (60 to 85) or green (above 85), with the model's thresholds")
    previous_score: float | None
    trend: float | None
    band_since: datetime
    computed_at: datetime
    model_version: int


class ScoreDetail(ScoreSummary):
    effective_weights: dict = Field(description="{indicator: weight}, summing to 1")
    indicators: dict = Field(description='{indicator: {"value": 0..1 or null (unknown), "contribution": points}}')
    explanation: dict = Field(description="missing_policy, unknown and boosted indicators, points per dimension, and the counts behind the values")


class SnapshotPublic(BaseModel):
    computed_at: datetime
    model_version: int
    score: float
    band: str
    previous_score: float | None
    trend: float | None
    effective_weights: dict
    indicators: dict
    explanation: dict


class ScorePage(BaseModel):
    items: list[ScoreSummary]
    total: int
    limit: int
    offset: int


class RecomputeResult(BaseModel):
    customers: int
    changed: int
    bands: dict[str, int]
    seconds: float
    model_version: int | None
    alerts_raised: int


def _summary(latest: LatestScore, name: str) -> dict:
    return {
        "customer_id": latest.customer_id, "customer_name": name, "score": latest.score, "band": latest.band,
        "previous_score": latest.previous_score, "trend": latest.trend, "band_since": latest.band_since,
        "computed_at": latest.computed_at, "model_version": latest.model_version,
    }


@router.get("", response_model=ScorePage)
def list_scores(
    user: CurrentUser,
    session: SessionDep,
    band: Annotated[str | None, Query(pattern="^(red|yellow|green)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ScorePage:
    """List the latest scores of the customers the user may see, lowest score first."""
    in_scope = customers_query(user).subquery()
    query = select(LatestScore, in_scope.c.name).join(in_scope, in_scope.c.id == LatestScore.customer_id).where(LatestScore.deleted == False)  # noqa: E712
    if band is not None:
        query = query.where(LatestScore.band == band)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(LatestScore.score, LatestScore.customer_id).offset(offset).limit(limit)).all()
    return ScorePage(items=[ScoreSummary(**_summary(latest, name)) for latest, name in rows], total=total, limit=limit, offset=offset)


def _customer_in_scope(session, user, customer_id: uuid.UUID) -> Customer:
    customer = session.exec(customers_query(user).where(Customer.id == customer_id)).first()
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} not found.")
    return customer


@router.get("/{customer_id}", response_model=ScoreDetail)
def get_score(customer_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ScoreDetail:
    """Return a customer's latest score with the reasons for it ("why this score")."""
    customer = _customer_in_scope(session, user, customer_id)
    latest = session.exec(select(LatestScore).where(LatestScore.customer_id == customer_id, LatestScore.deleted == False)).first()  # noqa: E712
    if latest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} has no health score yet; it is computed at the next recompute.")
    return ScoreDetail(
        **_summary(latest, customer.name),
        effective_weights=latest.effective_weights, indicators=latest.indicators, explanation=latest.explanation,
    )


@router.get("/{customer_id}/history", response_model=list[SnapshotPublic])
def get_history(customer_id: uuid.UUID, user: CurrentUser, session: SessionDep, limit: Limit = 30) -> list[SnapshotPublic]:
    """List a customer's snapshots, newest first."""
    _customer_in_scope(session, user, customer_id)
    rows = session.exec(
        select(ScoreSnapshot).where(ScoreSnapshot.customer_id == customer_id).order_by(col(ScoreSnapshot.computed_at).desc()).limit(limit)
    ).all()
    return [SnapshotPublic.model_validate(row, from_attributes=True) for row in rows]


@router.post("/recompute", response_model=RecomputeResult)
def recompute(user: AdminUser) -> RecomputeResult:
    """Recompute every customer's score now and apply the alert rules (the scheduled job does the same)."""
    from server.alerts.checks import raise_score_alerts

    report = recompute_all(get_engine())
    with writing_session() as session:
        raised = raise_score_alerts(session, report.batch) if report.batch is not None and len(report.batch) else 0
    return RecomputeResult(
        customers=report.customers, changed=report.changed, bands=report.bands, seconds=round(report.seconds, 3),
        model_version=report.model_version, alerts_raised=raised,
    )
