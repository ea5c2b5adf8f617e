"""Tables of the store tablet: members' purchases, follow-ups about members, and the profile-view audit log.

Each row carries its member's store (`store_id`), so the change log can address it to the
store's clerks and managers without a join. The members table itself is server.models.Member.
"""

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from server.models import FollowupStructure, SyncedRow, UtcDateTime, utcnow


def _utc(index: bool = False, nullable: bool = True):
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class MemberPurchase(SyncedRow, table=True):
    """One line of a member's purchase history, written by the store's till (read-only on devices)."""

    __tablename__ = "member_purchases"
    __table_args__ = (Index("ix_member_purchases_member_purchased_at", "member_id", "purchased_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    member_id: uuid.UUID = Field(foreign_key="members.id")
    store_id: uuid.UUID = Field(foreign_key="stores.id", index=True)
    purchased_at: datetime | None = _utc()
    product_name: str = Field(max_length=128)
    quantity: int = 1
    # In fen (0.01 yuan), so sums stay exact.
    amount_fen: int = 0


class MemberFollowup(FollowupStructure, table=True):
    """A one-line follow-up a clerk recorded about a store member."""

    __tablename__ = "member_followups"
    __table_args__ = (Index("ix_member_followups_member_captured_at", "member_id", "captured_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    member_id: uuid.UUID = Field(foreign_key="members.id")
    # The member's store, set by the server.
    store_id: uuid.UUID = Field(foreign_key="stores.id", index=True)
    author_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    # Set by the server from the author's account, so other clerks of the store see who wrote it.
    author_name: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=2000)
    # When the author recorded it, by the device clock; kept as data, never used for ordering.
    captured_at: datetime | None = _utc()


class ProfileView(SyncedRow, table=True):
    """An audit record: who opened which member's profile, when, and how the member code came in.

    Shoppers' and children's data is personal information under China's Personal
    Information Protection Law, so every view is kept. Rows are never changed or deleted by clients.
    """

    __tablename__ = "profile_views"
    __table_args__ = (Index("ix_profile_views_store_viewed_at", "store_id", "viewed_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    member_id: uuid.UUID = Field(foreign_key="members.id", index=True)
    # Both set by the server: the signed-in user and the member's store.
    viewer_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    store_id: uuid.UUID = Field(foreign_key="stores.id")
    # Device time of the view.
    viewed_at: datetime | None = _utc()
    # camera, wedge (keyboard-wedge scanner), typed, or list (opened from a list on the tablet).
    source: str = Field(sa_column=Column(String(8), nullable=False))
    # Server time of the push that delivered it.
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
