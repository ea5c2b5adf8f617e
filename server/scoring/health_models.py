"""Saving, activating and loading versions of the health model."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import update
from sqlmodel import Session, select

from server.scoring.config import HealthModelConfig, default_config
from server.scoring.models import HealthModel

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "default"


@dataclass(frozen=True)
class ActiveModel:
    version: int
    name: str
    config: HealthModelConfig
    activated_at: datetime | None


class NoSuchModel(LookupError):
    """No health model has the requested version."""


def load_active_model(session: Session) -> ActiveModel | None:
    row = session.exec(select(HealthModel).where(HealthModel.is_active == True)).first()  # noqa: E712
    if row is None:
        return None
    return ActiveModel(row.version, row.name, HealthModelConfig.model_validate(row.config), row.activated_at)


def ensure_active_model(session: Session) -> ActiveModel:
    """Return the active model, first saving and activating the default one if no model is active.

    Commits when it creates the default model.
    """
    active = load_active_model(session)
    if active is not None:
        return active
    save_model(session, default_config(), name=DEFAULT_MODEL_NAME, activate=True, note="created automatically: no model was active")
    session.commit()
    log.info("no active health model; saved and activated the default model")
    return load_active_model(session)


def save_model(
    session: Session,
    config: HealthModelConfig,
    name: str,
    activate: bool,
    note: str = "",
    created_by: uuid.UUID | None = None,
) -> HealthModel:
    """Store `config` as a new version, activating it if asked. The caller commits."""
    row = HealthModel(name=name, config=config.model_dump(mode="json"), note=note, created_by=created_by)
    session.add(row)
    session.flush()
    if activate:
        activate_model(session, row.version)
    return row


def activate_model(session: Session, version: int) -> HealthModel:
    """Make `version` the only active model. The caller commits."""
    row = session.get(HealthModel, version)
    if row is None:
        raise NoSuchModel(f"health model version {version} not found")
    session.execute(update(HealthModel).where(HealthModel.is_active == True, HealthModel.version != version).values(is_active=False))  # noqa: E712
    session.flush()
    row.is_active = True
    row.activated_at = datetime.now(timezone.utc)
    session.add(row)
    session.flush()
    log.info("health model version %d (%s) activated", version, row.name)
    return row
