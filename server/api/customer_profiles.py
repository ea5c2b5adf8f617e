"""Customer profile fields that the health score reads and reps do not edit in the app: the annual purchase band.

Callers: admins, the regional lead of the customer's region, or integrations (ERP, order
systems) with the X-Api-Key header. A change rescores the customer at once.
"""

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from server.api.access import Caller, integration_caller
from server.db import writing_session
from server.models import Customer, Role
from server.scoring.health_models import ensure_active_model
from server.scoring.hooks import rescore
from server.sync.changes import ChangeRecorder
from server.sync.entities import customer_in_scope

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/customer-profiles", tags=["health scores"])

ProfileCaller = Annotated[Caller, Depends(integration_caller(Role.ADMIN, Role.REGIONAL_LEAD))]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_band: str | None = Field(
        max_length=16, description="Annual purchase band code, one of the active health model's purchase_band.by_band keys; null when unknown."
    )


class ProfilePublic(BaseModel):
    customer_id: uuid.UUID
    purchase_band: str | None
    score: float | None
    band: str | None


@router.put("/{customer_id}", response_model=ProfilePublic)
def put_profile(customer_id: uuid.UUID, body: ProfileIn, caller: ProfileCaller) -> ProfilePublic:
    """Set the customer's annual purchase band and rescore it."""
    with writing_session() as session:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.deleted or (caller.user is not None and not customer_in_scope(caller.user, customer)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} not found.")
        bands = ensure_active_model(session).config.parameters.purchase_band.by_band
        if body.purchase_band is not None and body.purchase_band not in bands:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"unknown purchase_band '{body.purchase_band}'; the active health model knows: {', '.join(bands)}.",
            )
        if customer.purchase_band != body.purchase_band:
            customer.purchase_band = body.purchase_band
            session.add(customer)
            recorder = ChangeRecorder(session)
            recorder.put("customers", customer, changed_fields={"purchase_band"}, writer_id=caller.user_id)
            recorder.flush()
            session.commit()
            log.info("customer %s purchase band set to %s by %s", customer_id, body.purchase_band, caller.user_id or "integration")
        report = rescore(session, [customer_id])
        latest = report.batch
        score = float(latest.scores[0]) if latest is not None and len(latest) else None
        band = str(latest.bands[0]) if latest is not None and len(latest) else None
        return ProfilePublic(customer_id=customer_id, purchase_band=body.purchase_band, score=score, band=band)
