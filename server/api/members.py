from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.paging import Limit, Offset, fetch_page, filter_by_text
from server.deps import CurrentUser, SessionDep
from server.models import Member, Role
from server.schemas import MemberPublic, Page
from server.scoping import members_query

router = APIRouter(prefix="/api/members", tags=["members"])

_MEMBER_ROLES = (Role.CLERK, Role.STORE_MANAGER, Role.ADMIN)


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of a mobile number: 13812345678 -> 138****5678."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def to_member_public(member: Member) -> MemberPublic:
    return MemberPublic(
        id=member.id,
        store_id=member.store_id,
        member_code=member.member_code,
        name=member.name,
        phone_masked=mask_phone(member.phone),
        baby_birth_date=member.baby_birth_date,
        allergens=member.allergens,
    )


@router.get("", response_model=Page[MemberPublic])
def list_members(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=64, description="Matches name or member code.")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[MemberPublic]:
    """List the members of the signed-in clerk's or store manager's store."""
    if user.role not in _MEMBER_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' has no access to store members.")

    query = filter_by_text(members_query(user), q, Member.name, Member.member_code)
    rows, total = fetch_page(session, query, (Member.name, Member.id), limit, offset)
    return Page(items=[to_member_public(row) for row in rows], total=total, limit=limit, offset=offset)
