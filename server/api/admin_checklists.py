"""Admin API for checklist templates: list, create the first template of a visit type, add a revision.

Templates reach every signed-in user's device through sync. A new revision becomes the
visit type's active template and deactivates the older ones; visits keep the revision
they were checked in with.
"""

import logging
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core.wire import SYNCED_FIELDS
from server.api.paging import Limit, Offset, fetch_page
from server.checkins.checklists import ChecklistItems, items_to_json
from server.db import writing_session
from server.deps import CurrentUser, SessionDep
from server.models import ChecklistTemplate, Role, User
from server.schemas import Page
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/admin/checklist-templates", tags=["checklist templates"])

VisitType = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$", description="Such as routine or demo.")]


class ChecklistTemplateCreate(ChecklistItems):
    visit_type: VisitType
    name: str = Field(min_length=1, max_length=64)


class ChecklistRevisionCreate(ChecklistItems):
    name: str | None = Field(default=None, min_length=1, max_length=64, description="Unset keeps the current name.")


class ChecklistTemplatePublic(BaseModel):
    id: uuid.UUID
    visit_type: str
    name: str
    revision: int
    items: list[dict]
    active: bool
    created_at: datetime


def _require_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' may not manage checklist templates; ask an administrator.")


def _public(template: ChecklistTemplate) -> ChecklistTemplatePublic:
    return ChecklistTemplatePublic.model_validate(template, from_attributes=True)


@router.get("", response_model=Page[ChecklistTemplatePublic])
def list_templates(
    user: CurrentUser,
    session: SessionDep,
    visit_type: Annotated[str | None, Query(max_length=32, description="Only this visit type.")] = None,
    active_only: Annotated[bool, Query(description="Only the active revision of each visit type.")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ChecklistTemplatePublic]:
    """List checklist templates by visit type, newest revision first."""
    _require_admin(user)
    query = select(ChecklistTemplate).where(ChecklistTemplate.deleted == False)  # noqa: E712
    if visit_type:
        query = query.where(ChecklistTemplate.visit_type == visit_type)
    if active_only:
        query = query.where(ChecklistTemplate.active == True)  # noqa: E712
    order = (ChecklistTemplate.visit_type, col(ChecklistTemplate.revision).desc())
    rows, total = fetch_page(session, query, order, limit, offset)
    return Page(items=[_public(row) for row in rows], total=total, limit=limit, offset=offset)


@router.post("", response_model=ChecklistTemplatePublic, status_code=status.HTTP_201_CREATED)
def create_template(body: ChecklistTemplateCreate, user: CurrentUser) -> ChecklistTemplatePublic:
    """Create revision 1 of the checklist for a visit type that has none; it becomes active."""
    _require_admin(user)
    with writing_session() as session:
        existing = session.exec(
            select(ChecklistTemplate).where(ChecklistTemplate.visit_type == body.visit_type).order_by(col(ChecklistTemplate.revision).desc())
        ).first()
        if existing is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"Visit type '{body.visit_type}' already has a checklist template (revision {existing.revision}, id {existing.id}); "
                f"add a revision with POST /api/admin/checklist-templates/{existing.id}/revisions.",
            )
        template = ChecklistTemplate(visit_type=body.visit_type, name=body.name, revision=1, items=items_to_json(body.items), active=True)
        return _save(session, user, template, deactivated=[])


@router.post("/{template_id}/revisions", response_model=ChecklistTemplatePublic, status_code=status.HTTP_201_CREATED)
def create_revision(template_id: uuid.UUID, body: ChecklistRevisionCreate, user: CurrentUser) -> ChecklistTemplatePublic:
    """Add a revision to the template's visit type; it becomes active and the older revisions inactive."""
    _require_admin(user)
    with writing_session() as session:
        base = session.get(ChecklistTemplate, template_id)
        if base is None or base.deleted:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Checklist template {template_id} not found.")
        latest = session.exec(
            select(func.max(ChecklistTemplate.revision)).where(ChecklistTemplate.visit_type == base.visit_type)
        ).one()
        deactivated = session.exec(
            select(ChecklistTemplate).where(ChecklistTemplate.visit_type == base.visit_type, ChecklistTemplate.active == True)  # noqa: E712
        ).all()
        template = ChecklistTemplate(
            visit_type=base.visit_type,
            name=body.name or base.name,
            revision=latest + 1,
            items=items_to_json(body.items),
            active=True,
        )
        return _save(session, user, template, deactivated=list(deactivated))


def _save(session: Session, user: User, template: ChecklistTemplate, deactivated: list[ChecklistTemplate]) -> ChecklistTemplatePublic:
    """Store `template`, deactivate `deactivated`, log both for sync and commit."""
    recorder = ChangeRecorder(session)
    for old in deactivated:
        old.active = False
        session.add(old)
        recorder.put("checklist_templates", old, changed_fields={"active"}, writer_id=user.id)
    session.add(template)
    recorder.put("checklist_templates", template, changed_fields=set(SYNCED_FIELDS["checklist_templates"]), writer_id=user.id)
    try:
        recorder.flush()
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Another change to the checklist of visit type '{template.visit_type}' was saved at the same time; list the templates and try again.",
        ) from None
    session.refresh(template)
    log.info(
        "checklist template saved id=%s visit_type=%s revision=%d items=%d by user=%s; deactivated %d older revision(s)",
        template.id, template.visit_type, template.revision, len(template.items), user.id, len(deactivated),
    )
    return _public(template)
