"""Sync rules of the store entities: who may write which member rows, and what the server fills in.

Members, their purchases and member follow-ups go to every clerk and manager of the
member's store. Profile views go back only to the device user who made them, because the
clerk home lists the last shoppers served from them. Managers and admins read the whole
audit log through the API (server.api.member_audit).
"""

import uuid
from typing import Any

from sqlmodel import Session, select

from server.models import Member, Role, Store, SyncedRow, User
from server.members.models import MemberFollowup, ProfileView
from server.sync.entities import MutationRejected

STORE_ENTITIES = frozenset({"members", "member_purchases", "member_followups", "profile_views"})
# A member's history and the audit log are never deleted from a device.
_UNDELETABLE = frozenset({"members", "profile_views"})


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of a phone number: 13812345678 -> 138****5678."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def store_in_scope(user: User, store_id: uuid.UUID | None) -> bool:
    """Tell whether `user` may read and write the member data of store `store_id`."""
    if user.role == Role.ADMIN:
        return True
    if user.role in (Role.CLERK, Role.STORE_MANAGER):
        return user.store_id is not None and store_id == user.store_id
    return False


def store_row_in_scope(user: User, entity: str, row: SyncedRow) -> bool:
    if entity == "profile_views":
        return user.role == Role.ADMIN or row.viewer_id == user.id
    return store_in_scope(user, row.store_id)


def check_store_op(entity: str, op: str) -> None:
    """Raise MutationRejected for an operation clients may not perform on a store entity."""
    if entity not in STORE_ENTITIES:
        return
    if op == "delete" and entity in _UNDELETABLE:
        raise MutationRejected(f"{entity} cannot be deleted from a device; ask an administrator")


def create_store_row(session: Session, user: User, entity: str, entity_id: uuid.UUID, values: dict[str, Any]) -> SyncedRow:
    """Build the new row of a store entity from validated `values`, filling in the server-set fields.

    Raises MutationRejected when the user may not write to the store, or the member is unknown.
    """
    if entity == "members":
        return _new_member(session, user, entity_id, values)

    member = session.get(Member, values["member_id"])
    if member is None or member.deleted:
        raise MutationRejected(f"member {values['member_id']} not found or deleted")
    if not store_in_scope(user, member.store_id):
        raise MutationRejected(f"member {member.id} belongs to another store")
    if entity == "member_followups":
        values["author_id"] = user.id
        values["author_name"] = user.display_name
        return MemberFollowup(id=entity_id, store_id=member.store_id, **values)
    if entity == "profile_views":
        values["viewer_id"] = user.id
        return ProfileView(id=entity_id, store_id=member.store_id, **values)
    raise MutationRejected(f"entity {entity!r} cannot be written by clients")


def _new_member(session: Session, user: User, entity_id: uuid.UUID, values: dict[str, Any]) -> Member:
    requested_store = values.pop("store_id")
    if user.role == Role.ADMIN:
        if requested_store is None or session.get(Store, requested_store) is None:
            raise MutationRejected("an administrator registering a member must give an existing store_id")
        store_id = requested_store
    elif user.role in (Role.CLERK, Role.STORE_MANAGER) and user.store_id is not None:
        if requested_store not in (None, user.store_id):
            raise MutationRejected("you may only register members of your own store")
        store_id = user.store_id
    else:
        raise MutationRejected("only store clerks, store managers and administrators may register members")

    taken = session.exec(select(Member.id).where(Member.member_code == values["member_code"])).first()
    if taken is not None:
        raise MutationRejected(f"member code {values['member_code']} is already registered; scan the card again or look the member up")
    return Member(id=entity_id, store_id=store_id, **values)
