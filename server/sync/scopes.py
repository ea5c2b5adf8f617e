"""Who receives a row: the audience keys written on each change-log entry."""

import uuid
from dataclasses import dataclass

from sqlmodel import Session

from server.models import Customer, SyncedRow


@dataclass(frozen=True)
class Audience:
    """The owning user, the region and the store a row is visible to (None: not visible that way)."""

    owner_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None
    store_id: uuid.UUID | None = None

    def lost_to(self, newer: "Audience") -> "Audience | None":
        """Return the keys that see this audience's rows but not `newer`'s, or None if none lose sight."""
        lost = Audience(
            owner_id=self.owner_id if self.owner_id != newer.owner_id else None,
            region_id=self.region_id if self.region_id != newer.region_id else None,
            store_id=self.store_id if self.store_id != newer.store_id else None,
        )
        return None if lost == Audience() else lost


# Entities whose rows belong to a customer and share its audience.
CUSTOMER_CHILDREN = ("contacts", "visits", "followups", "checklist_answers", "score_snapshots")

# Entities whose rows carry their member's store and go to that store's clerks and managers.
STORE_CHILDREN = ("members", "member_purchases", "member_followups")

# Entities whose rows go to one user's devices only (the audience's owner), whatever the role:
# an admin receives every customer but not other users' inboxes, rejections or profile views.
PERSONAL_ENTITIES: tuple[str, ...] = ("alerts", "rejections", "profile_views")

# Entities every signed-in user receives: their change-log entries have no audience keys.
# Only these entities are sent that way, so a row of another entity that lost its owner
# and region (an unassigned customer) never goes to everyone.
EVERYONE_ENTITIES = ("checklist_templates",)


def audience_of(session: Session, entity: str, row: SyncedRow) -> Audience:
    if entity == "customers":
        return Audience(owner_id=row.owner_id, region_id=row.region_id)
    if entity in CUSTOMER_CHILDREN:
        customer = session.get(Customer, row.customer_id)
        return Audience(owner_id=customer.owner_id, region_id=customer.region_id) if customer else Audience()
    if entity in STORE_CHILDREN:
        return Audience(store_id=row.store_id)
    if entity == "profile_views":
        # The audit log goes back to the viewer's devices only; managers read it through the API.
        return Audience(owner_id=row.viewer_id)
    if entity == "rejections":
        return Audience(owner_id=row.user_id)
    if entity == "alerts":
        return Audience(owner_id=row.recipient_id)
    if entity in EVERYONE_ENTITIES:
        return Audience()
    if entity == "checkin_flags":
        return Audience(owner_id=row.rep_id, region_id=row.region_id)
    if entity == "conflicts":
        return _conflict_audience(session, row)
    raise ValueError(f"unknown synced entity {entity!r}")


def _conflict_audience(session: Session, row) -> Audience:
    from server.sync.entities import ENTITY_MODELS

    target = session.get(ENTITY_MODELS[row.entity], row.entity_id)
    if target is None:
        return Audience()
    return audience_of(session, row.entity, target)
