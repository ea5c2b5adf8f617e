"""Incremental recompute: rescore the customers a committed write touched and apply the alert rules to them.

`rescore_after_push` runs after a sync push has committed, in the push's session. A
failure here is logged and never undoes or fails the push: the scheduled full recompute
corrects the score later.
"""

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlmodel import Session

from server.scoring.engine import RecomputeReport, recompute_customers

log = logging.getLogger(__name__)

# Synced entities whose writes can change a health score or its alerts: the customer's
# profile, its contacts (decision chain), its visits (requirement confirmation) and its
# follow-ups (the escalation of a green customer without a follow-up for 30 days).
SCORED_ENTITIES = ("customers", "contacts", "visits", "followups")


def rescore(session: Session, customer_ids: list[uuid.UUID], now: datetime | None = None) -> RecomputeReport:
    """Recompute the given customers' scores and raise the alerts they call for. Commits."""
    from server.alerts.checks import raise_score_alerts

    now = now or datetime.now(timezone.utc)
    report = recompute_customers(session, customer_ids, now)
    if report.batch is not None and len(report.batch):
        raise_score_alerts(session, report.batch, now)
    return report


def customers_touched(session: Session, mutations: list, results: list) -> list[uuid.UUID]:
    """Return the customers whose score the applied mutations may have changed."""
    from server.sync.entities import ENTITY_MODELS

    applied = {result.id for result in results if result.status == "applied"}
    customer_ids: set[uuid.UUID] = set()
    child_ids: dict[str, set[uuid.UUID]] = {}
    for mutation in mutations:
        if mutation.id not in applied or mutation.entity not in SCORED_ENTITIES:
            continue
        try:
            entity_id = uuid.UUID(str(mutation.entity_id))
        except ValueError:
            continue
        if mutation.entity == "customers":
            customer_ids.add(entity_id)
        else:
            child_ids.setdefault(mutation.entity, set()).add(entity_id)
    for entity, ids in child_ids.items():
        model = ENTITY_MODELS[entity]
        customer_ids.update(session.execute(select(model.customer_id).where(model.id.in_(list(ids)))).scalars().all())
    return sorted(customer_ids)


def rescore_after_push(session: Session, mutations: list, results: list) -> None:
    """Rescore the customers of a committed push; log and swallow any failure (the push is already committed)."""
    try:
        customer_ids = customers_touched(session, mutations, results)
        if customer_ids:
            report = rescore(session, customer_ids)
            log.debug("rescored %d customers after a push in %.1f ms", report.customers, report.seconds * 1000)
    except Exception:
        session.rollback()
        log.exception("rescoring after a sync push failed; the scheduled recompute will correct the scores")
