"""Check-in flags for regional leads and admins: check-ins that failed the server's re-check."""

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import col, func, select

from server.api.paging import Limit, Offset
from server.deps import CurrentUser, SessionDep
from server.models import CheckinFlag, Customer, Region, Role, User, Visit
from server.schemas import Page

router = APIRouter(prefix="/api/checkins", tags=["check-ins"])


class CheckinFlagPublic(BaseModel):
    id: uuid.UUID
    visit_id: uuid.UUID
    visit_type: str
    # Device time of the check-in tap, and server time of its arrival.
    captured_at: datetime | None
    server_received_at: datetime | None
    customer_id: uuid.UUID
    customer_name: str
    rep_id: uuid.UUID
    rep_name: str
    region_id: uuid.UUID | None
    region_name: str | None
    reasons: list[str]
    details: dict
    created_at: datetime


@router.get("/flags", response_model=Page[CheckinFlagPublic])
def list_flags(user: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[CheckinFlagPublic]:
    """List flagged check-ins, newest first: a regional lead gets those of their region, an admin all."""
    if user.role == Role.ADMIN:
        scope = ()
    elif user.role == Role.REGIONAL_LEAD and user.region_id is not None:
        scope = (CheckinFlag.region_id == user.region_id,)
    else:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' has no access to check-in flags; they are for regional leads and admins.")

    live = (CheckinFlag.deleted == False, *scope)  # noqa: E712
    total = session.exec(select(func.count()).select_from(CheckinFlag).where(*live)).one()
    rows = session.exec(
        select(CheckinFlag, Visit, Customer, User, Region)
        .join(Visit, Visit.id == CheckinFlag.visit_id)
        .join(Customer, Customer.id == CheckinFlag.customer_id)
        .join(User, User.id == CheckinFlag.rep_id)
        .outerjoin(Region, Region.id == CheckinFlag.region_id)
        .where(*live)
        .order_by(col(CheckinFlag.created_at).desc(), col(CheckinFlag.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    items = [
        CheckinFlagPublic(
            id=flag.id,
            visit_id=flag.visit_id,
            visit_type=visit.visit_type,
            captured_at=visit.captured_at,
            server_received_at=visit.server_received_at,
            customer_id=flag.customer_id,
            customer_name=customer.name,
            rep_id=flag.rep_id,
            rep_name=rep.display_name,
            region_id=flag.region_id,
            region_name=region.name if region else None,
            reasons=flag.reasons,
            details=flag.details,
            created_at=flag.created_at,
        )
        for flag, visit, customer, rep, region in rows
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)
