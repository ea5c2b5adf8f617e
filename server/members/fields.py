"""Field models of client mutations to the store entities, and the structured fields of a follow-up.

Field models follow server.sync.entities: a `put` must carry the required fields, a `patch`
validates the given ones alone. Talk track and product ids are checked against the
knowledge base in assets/knowledge, the same files the devices suggest from.
"""

import uuid
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.followup_structuring import MAX_BABY_AGE_MONTHS, Intent, LifeStage
from core.member_codes import member_code_problem
from core.talk_tracks import KnowledgeBase, load_knowledge_base
from server.checkins.timestamps import DeviceTimestamp

# A promised next contact further away than this is a mistake in the structuring or the form.
MAX_FOLLOWUP_IN_DAYS = 365
MAX_PRODUCTS_PER_FOLLOWUP = 20
# A baby birth date may lie ahead (a pregnancy) by at most about ten months.
MAX_DUE_DATE_AHEAD = timedelta(days=300)
# Members register for their children; an older birth date is a typing mistake.
MAX_CHILD_AGE = timedelta(days=18 * 366)

ProfileViewSource = Literal["camera", "wedge", "typed", "list"]


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """Load the zh-CN knowledge base once per process and return it."""
    return load_knowledge_base()


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FollowupStructureFields(_Fields):
    """The structured fields of a one-line follow-up, as the device's form confirmed them."""

    input_method: Literal["voice", "typed"] = "typed"
    baby_age_months: int | None = Field(default=None, ge=0, le=MAX_BABY_AGE_MONTHS)
    life_stage: LifeStage | None = None
    product_ids: list[str] = Field(default_factory=list, max_length=MAX_PRODUCTS_PER_FOLLOWUP)
    intent: Intent | None = None
    followup_in_days: int | None = Field(default=None, ge=0, le=MAX_FOLLOWUP_IN_DAYS)
    talk_track_id: str | None = Field(default=None, max_length=64)

    @field_validator("product_ids")
    @classmethod
    def _known_products(cls, value: list[str]) -> list[str]:
        known = knowledge_base().products.products
        unknown = [product_id for product_id in value if product_id not in known]
        if unknown:
            raise ValueError(f"unknown product id(s) {', '.join(unknown)}; see assets/knowledge/products.zh-CN.json")
        return list(dict.fromkeys(value))

    @field_validator("talk_track_id")
    @classmethod
    def _known_talk_track(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value not in {track.id for track in knowledge_base().talk_tracks}:
            raise ValueError(f"unknown talk track id {value!r}; see assets/knowledge/talk_tracks.zh-CN.json")
        return value


class MemberFields(_Fields):
    """A member registered on a tablet. The server sets the store from the clerk's account."""

    member_code: str
    name: str = Field(min_length=1, max_length=64)
    # The full number as the clerk typed it; pulls send it masked (138****5678).
    phone: str = Field(default="", max_length=20, pattern=r"^[0-9+\- ]*$")
    baby_birth_date: date | None = None
    allergens: str = Field(default="", max_length=255)
    # Only an admin, who has no store, names the store.
    store_id: uuid.UUID | None = None

    @field_validator("member_code")
    @classmethod
    def _valid_member_code(cls, value: str) -> str:
        problem = member_code_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("baby_birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date | None) -> date | None:
        if value is None:
            return None
        today = date.today()
        if value > today + MAX_DUE_DATE_AHEAD:
            raise ValueError(f"{value} is more than {MAX_DUE_DATE_AHEAD.days} days ahead; enter the due date of the pregnancy or the birth date")
        if value < today - MAX_CHILD_AGE:
            raise ValueError(f"{value} is more than 18 years ago; enter the child's birth date")
        return value


class MemberFollowupFields(FollowupStructureFields):
    member_id: uuid.UUID
    # Both set by the server from the signed-in user; the device sends them for its own display.
    author_id: uuid.UUID | None = None
    author_name: str | None = Field(default=None, max_length=64)
    text: str = Field(min_length=1, max_length=2000)
    captured_at: DeviceTimestamp | None = None


class ProfileViewFields(_Fields):
    member_id: uuid.UUID
    # Set by the server to the signed-in user.
    viewer_id: uuid.UUID | None = None
    viewed_at: DeviceTimestamp | None = None
    source: ProfileViewSource
