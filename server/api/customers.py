import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from server.api.paging import Limit, Offset, fetch_page, filter_by_text
from server.config import get_settings
from server.db import writing_session
from server.deps import CurrentUser, SessionDep
from server.models import Contact, Customer, Region, Role, User, Visit
from server.schemas import ContactPublic, CustomerDetail, CustomerSummary, Page, VisitPublic
from server.scoping import customers_query
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/customers", tags=["customers"])


@router.get("", response_model=Page[CustomerSummary])
def list_customers(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=64, description="Matches name, city or district.")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CustomerSummary]:
    """List the customers the signed-in user may see, by name."""
    query = filter_by_text(customers_query(user), q, Customer.name, Customer.city, Customer.district)
    rows, total = fetch_page(session, query, (Customer.name, Customer.id), limit, offset)
    return Page(items=[CustomerSummary.model_validate(row, from_attributes=True) for row in rows], total=total, limit=limit, offset=offset)


@router.get("/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CustomerDetail:
    """One customer with contacts and recent visits. Outside the user's scope it is 404, as if absent."""
    customer = session.exec(customers_query(user).where(Customer.id == customer_id)).first()
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} not found.")

    owner = session.get(User, customer.owner_id) if customer.owner_id else None
    region = session.get(Region, customer.region_id) if customer.region_id else None
    contacts = session.exec(select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.name)).all()
    visits = session.exec(
        select(Visit).where(Visit.customer_id == customer.id).order_by(col(Visit.checked_in_at).desc()).limit(20)
    ).all()
    return CustomerDetail(
        **CustomerSummary.model_validate(customer, from_attributes=True).model_dump(),
        address=customer.address,
        latitude=customer.latitude,
        longitude=customer.longitude,
        coord_system=customer.coord_system,
        owner_name=owner.display_name if owner else None,
        region_name=region.name if region else None,
        contacts=[ContactPublic.model_validate(c, from_attributes=True) for c in contacts],
        visits=[VisitPublic.model_validate(v, from_attributes=True) for v in visits],
    )


# ---- Check-in geofence radius -------------------------------------------------------------------

# Smallest and largest radius an administrator may set, in metres. A fix must be accurate to
# 40% of the radius (core.geofence.GeofencePolicy), so 50 m requires 20 m, about the best a
# phone reaches indoors; 5 km already covers an industrial park with its own gates.
MIN_GEOFENCE_RADIUS_M = 50.0
MAX_GEOFENCE_RADIUS_M = 5000.0


class GeofenceRadiusUpdate(BaseModel):
    radius_m: float | None = Field(
        ge=MIN_GEOFENCE_RADIUS_M, le=MAX_GEOFENCE_RADIUS_M, allow_inf_nan=False,
        description="Check-in radius in metres, 50 to 5000; null returns the customer to the server's GEOFENCE_RADIUS_M.",
    )


class GeofenceRadiusPublic(BaseModel):
    customer_id: uuid.UUID
    # The customer's own radius; None when the default applies.
    radius_m: float | None
    effective_radius_m: float


@router.patch("/{customer_id}/geofence", response_model=GeofenceRadiusPublic)
def set_geofence_radius(customer_id: uuid.UUID, body: GeofenceRadiusUpdate, user: CurrentUser) -> GeofenceRadiusPublic:
    """Set a customer's check-in radius (administrators only); devices receive it with the next sync."""
    if user.role != Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' may not change a customer's geofence radius; ask an administrator.")
    with writing_session() as session:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.deleted:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Customer {customer_id} not found.")
        previous = customer.geofence_radius_m
        customer.geofence_radius_m = body.radius_m
        session.add(customer)
        recorder = ChangeRecorder(session)
        recorder.put("customers", customer, changed_fields={"geofence_radius_m"}, writer_id=user.id)
        recorder.flush()
        session.commit()
    default = get_settings().geofence_radius_m
    log.info("geofence radius of customer=%s set from %s to %s m by user=%s", customer_id, previous, body.radius_m, user.id)
    return GeofenceRadiusPublic(customer_id=customer_id, radius_m=body.radius_m, effective_radius_m=body.radius_m or default)
