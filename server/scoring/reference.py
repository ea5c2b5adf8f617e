"""The health score computed one customer at a time through the ORM.

This is the straightforward implementation the set-based engine replaces: per customer it
loads the customer, its contacts, visits and events as ORM objects, derives the indicator
inputs in Python, and writes a ScoreSnapshot and its LatestScore through a ChangeRecorder.
It shares the scoring rules with the engine, so the two must agree. The tests compare them,
and bench/scoring_recompute.py measures how much slower this one is.
"""

import uuid
from datetime import datetime

import numpy as np
from sqlmodel import Session, select

from server.models import Contact, Customer, Visit
from server.scoring.config import DECISION_CHAIN_ROLES
from server.scoring.engine import indicator_values
from server.scoring.facts import SECONDS_PER_DAY, Facts, Windows
from server.scoring.health_models import ActiveModel
from server.scoring.models import CustomerEvent, EventKind, LatestScore, ScoreSnapshot
from server.scoring.rules import band_of, combine, download_boosted
from server.sync.changes import ChangeRecorder

_EVENT_LIMITS = {
    EventKind.DOCUMENT_DOWNLOAD.value: "downloads",
    EventKind.PROPOSAL_SENT.value: "proposals",
    EventKind.PROPOSAL_OPEN.value: "proposals",
    EventKind.MEETING_INVITED.value: "meetings",
    EventKind.MEETING_ATTENDED.value: "meetings",
    EventKind.REQUIREMENT_CONFIRMED.value: "requirements",
    EventKind.COMPETITOR_SHEET_SUBMITTED.value: "sheets",
    EventKind.OBJECTION_RAISED.value: "objections",
    EventKind.OBJECTION_RESOLVED.value: "objections",
}


def customer_facts(session: Session, customer: Customer, model: ActiveModel, now: datetime) -> Facts:
    """Derive one customer's indicator inputs from its ORM rows."""
    config = model.config
    windows = Windows.for_model(config, now)
    contacts = session.exec(select(Contact).where(Contact.customer_id == customer.id, Contact.deleted == False)).all()  # noqa: E712
    visits = session.exec(select(Visit).where(Visit.customer_id == customer.id, Visit.deleted == False)).all()  # noqa: E712
    events = session.exec(select(CustomerEvent).where(CustomerEvent.customer_id == customer.id)).all()

    def within(event: CustomerEvent, start: datetime) -> bool:
        return start <= event.occurred_at <= now

    def refs(kind: EventKind, start: datetime) -> int:
        return len({e.ref for e in events if e.kind == kind.value and e.ref is not None and within(e, start)})

    downloads = [e for e in events if e.kind == EventKind.DOCUMENT_DOWNLOAD.value]
    confirmations = [
        1.0 if e.value is None else e.value
        for e in events if e.kind == EventKind.REQUIREMENT_CONFIRMED.value and within(e, windows.requirements)
    ]
    sheets = [
        e for e in events
        if e.kind == EventKind.COMPETITOR_SHEET_SUBMITTED.value and e.due_at is not None and within(e, windows.sheets)
    ]
    visit_types = config.parameters.requirement_confirmation.visit_types
    confirming_visit = any(
        v.visit_type in visit_types and v.checked_in_at is not None and windows.requirements <= v.checked_in_at <= now for v in visits
    )
    cycles = _objection_cycles(events, windows.objections, now)

    return Facts(
        now=now,
        customer_ids=[customer.id],
        owner_ids=[customer.owner_id],
        region_ids=[customer.region_id],
        industries=[customer.industry],
        purchase_bands=[customer.purchase_band],
        roles_named=np.array([len({c.decision_role for c in contacts if c.decision_role in DECISION_CHAIN_ROLES})], dtype=float),
        downloads_window=np.array([sum(1 for e in downloads if within(e, windows.downloads))], dtype=float),
        downloads_this_month=np.array([sum(1 for e in downloads if within(e, windows.month))], dtype=float),
        proposals_sent=np.array([refs(EventKind.PROPOSAL_SENT, windows.proposals)], dtype=float),
        proposals_opened=np.array([refs(EventKind.PROPOSAL_OPEN, windows.proposals)], dtype=float),
        meetings_invited=np.array([refs(EventKind.MEETING_INVITED, windows.meetings)], dtype=float),
        meetings_attended=np.array([refs(EventKind.MEETING_ATTENDED, windows.meetings)], dtype=float),
        requirement_best=np.array([max(confirmations) if confirmations else np.nan]),
        requirement_by_visit=np.array([confirming_visit]),
        sheets_due=np.array([len(sheets)], dtype=float),
        sheets_on_time=np.array([sum(1 for e in sheets if e.occurred_at <= e.due_at)], dtype=float),
        objections=np.array([len(cycles)], dtype=float),
        objection_mean_days=np.array([sum(cycles) / len(cycles) if cycles else np.nan]),
    )


def _objection_cycles(events: list[CustomerEvent], start: datetime, now: datetime) -> list[float]:
    """Cycle in days of each objection raised since `start`; an open one counts its age at `now`."""
    raised: dict[str | None, datetime] = {}
    resolved: dict[str | None, datetime] = {}
    for e in events:
        if not start <= e.occurred_at <= now:
            continue
        if e.kind == EventKind.OBJECTION_RAISED.value:
            raised[e.ref] = min(raised.get(e.ref, e.occurred_at), e.occurred_at)
        elif e.kind == EventKind.OBJECTION_RESOLVED.value:
            resolved[e.ref] = min(resolved.get(e.ref, e.occurred_at), e.occurred_at)
    cycles = []
    for ref, raised_at in raised.items():
        end = resolved.get(ref)
        if end is None or end < raised_at:
            end = now
        cycles.append((end - raised_at).total_seconds() / SECONDS_PER_DAY)
    return cycles


def score_customer(session: Session, customer: Customer, model: ActiveModel, now: datetime) -> tuple[float, str, np.ndarray]:
    """Return one customer's score, band and indicator values."""
    config = model.config
    facts = customer_facts(session, customer, model, now)
    values = indicator_values(facts, config)
    boosted = download_boosted(facts.downloads_this_month, config.download_boost.monthly_downloads_over)
    scored = combine(values, np.array(config.weight_vector()), boosted, config.download_boost.multiplier, config.missing_policy)
    score = float(scored.scores[0])
    return score, band_of(score, config.bands), values[0]


def recompute_one_at_a_time(session: Session, customer_ids: list[uuid.UUID], model: ActiveModel, now: datetime, commit_every: int = 500) -> int:
    """Score and store each customer in turn through the ORM; commit every `commit_every` customers."""
    recorder = ChangeRecorder(session)
    done = 0
    for customer_id in customer_ids:
        customer = session.get(Customer, customer_id)
        score, band, values = score_customer(session, customer, model, now)
        latest = session.exec(select(LatestScore).where(LatestScore.customer_id == customer_id)).first()
        previous = latest.score if latest else None
        session.add(ScoreSnapshot(
            customer_id=customer_id, computed_at=now, model_version=model.version, score=score, band=band,
            previous_score=previous, trend=None if previous is None else round(score - previous, 2),
            indicators={"values": [None if np.isnan(v) else round(float(v), 4) for v in values]},
        ))
        if latest is None:
            latest = LatestScore(id=uuid.uuid4(), customer_id=customer_id, band_since=now, computed_at=now, model_version=model.version, score=score, band=band)
        elif latest.band != band:
            latest.band_since = now
        latest.previous_score, latest.score, latest.band, latest.computed_at = previous, score, band, now
        latest.model_version = model.version
        session.add(latest)
        recorder.put("score_snapshots", latest, changed_fields={"score", "band", "computed_at"})
        done += 1
        if done % commit_every == 0:
            recorder.flush()
            session.commit()
    recorder.flush()
    session.commit()
    return done
