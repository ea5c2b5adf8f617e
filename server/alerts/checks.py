"""The alert rules.

- Reactivation: a customer whose health score is red (below 60 by default) sends the
  reactivation talk-track pack (its scripts travel in the alert's data) to the owning rep.
  Cause: the customer entering red at `band_since`, so a customer that stays red is
  alerted once and one that recovers and falls back is alerted again.
- Follow-up escalation: a green customer (score above 85 by default) whose last follow-up
  is more than FOLLOWUP_ESCALATION_DAYS days old, or that has none, goes to the to-do of
  its region's leads. Cause: the last follow-up (or its absence). Checked on every score
  change of the customer and by the scheduled job for all green customers.
- Unassigned A lead: an A lead still unassigned more than the configured minutes after it
  arrived goes to the region's leads. Cause: the lead.
Recipients without a region lead fall back to the admins.
"""

import logging
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from server.alerts.models import AlertKind
from server.alerts.service import AlertDraft, raise_alerts, regional_leads
from server.content.service import ALERT_TEMPLATES, REACTIVATION_TALK_TRACKS, get_pack, item_bodies
from server.models import Customer, Followup, User
from server.scoring.engine import ScoreBatch
from server.scoring.models import LatestScore
from server.scoring.rules import GREEN, RED
from server.security import as_utc
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)

# A green customer is escalated when its last follow-up is more than this many days old.
FOLLOWUP_ESCALATION_DAYS = 30


def as_uuid(value) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)


def as_datetime(value) -> datetime:
    """A UTC datetime from a driver value (SQLite returns stored timestamps as text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).astimezone(timezone.utc)


def _key_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def raise_score_alerts(session: Session, batch: ScoreBatch, now: datetime | None = None, commit: bool = True) -> int:
    """Apply the reactivation rule to the red customers of a computed batch and the escalation rule to its green ones.

    Commits unless `commit` is false; returns the number of alerts raised.
    """
    now = now or datetime.now(timezone.utc)
    bands = batch.bands.tolist()
    red = [i for i, band in enumerate(bands) if band == RED]
    green = [as_uuid(batch.facts.customer_ids[i]) for i, band in enumerate(bands) if band == GREEN]

    recorder = ChangeRecorder(session)
    raised = raise_alerts(session, recorder, _reactivation_drafts(session, batch, red), now)
    if green:
        # For a large batch (a full recompute) checking every green customer is cheaper than a long id list.
        only = green if len(green) <= 500 else None
        raised += raise_alerts(session, recorder, followup_escalation_drafts(session, now, only), now)
    recorder.flush()
    if commit:
        session.commit()
    return len(raised)


def _reactivation_drafts(session: Session, batch: ScoreBatch, positions: list[int]) -> list[AlertDraft]:
    facts = batch.facts
    candidates = [
        (as_uuid(facts.customer_ids[i]), as_uuid(facts.owner_ids[i]), as_uuid(facts.region_ids[i]), float(batch.scores[i]), as_datetime(batch.band_since[i]))
        for i in positions
        if facts.owner_ids[i] is not None
    ]
    if not candidates:
        return []
    names = _customer_names(session, [candidate[0] for candidate in candidates])
    pack = get_pack(session, REACTIVATION_TALK_TRACKS)
    talk_tracks = {
        "key": REACTIVATION_TALK_TRACKS,
        "title": pack.title if pack else "",
        "version": pack.version if pack else 0,
        "scripts": list(pack.items) if pack else [],
    }
    if pack is None:
        log.warning("content pack %s is missing: reactivation alerts carry no scripts", REACTIVATION_TALK_TRACKS)

    drafts = []
    for customer_id, owner_id, region_id, score, band_since in candidates:
        name = names.get(customer_id, "")
        drafts.append(AlertDraft(
            recipient_id=owner_id,
            kind=AlertKind.REACTIVATION.value,
            dedupe_key=f"reactivation:{customer_id}:{_key_time(band_since)}",
            template=AlertKind.REACTIVATION.value,
            values={"customer_name": name, "score": score},
            data={
                "customer_id": str(customer_id), "customer_name": name, "score": score, "band": RED,
                "band_since": band_since.isoformat(), "talk_tracks": talk_tracks,
            },
            customer_id=customer_id,
            region_id=region_id,
        ))
    return drafts


def _customer_names(session: Session, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    names = {}
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start:start + 500]
        names.update(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(chunk))).all())
    return names


def _last_followup_query():
    """Per customer, the moment of the last follow-up: the device's capture time unless it lies after the server received it."""
    followup = Followup.__table__.c
    moment = case(
        (and_(followup.captured_at.is_not(None), or_(followup.server_updated_at.is_(None), followup.captured_at <= followup.server_updated_at)),
         followup.captured_at),
        else_=followup.server_updated_at,
    )
    return (
        select(followup.customer_id.label("customer_id"), func.max(moment).label("last_at"))
        .where(followup.deleted == False)  # noqa: E712
        .group_by(followup.customer_id)
        .subquery()
    )


def followup_escalation_drafts(session: Session, now: datetime, customer_ids: list[uuid.UUID] | None = None) -> list[AlertDraft]:
    """Drafts for every green customer (of `customer_ids`, or all) without a follow-up in the last FOLLOWUP_ESCALATION_DAYS days."""
    latest = LatestScore.__table__
    last = _last_followup_query()
    query = (
        select(Customer.id, Customer.name, Customer.owner_id, Customer.region_id, latest.c.score, last.c.last_at)
        .join(latest, latest.c.customer_id == Customer.id)
        .outerjoin(last, last.c.customer_id == Customer.id)
        .where(Customer.deleted == False, latest.c.deleted == False, latest.c.band == GREEN)  # noqa: E712
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))

    limit = timedelta(days=FOLLOWUP_ESCALATION_DAYS)
    overdue = []
    for customer_id, name, owner_id, region_id, score, last_at in session.execute(query).all():
        last_at = as_datetime(last_at) if last_at is not None else None
        if last_at is None or now - last_at > limit:
            overdue.append((customer_id, name, owner_id, region_id, score, last_at))
    if not overdue:
        return []

    owners = _user_names(session, {row[2] for row in overdue if row[2] is not None})
    leads_by_region: dict = {}
    drafts = []
    for customer_id, name, owner_id, region_id, score, last_at in overdue:
        if region_id not in leads_by_region:
            leads_by_region[region_id] = regional_leads(session, region_id)
        days = None if last_at is None else (now - last_at).days
        cause = _key_time(last_at) if last_at else "never"
        for lead in leads_by_region[region_id]:
            drafts.append(AlertDraft(
                recipient_id=lead.id,
                kind=AlertKind.FOLLOWUP_ESCALATION.value,
                dedupe_key=f"followup_escalation:{customer_id}:{cause}:{lead.id}",
                template="followup_escalation" if last_at else "followup_escalation_never",
                values={"customer_name": name, "score": score, "days_without_followup": days, "owner_name": owners.get(owner_id, "")},
                data={
                    "customer_id": str(customer_id), "customer_name": name, "score": score, "band": GREEN,
                    "owner_id": str(owner_id) if owner_id else None, "owner_name": owners.get(owner_id, ""),
                    "last_followup_at": last_at.isoformat() if last_at else None, "days_without_followup": days,
                },
                customer_id=customer_id,
                region_id=region_id,
            ))
    return drafts


def _user_names(session: Session, user_ids: set) -> dict:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(list(user_ids)))).all())


def check_followup_escalations(session: Session, now: datetime | None = None) -> int:
    """Escalate every green customer without a recent follow-up (the scheduled check). Commits; returns alerts raised."""
    now = now or datetime.now(timezone.utc)
    recorder = ChangeRecorder(session)
    raised = raise_alerts(session, recorder, followup_escalation_drafts(session, now), now)
    recorder.flush()
    session.commit()
    return len(raised)


def check_unassigned_leads(session: Session, now: datetime | None = None) -> int:
    """Escalate every A lead still unassigned after the configured time. Commits; returns alerts raised."""
    from server.leads.config import load_active_rules
    from server.leads.models import Lead, LeadStatus

    now = now or datetime.now(timezone.utc)
    rules = load_active_rules(session).config
    limit = timedelta(minutes=rules.assignment.a_lead_assign_within_minutes)
    leads = session.execute(
        select(Lead).where(Lead.grade == "A", Lead.status == LeadStatus.NEW.value, Lead.assigned_to.is_(None), Lead.received_at < now - limit)
    ).scalars().all()

    templates = item_bodies(get_pack(session, ALERT_TEMPLATES))
    drafts = []
    for lead in leads:
        waited = (now - as_utc(lead.received_at)).total_seconds() / 60
        source_name = templates.get(f"source_{lead.source}", {}).get("body", lead.source)
        for recipient in regional_leads(session, lead.region_id):
            drafts.append(AlertDraft(
                recipient_id=recipient.id,
                kind=AlertKind.LEAD_UNASSIGNED.value,
                dedupe_key=f"lead_unassigned:{lead.id}:{recipient.id}",
                template=AlertKind.LEAD_UNASSIGNED.value,
                values={"lead_company": lead.company_name or lead.contact_name, "lead_source": source_name,
                        "minutes_waiting": int(waited)},
                data={
                    "lead_id": str(lead.id), "company_name": lead.company_name, "source": lead.source, "grade": lead.grade,
                    "received_at": as_utc(lead.received_at).isoformat(), "minutes_waiting": int(waited),
                    "limit_minutes": rules.assignment.a_lead_assign_within_minutes,
                },
                lead_id=lead.id,
                region_id=lead.region_id,
            ))
    recorder = ChangeRecorder(session)
    raised = raise_alerts(session, recorder, drafts, now)
    recorder.flush()
    session.commit()
    return len(raised)

