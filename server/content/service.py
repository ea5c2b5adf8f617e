"""Reading, validating and saving content packs, and rendering message templates.

The default packs live in server/seed/content.zh-CN.json. The demo seed stores them in
the content_packs table, where admins edit them. A database without a stored pack falls
back to the file's version, so alerts always carry their scripts.
"""

import json
import logging
import string
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, select

from server.content.models import ContentPack, PackKind

log = logging.getLogger(__name__)

DEFAULT_CONTENT_PATH = Path(__file__).resolve().parent.parent / "seed" / "content.zh-CN.json"

# Keys of the packs the server itself uses.
REACTIVATION_TALK_TRACKS = "reactivation_talk_tracks"
CLOSING_TIPS = "closing_tips"
CONTRACT_CLAUSES = "contract_clauses"
CHURN_CHECKLIST = "churn_intervention_checklist"
ALERT_TEMPLATES = "alert_templates"


class ContentItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", description="Stable id of the item within its pack.")
    title: str = Field(min_length=1, max_length=128)
    body: str = Field(min_length=1, max_length=4000)
    scenario: str = Field(default="", max_length=500, description="When to use a talk track.")
    required: bool = Field(default=False, description="Checklist items: must be done.")


class ContentPackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: PackKind
    title: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=500)
    items: list[ContentItem] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_keys(self) -> "ContentPackIn":
        keys = [item.key for item in self.items]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"item keys must be unique within a pack; repeated: {', '.join(repeated)}")
        return self


@lru_cache
def default_packs() -> dict[str, ContentPackIn]:
    """Load and validate the packs of the default content file."""
    raw = json.loads(DEFAULT_CONTENT_PATH.read_text(encoding="utf-8"))
    return {key: ContentPackIn.model_validate(body) for key, body in raw.items()}


def get_pack(session: Session, key: str) -> ContentPack | None:
    """Return the stored pack, or an unsaved copy of the default one (version 0), or None."""
    stored = session.get(ContentPack, key)
    if stored is not None:
        return stored
    default = default_packs().get(key)
    if default is None:
        return None
    return ContentPack(key=key, version=0, **default.model_dump(mode="json"))


def save_pack(session: Session, key: str, body: ContentPackIn, user_id: uuid.UUID | None) -> ContentPack:
    """Create or replace a pack, raising its version by one. The caller commits."""
    pack = session.get(ContentPack, key)
    values = body.model_dump(mode="json")
    if pack is None:
        pack = ContentPack(key=key, version=1, **values)
    else:
        for name, value in values.items():
            setattr(pack, name, value)
        pack.version += 1
    pack.updated_by = user_id
    pack.updated_at = datetime.now(timezone.utc)
    session.add(pack)
    session.flush()
    log.info("content pack %s saved at version %d by %s", key, pack.version, user_id)
    return pack


def store_default_packs(session: Session) -> int:
    """Store every default pack that the database does not have yet; return how many. The caller commits."""
    stored = set(session.exec(select(ContentPack.key)).all())
    added = 0
    for key, body in default_packs().items():
        if key not in stored:
            session.add(ContentPack(key=key, version=1, **body.model_dump(mode="json")))
            added += 1
    session.flush()
    return added


def item_bodies(pack: ContentPack | None) -> dict[str, dict]:
    """Return the pack's items by key (empty for a missing pack)."""
    return {item["key"]: item for item in (pack.items if pack else [])}


def render(template: str, values: dict) -> str:
    """Fill $name placeholders. Unknown placeholders stay as written (string.Template.safe_substitute), so a misspelt name in an edited template does not fail the alert."""
    return string.Template(template).safe_substitute({name: _display(value) for name, value in values.items()})


def _display(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
