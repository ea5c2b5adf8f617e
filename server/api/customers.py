import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import col, select

from server.api.paging import Limit, Offset, fetch_page, filter_by_text
from server.deps import CurrentUser, SessionDep
from server.models import Contact, Customer, Region, User, Visit
from server.schemas import ContactPublic, CustomerDetail, CustomerSummary, Page, VisitPublic
from server.scoping import customers_query

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
