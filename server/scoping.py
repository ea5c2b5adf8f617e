"""Which rows each role may read. Every read query passes through these filters.

rep: the customers they own. regional lead: the customers of their region.
clerk and store manager: the members of their store. admin: everything.
"""

from sqlmodel import false, select
from sqlmodel.sql.expression import SelectOfScalar

from server.models import Customer, Member, Role, User


def scope_customers(query: SelectOfScalar, user: User) -> SelectOfScalar:
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.REP:
        return query.where(Customer.owner_id == user.id)
    if user.role == Role.REGIONAL_LEAD and user.region_id is not None:
        return query.where(Customer.region_id == user.region_id)
    return query.where(false())


def scope_members(query: SelectOfScalar, user: User) -> SelectOfScalar:
    if user.role == Role.ADMIN:
        return query
    if user.role in (Role.CLERK, Role.STORE_MANAGER) and user.store_id is not None:
        return query.where(Member.store_id == user.store_id)
    return query.where(false())


def customers_query(user: User) -> SelectOfScalar:
    """Customers `user` may read, tombstones excluded."""
    return scope_customers(select(Customer).where(Customer.deleted == False), user)  # noqa: E712


def members_query(user: User) -> SelectOfScalar:
    return scope_members(select(Member), user)
