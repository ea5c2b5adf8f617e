"""Editable content: talk-track packs, the contract-clause library, the churn-intervention checklist, alert wording."""

from datetime import datetime

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel
from sqlmodel import select

from server.api.access import AdminUser
from server.content.models import ContentPack
from server.content.service import ContentPackIn, default_packs, get_pack, save_pack
from server.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/content", tags=["content"])

PackKey = Path(pattern=r"^[a-z0-9_]{1,64}$")


class PackSummary(BaseModel):
    key: str
    kind: str
    title: str
    version: int
    items: int


class PackPublic(BaseModel):
    key: str
    kind: str
    title: str
    description: str
    items: list[dict]
    version: int = 0
    updated_at: datetime | None = None


@router.get("", response_model=list[PackSummary])
def list_packs(user: CurrentUser, session: SessionDep) -> list[PackSummary]:
    """Every pack (stored ones, and defaults not stored yet as version 0)."""
    stored = {pack.key: pack for pack in session.exec(select(ContentPack)).all()}
    keys = sorted(set(stored) | set(default_packs()))
    packs = [stored.get(key) or get_pack(session, key) for key in keys]
    return [PackSummary(key=p.key, kind=p.kind, title=p.title, version=p.version, items=len(p.items)) for p in packs]


@router.get("/{key}", response_model=PackPublic)
def read_pack(user: CurrentUser, session: SessionDep, key: str = PackKey) -> PackPublic:
    pack = get_pack(session, key)
    if pack is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Content pack '{key}' not found; list the packs with GET /api/content.")
    return PackPublic(key=pack.key, kind=pack.kind, title=pack.title, description=pack.description, items=pack.items,
                      version=pack.version, updated_at=pack.updated_at if pack.version else None)


@router.put("/{key}", response_model=PackPublic)
def write_pack(body: ContentPackIn, user: AdminUser, session: SessionDep, key: str = PackKey) -> PackPublic:
    """Create or replace a pack; its version grows by one. Alerts raised afterwards carry the new text."""
    pack = save_pack(session, key, body, user.id)
    session.commit()
    session.refresh(pack)
    return PackPublic(key=pack.key, kind=pack.kind, title=pack.title, description=pack.description, items=pack.items,
                      version=pack.version, updated_at=pack.updated_at)
