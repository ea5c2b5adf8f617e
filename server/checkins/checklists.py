"""Checklist items: their types, the validation of templates and answers, and required items still unanswered.

A template's `items` column holds `ChecklistItem.model_dump(exclude_none=True)` dicts:

    {"id": "samples", "label": "带新品样品了吗？", "type": "yes_no", "required": true}
    {"id": "next_step", "label": "下一步已约定", "type": "choice", "required": true, "options": ["..."]}
    {"id": "units", "label": "...", "type": "number", "min": 0, "max": 1000}

An answer's `value` by item type: yes_no true/false, choice one of the options, number a
finite number within min..max, text a string, photo no value but the answer's `photo_id`.
"""

import enum
import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ITEMS = 50
MAX_TEXT_ANSWER_LENGTH = 1000


class ItemType(str, enum.Enum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    NUMBER = "number"
    TEXT = "text"
    PHOTO = "photo"


_TYPE_NAMES = ", ".join(item_type.value for item_type in ItemType)

Option = Annotated[str, Field(min_length=1, max_length=64)]


class ChecklistItem(BaseModel):
    """One question of a checklist template."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$",
        description="Stable key that answers refer to: letters, digits, _ and -.",
    )
    label: str = Field(min_length=1, max_length=200, description="The question as the rep sees it.")
    type: ItemType
    required: bool = False
    options: list[Option] | None = Field(default=None, description="Choice items only: the allowed answers.")
    min: float | None = Field(default=None, allow_inf_nan=False, description="Number items only: smallest allowed answer.")
    max: float | None = Field(default=None, allow_inf_nan=False, description="Number items only: largest allowed answer.")

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value not in {item_type.value for item_type in ItemType} and not isinstance(value, ItemType):
            raise ValueError(f"unknown item type {value!r}; expected one of {_TYPE_NAMES}")
        return value

    @model_validator(mode="after")
    def _options_and_range_fit_type(self) -> "ChecklistItem":
        if self.type == ItemType.CHOICE:
            if not self.options:
                raise ValueError(f"choice item {self.id!r} needs at least one option in 'options'")
            if len(set(self.options)) != len(self.options):
                raise ValueError(f"choice item {self.id!r} lists an option twice")
        elif self.options is not None:
            raise ValueError(f"item {self.id!r} of type {self.type.value} takes no options; only choice items have options")
        if self.type != ItemType.NUMBER and (self.min is not None or self.max is not None):
            raise ValueError(f"item {self.id!r} of type {self.type.value} takes no min or max; only number items have a range")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"number item {self.id!r} has min {self.min} greater than max {self.max}")
        return self


class ChecklistItems(BaseModel):
    """The items of a template, with ids unique within it."""

    model_config = ConfigDict(extra="forbid")

    items: list[ChecklistItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _unique_item_ids(self) -> "ChecklistItems":
        seen: set[str] = set()
        duplicates = sorted({item.id for item in self.items if item.id in seen or seen.add(item.id)})
        if duplicates:
            raise ValueError(f"duplicate item id(s) {', '.join(duplicates)}; every item of a template needs its own id")
        return self


def load_items(stored: list[dict]) -> list[ChecklistItem]:
    """Return a template's stored items as ChecklistItem objects."""
    return [ChecklistItem.model_validate(item) for item in stored or []]


def items_to_json(items: list[ChecklistItem]) -> list[dict]:
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


def find_item(items: list[ChecklistItem], item_id: str) -> ChecklistItem | None:
    return next((item for item in items if item.id == item_id), None)


def check_answer(item: ChecklistItem, value: Any, photo_id: Any) -> None:
    """Raise ValueError naming the item and the value when `value` (or `photo_id`) does not fit the item."""
    name = f"item {item.id!r} ({item.label})"
    if item.type == ItemType.PHOTO:
        if photo_id is None:
            raise ValueError(f"{name} is a photo item: the answer needs photo_id, the id of the uploaded photo")
        if value is not None:
            raise ValueError(f"{name} is a photo item: send the photo as photo_id and no value, got value {value!r}")
        return

    if photo_id is not None:
        raise ValueError(f"{name} is a {item.type.value} item and takes no photo_id; only photo items do")
    if item.type == ItemType.YES_NO:
        if not isinstance(value, bool):
            raise ValueError(f"{name} is a yes/no item: value must be true or false, got {value!r}")
    elif item.type == ItemType.CHOICE:
        if not isinstance(value, str) or value not in (item.options or []):
            raise ValueError(f"{name} is a choice item: value must be one of {', '.join(item.options or [])}, got {value!r}")
    elif item.type == ItemType.NUMBER:
        _check_number(name, item, value)
    elif item.type == ItemType.TEXT:
        if not isinstance(value, str):
            raise ValueError(f"{name} is a text item: value must be a string, got {value!r}")
        if len(value) > MAX_TEXT_ANSWER_LENGTH:
            raise ValueError(f"{name}: the text is {len(value)} characters long; at most {MAX_TEXT_ANSWER_LENGTH} are allowed")


def _check_number(name: str, item: ChecklistItem, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} is a number item: value must be a finite number, got {value!r}")
    if item.min is not None and value < item.min:
        raise ValueError(f"{name}: {value} is below the minimum {item.min}")
    if item.max is not None and value > item.max:
        raise ValueError(f"{name}: {value} is above the maximum {item.max}")


def is_answered(item: ChecklistItem, value: Any, photo_id: Any) -> bool:
    """Tell whether an answer counts for a required item: a photo, or a value that is not blank text."""
    if item.type == ItemType.PHOTO:
        return photo_id is not None
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def missing_required_items(items: list[ChecklistItem], answers: dict[str, tuple[Any, Any]]) -> list[ChecklistItem]:
    """Return the required items without an answer; `answers` maps item id to (value, photo_id)."""
    missing = []
    for item in items:
        if not item.required:
            continue
        answer = answers.get(item.id)
        if answer is None or not is_answered(item, *answer):
            missing.append(item)
    return missing
