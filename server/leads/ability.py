"""The ability score of each rep, used to give high-potential leads to high-ability reps.

    ability = 100 x (w_win x win_rate + w_complexity x complexity) / (w_win + w_complexity)

- win_rate: the rep's leads closed as won over leads closed (won or lost) in the last
  `history_days`. It is smoothed towards `prior_win_rate`, as if the rep had also closed
  `prior_leads` leads at that rate: (won + prior_win_rate x prior_leads) / (closed + prior_leads).
  So a new rep starts at the prior instead of at 0 or 100%.
- complexity: the mean, over the rep's customers, of the share of the decision chain
  (technical, purchasing, finance) the customer's contacts cover. A rep who works with
  complete buying committees handles more complex sales.
Weights, prior and history come from the active lead rules (assignment.ability).
"""

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, distinct, func, select
from sqlmodel import Session

from server.leads.config import AbilityParameters
from server.leads.models import Lead, LeadStatus
from server.models import Contact, Customer, Role, User
from server.scoring.config import DECISION_CHAIN_ROLES


@dataclass
class RepAbility:
    rep_id: uuid.UUID
    username: str
    display_name: str
    region_id: uuid.UUID | None
    won: int
    lost: int
    win_rate: float
    complexity: float
    ability: float
    open_leads: int

    def as_dict(self) -> dict:
        data = asdict(self)
        data["rep_id"] = str(self.rep_id)
        data["region_id"] = str(self.region_id) if self.region_id else None
        return data


def rep_abilities(session: Session, parameters: AbilityParameters, now: datetime, region_id: uuid.UUID | None = None) -> list[RepAbility]:
    """Return the ability of every active rep (of one region, or all), highest first."""
    query = select(User).where(User.role == Role.REP, User.is_active == True)  # noqa: E712
    if region_id is not None:
        query = query.where(User.region_id == region_id)
    reps = session.execute(query).scalars().all()
    if not reps:
        return []
    rep_ids = [rep.id for rep in reps]

    closed = _closed_leads(session, rep_ids, now - timedelta(days=parameters.history_days))
    open_leads = _open_leads(session, rep_ids)
    complexity = _complexity(session, rep_ids)

    weights = parameters.win_rate_weight + parameters.complexity_weight
    abilities = []
    for rep in reps:
        won, lost = closed.get(rep.id, (0, 0))
        win_rate = (won + parameters.prior_win_rate * parameters.prior_leads) / (won + lost + parameters.prior_leads) if (
            won + lost + parameters.prior_leads
        ) else parameters.prior_win_rate
        rep_complexity = complexity.get(rep.id, 0.0)
        ability = 100 * (parameters.win_rate_weight * win_rate + parameters.complexity_weight * rep_complexity) / weights
        abilities.append(RepAbility(
            rep.id, rep.username, rep.display_name, rep.region_id, won, lost,
            round(win_rate, 4), round(rep_complexity, 4), round(ability, 2), open_leads.get(rep.id, 0),
        ))
    abilities.sort(key=lambda a: (-a.ability, a.open_leads, a.username))
    return abilities


def _closed_leads(session: Session, rep_ids: list, since: datetime) -> dict:
    won = func.sum(case((Lead.status == LeadStatus.WON.value, 1), else_=0))
    lost = func.sum(case((Lead.status == LeadStatus.LOST.value, 1), else_=0))
    rows = session.execute(
        select(Lead.assigned_to, won, lost)
        .where(Lead.assigned_to.in_(rep_ids), Lead.status.in_((LeadStatus.WON.value, LeadStatus.LOST.value)), Lead.closed_at >= since)
        .group_by(Lead.assigned_to)
    ).all()
    return {rep_id: (int(w or 0), int(l or 0)) for rep_id, w, l in rows}


def _open_leads(session: Session, rep_ids: list) -> dict:
    rows = session.execute(
        select(Lead.assigned_to, func.count()).where(Lead.assigned_to.in_(rep_ids), Lead.status == LeadStatus.ASSIGNED.value).group_by(Lead.assigned_to)
    ).all()
    return dict(rows)


def _complexity(session: Session, rep_ids: list) -> dict:
    roles = (
        select(Customer.id.label("customer_id"), Customer.owner_id.label("owner_id"),
               func.count(distinct(Contact.decision_role)).label("roles"))
        .select_from(Customer)
        .outerjoin(Contact, (Contact.customer_id == Customer.id) & (Contact.deleted == False) & Contact.decision_role.in_(DECISION_CHAIN_ROLES))  # noqa: E712
        .where(Customer.owner_id.in_(rep_ids), Customer.deleted == False)  # noqa: E712
        .group_by(Customer.id, Customer.owner_id)
        .subquery()
    )
    rows = session.execute(select(roles.c.owner_id, func.avg(roles.c.roles)).group_by(roles.c.owner_id)).all()
    return {owner_id: float(average or 0) / len(DECISION_CHAIN_ROLES) for owner_id, average in rows}
