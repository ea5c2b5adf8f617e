"""Store an arriving lead, grade it, and assign it to a rep when its grade is auto-assigned.

Assignment considers the active reps of the lead's region (all reps when the region has
none) that have fewer open leads than the capacity limit. Of those it picks the rep with
the highest ability score, and of equal scores the rep with fewer open leads. When every rep is at capacity
the lead stays unassigned, and the scheduled check escalates an A lead that waits longer
than the configured minutes. The assignment lag (arrival to assignment) is stored on the lead.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlmodel import Session

from server.leads.ability import RepAbility, rep_abilities
from server.leads.config import ActiveRules, load_active_rules
from server.leads.grading import grade_lead
from server.leads.models import Lead, LeadStatus
from server.models import Customer, Region
from server.security import as_utc

log = logging.getLogger(__name__)

# Lead attributes the grading rules may test (server.leads.config.LeadField).
GRADED_FIELDS = (
    "source", "industry", "province", "form_completeness_pct", "has_budget", "time_on_site_s", "transferred_to_human", "call_duration_s",
)


class LeadConflict(Exception):
    """The lead cannot be assigned or closed in its current state, or the rep is at capacity."""


@dataclass
class IntakeResult:
    lead: Lead
    created: bool


def find_region(session: Session, region_code: str | None, province: str) -> uuid.UUID | None:
    """Return the region named by code, else the region with most customers in the lead's province, else None."""
    if region_code:
        region = session.execute(select(Region).where(Region.code == region_code)).scalar_one_or_none()
        if region is None:
            raise ValueError(f"unknown region_code '{region_code}'")
        return region.id
    if not province:
        return None
    row = session.execute(
        select(Customer.region_id, func.count())
        .where(Customer.province == province, Customer.region_id.is_not(None), Customer.deleted == False)  # noqa: E712
        .group_by(Customer.region_id)
        .order_by(func.count().desc(), Customer.region_id)
        .limit(1)
    ).first()
    return row[0] if row else None


def intake(session: Session, values: dict, region_code: str | None, now: datetime | None = None) -> IntakeResult:
    """Store, grade and (for auto-assigned grades) assign a lead; a repeated (source, external_id) returns the stored lead.

    `values` contains Lead fields. The caller commits.
    """
    now = now or datetime.now(timezone.utc)
    external_id = values.get("external_id")
    if external_id:
        existing = session.execute(select(Lead).where(Lead.source == values["source"], Lead.external_id == external_id)).scalar_one_or_none()
        if existing is not None:
            return IntakeResult(existing, created=False)

    rules = load_active_rules(session)
    graded = grade_lead({name: values.get(name) for name in GRADED_FIELDS}, rules.config)
    lead = Lead(
        **values,
        region_id=find_region(session, region_code, values.get("province", "")),
        grade=graded.grade,
        grade_reason=graded.reason,
        rules_version=rules.version,
        status=LeadStatus.NURTURE.value if graded.grade == "nurture" else LeadStatus.NEW.value,
        created_at=now,
    )
    session.add(lead)
    session.flush()
    log.info("lead %s from %s graded %s by rule %s", lead.id, lead.source, lead.grade, graded.reason.get("rule"))

    if lead.grade in rules.config.assignment.auto_assign_grades:
        auto_assign(session, lead, rules, now)
    return IntakeResult(lead, created=True)


def auto_assign(session: Session, lead: Lead, rules: ActiveRules, now: datetime) -> RepAbility | None:
    """Assign the lead to the ablest rep with spare capacity; leave it unassigned (and log why) if there is none."""
    assignment = rules.config.assignment
    candidates = rep_abilities(session, assignment.ability, now, lead.region_id)
    if not candidates and lead.region_id is not None:
        candidates = rep_abilities(session, assignment.ability, now)
    chosen = choose_rep(candidates, assignment.max_open_leads_per_rep)
    considered = [candidate.as_dict() for candidate in candidates[:10]]
    if chosen is None:
        lead.assignment = {"method": "auto", "result": "no rep with spare capacity", "capacity": assignment.max_open_leads_per_rep,
                           "candidates": considered}
        session.add(lead)
        log.warning("lead %s (grade %s) not assigned: all %d reps are at capacity %d", lead.id, lead.grade, len(candidates),
                    assignment.max_open_leads_per_rep)
        return None
    assign(session, lead, chosen.rep_id, None, now, {
        "method": "auto", "ability": chosen.ability, "win_rate": chosen.win_rate, "complexity": chosen.complexity,
        "open_leads_before": chosen.open_leads, "capacity": assignment.max_open_leads_per_rep, "candidates": considered,
    })
    return chosen


def choose_rep(candidates: list[RepAbility], max_open_leads: int) -> RepAbility | None:
    """Return the ablest rep with fewer than `max_open_leads` open leads (of equal ability, the one with fewer open leads)."""
    available = [candidate for candidate in candidates if candidate.open_leads < max_open_leads]
    if not available:
        return None
    return min(available, key=lambda candidate: (-candidate.ability, candidate.open_leads, candidate.username))


def assign(session: Session, lead: Lead, rep_id: uuid.UUID, assigned_by: uuid.UUID | None, now: datetime, how: dict) -> None:
    """Give the lead to a rep and record the assignment lag. The caller commits."""
    if lead.status not in (LeadStatus.NEW.value, LeadStatus.ASSIGNED.value, LeadStatus.NURTURE.value):
        raise LeadConflict(f"lead {lead.id} is {lead.status}; only new, nurture or assigned leads can be assigned")
    lead.assigned_to = rep_id
    lead.assigned_by = assigned_by
    lead.assigned_at = now
    lead.assignment_lag_s = round((now - as_utc(lead.received_at)).total_seconds(), 3)
    lead.assignment = how
    lead.status = LeadStatus.ASSIGNED.value
    session.add(lead)
    log.info("lead %s assigned to %s (%s) after %.0f s", lead.id, rep_id, how.get("method"), lead.assignment_lag_s)


def open_lead_count(session: Session, rep_id: uuid.UUID) -> int:
    return session.execute(select(func.count()).select_from(Lead).where(Lead.assigned_to == rep_id, Lead.status == LeadStatus.ASSIGNED.value)).scalar_one()


def close(session: Session, lead: Lead, outcome: str, now: datetime) -> None:
    """Close an assigned lead as won or lost; this feeds the rep's win rate. The caller commits."""
    if lead.status != LeadStatus.ASSIGNED.value:
        raise LeadConflict(f"lead {lead.id} is {lead.status}; only an assigned lead can be closed")
    lead.status = outcome
    lead.closed_at = now
    session.add(lead)
    log.info("lead %s closed as %s", lead.id, outcome)
