"""The profile-view audit log and member follow-ups, read by store managers and administrators.

Clerks write both from their tablets through sync, so this router only reads. A store
manager reads their own store, an administrator every store.
"""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlmodel import select

from server.api.paging import Limit, Offset, fetch_page
from server.deps import CurrentUser, SessionDep
from server.members.models import MemberFollowup, ProfileView
from server.members.sync import store_in_scope
from server.models import Member, Role, User
from server.schemas import Page

router = APIRouter(prefix="/api/members", tags=["members"])

_AUDIT_ROLES = (Role.STORE_MANAGER, Role.ADMIN)
_FOLLOWUP_ROLES = (Role.CLERK, Role.STORE_MANAGER, Role.ADMIN)


class ProfileViewPublic(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    member_code: str
    viewer_id: uuid.UUID
    viewer_name: str
    store_id: uuid.UUID
    # Device time of the view, and server time of its arrival.
    viewed_at: datetime | None
    received_at: datetime
    # camera, wedge, typed or list.
    source: str


class MemberFollowupPublic(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    text: str
    captured_at: datetime | None
    input_method: str
    baby_age_months: int | None
    life_stage: str | None
    product_ids: list[str]
    intent: str | None
    followup_in_days: int | None
    talk_track_id: str | None


def _require_role(user: User, roles: tuple[Role, ...], what: str) -> None:
    if user.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' has no access to {what}.")


@router.get("/profile-views", response_model=Page[ProfileViewPublic])
def list_profile_views(
    user: CurrentUser,
    session: SessionDep,
    member_id: Annotated[uuid.UUID | None, Query(description="Only views of this member.")] = None,
    viewer_id: Annotated[uuid.UUID | None, Query(description="Only views by this user.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProfileViewPublic]:
    """List who opened which member's profile, newest first: a manager's own store, or every store for an admin."""
    _require_role(user, _AUDIT_ROLES, "the profile-view audit log")

    query = select(ProfileView, Member.member_code, User.display_name).join(Member, Member.id == ProfileView.member_id).join(
        User, User.id == ProfileView.viewer_id
    )
    if user.role != Role.ADMIN:
        query = query.where(ProfileView.store_id == user.store_id)
    if member_id is not None:
        query = query.where(ProfileView.member_id == member_id)
    if viewer_id is not None:
        query = query.where(ProfileView.viewer_id == viewer_id)

    rows, total = fetch_page(session, query, (ProfileView.received_at.desc(), ProfileView.id), limit, offset)
    items = [
        ProfileViewPublic(
            id=view.id, member_id=view.member_id, member_code=code, viewer_id=view.viewer_id, viewer_name=name,
            store_id=view.store_id, viewed_at=view.viewed_at, received_at=view.received_at, source=view.source,
        )
        for view, code, name in rows
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{member_id}/followups", response_model=list[MemberFollowupPublic])
def list_member_followups(member_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[MemberFollowupPublic]:
    """List a member's follow-ups, newest first, with their structured fields and chosen talk track."""
    _require_role(user, _FOLLOWUP_ROLES, "member follow-ups")
    member = session.get(Member, member_id)
    if member is None or member.deleted or not store_in_scope(user, member.store_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Member {member_id} not found in your store.")

    rows = session.exec(
        select(MemberFollowup)
        .where(MemberFollowup.member_id == member_id, MemberFollowup.deleted == False)  # noqa: E712
        .order_by(MemberFollowup.captured_at.desc(), MemberFollowup.id)
    ).all()
    return [MemberFollowupPublic.model_validate(row, from_attributes=True) for row in rows]
