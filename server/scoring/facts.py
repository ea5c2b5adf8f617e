"""Read the inputs of every indicator for many customers at once, with one aggregate query per source.

Each query groups by customer. A full recompute reads every customer, and an incremental
one adds `customer_id IN (...)`. The results land in numpy arrays indexed like
`Facts.customer_ids`. Ids and timestamps are kept as the driver returns them (hex strings
on SQLite, UUID and datetime objects on PostgreSQL), because the bulk writer passes them
straight back to the same database.

Windows end at `now` and start `window_days` before it; "this month" starts at midnight of
the 1st in the model's calendar (UTC+8 by default).
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat

import numpy as np
from sqlalchemy import Float, String, and_, case, distinct, func, select, type_coerce
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction
from sqlmodel import Session

from server.models import Contact, Customer, Visit
from server.scoring.config import DECISION_CHAIN_ROLES, HealthModelConfig
from server.scoring.models import CustomerEvent, EventKind
from server.scoring.rules import month_start

SECONDS_PER_DAY = 86_400.0
# Connections a full recompute reads on at once. The sqlite3 and psycopg drivers release Python's lock while a query runs.
READ_THREADS = 2


class epoch_seconds(GenericFunction):
    """Seconds since 1970-01-01 UTC of a timestamp column, as a float."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw) -> str:
    # SQLite stores the timestamps as UTC text; julianday() parses it, 2440587.5 is the Julian day of the Unix epoch.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element, compiler, **kw) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


def raw(column):
    """The column as the driver returns it, without SQLAlchemy's conversion to Python types."""
    return type_coerce(column, String)


@dataclass
class Facts:
    """Indicator inputs of N customers. Arrays have one entry per customer, in `customer_ids` order."""

    now: datetime
    customer_ids: list = field(default_factory=list)
    owner_ids: list = field(default_factory=list)
    region_ids: list = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    purchase_bands: list[str | None] = field(default_factory=list)
    roles_named: np.ndarray = None
    downloads_window: np.ndarray = None
    downloads_this_month: np.ndarray = None
    proposals_sent: np.ndarray = None
    proposals_opened: np.ndarray = None
    meetings_invited: np.ndarray = None
    meetings_attended: np.ndarray = None
    requirement_best: np.ndarray = None  # NaN: no requirement_confirmed event in the window
    requirement_by_visit: np.ndarray = None  # bool
    sheets_due: np.ndarray = None
    sheets_on_time: np.ndarray = None
    objections: np.ndarray = None
    objection_mean_days: np.ndarray = None  # NaN: no objection raised in the window

    def __len__(self) -> int:
        return len(self.customer_ids)


@dataclass(frozen=True)
class Windows:
    """Start moments of each indicator's window for one computation."""

    downloads: datetime
    month: datetime
    proposals: datetime
    meetings: datetime
    requirements: datetime
    sheets: datetime
    objections: datetime

    @classmethod
    def for_model(cls, config: HealthModelConfig, now: datetime) -> "Windows":
        p = config.parameters

        def days_before(days: int) -> datetime:
            return now - timedelta(days=days)

        return cls(
            downloads=days_before(p.document_downloads.window_days),
            month=month_start(now, config.calendar_utc_offset_hours),
            proposals=days_before(p.proposal_open_rate.window_days),
            meetings=days_before(p.meeting_attendance.window_days),
            requirements=days_before(p.requirement_confirmation.window_days),
            sheets=days_before(p.competitor_sheet_on_time.window_days),
            objections=days_before(p.objection_resolution_cycle.window_days),
        )

    def earliest(self) -> datetime:
        return min(self.downloads, self.month, self.proposals, self.meetings, self.requirements, self.sheets)


def load_facts(session: Session, config: HealthModelConfig, now: datetime, customer_ids: list | None = None) -> Facts:
    """Read the indicator inputs of the given customers (None: every customer that is not deleted)."""
    windows = Windows.for_model(config, now)
    facts = _load_customers(session, customer_ids, now)
    n = len(facts)
    index = {customer_id: position for position, customer_id in enumerate(facts.customer_ids)}
    if n == 0:
        _fill_empty(facts)
        return facts
    selected_ids = facts.customer_ids if customer_ids is not None else None

    visits_query = _visits_query(config, windows, now, selected_ids)
    _apply_rows(
        facts, index, now,
        roles=fetch_rows(session, _roles_query(selected_ids)),
        events=fetch_rows(session, _events_query(windows, now, selected_ids)),
        visits=fetch_rows(session, visits_query) if visits_query is not None else [],
        objections=fetch_rows(session, _objections_query(windows, now, selected_ids)),
    )
    return facts


def load_all_facts(engine: Engine, config: HealthModelConfig, now: datetime, threads: int = READ_THREADS) -> Facts:
    """Read the indicator inputs of every customer, running the aggregate queries on `threads` connections at once.

    The event aggregate, the largest query, is split in two halves by customer id. Each
    query reads its own snapshot, so while other transactions commit, sources may differ by
    the commits made during the read (about a second for 100,000 customers). The next
    recompute corrects them.
    """
    windows = Windows.for_model(config, now)
    with Session(engine) as session:
        facts = _load_customers(session, None, now)
    index = {customer_id: position for position, customer_id in enumerate(facts.customer_ids)}
    if not facts.customer_ids:
        _fill_empty(facts)
        return facts

    def read(query) -> list[tuple]:
        if query is None:
            return []
        with Session(engine) as session:
            return fetch_rows(session, query)

    events = _events_query(windows, now, None)
    customer_column = CustomerEvent.__table__.c.customer_id
    middle = uuid.UUID(int=1 << 127)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="score-read") as pool:
        lower = pool.submit(read, events.where(customer_column < middle))
        upper = pool.submit(read, events.where(customer_column >= middle))
        roles = pool.submit(read, _roles_query(None))
        visits = pool.submit(read, _visits_query(config, windows, now, None))
        objections = pool.submit(read, _objections_query(windows, now, None))
        _apply_rows(
            facts, index, now, roles=roles.result(), events=lower.result() + upper.result(),
            visits=visits.result(), objections=objections.result(),
        )
    return facts


def _apply_rows(facts: Facts, index: dict, now: datetime, *, roles: list, events: list, visits: list, objections: list) -> None:
    n = len(facts)
    facts.roles_named = _scatter(index, roles, n, 1)[:, 0]
    _apply_events(facts, index, events)
    facts.requirement_by_visit = _confirming_visits(index, n, visits)
    _apply_objections(facts, index, objections, now)


def fetch_rows(session: Session, query) -> list[tuple]:
    """Run a query and return the driver's row tuples, skipping SQLAlchemy's per-row result objects.

    Only for columns that need no conversion: raw ids and timestamps (see `raw`) and numbers.
    """
    result = session.connection().execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _load_customers(session: Session, customer_ids: list | None, now: datetime) -> Facts:
    query = select(raw(Customer.id), raw(Customer.owner_id), raw(Customer.region_id), Customer.industry, Customer.purchase_band).where(
        Customer.deleted == False  # noqa: E712
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    rows = fetch_rows(session, query)
    facts = Facts(now=now)
    if rows:
        ids, owners, regions, industries, bands = zip(*rows)
        facts.customer_ids, facts.owner_ids, facts.region_ids = list(ids), list(owners), list(regions)
        facts.industries, facts.purchase_bands = list(industries), list(bands)
    return facts


def _restrict(query, column, selected_ids: list | None):
    """Limit the query to the customers in `selected_ids` (raw ids, as in Facts), or not at all for None."""
    return query if selected_ids is None else query.where(raw(column).in_(selected_ids))


def _scatter(index: dict, rows: list, n: int, columns: int, fill: float = 0.0) -> np.ndarray:
    """Place aggregate rows (customer id, value, value, ...) into an n x columns array by customer position.

    NULL values and customers without a row get `fill`.
    """
    result = np.full((n, columns), fill, dtype=float)
    if not rows:
        return result
    ids, *values = zip(*rows)
    positions = np.fromiter(map(index.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
    # None becomes NaN in a float array.
    matrix = np.array(values, dtype=float).T
    if fill == fill:
        matrix = np.where(np.isnan(matrix), fill, matrix)
    known = positions >= 0
    result[positions[known]] = matrix[known]
    return result


def _roles_query(selected_ids: list | None):
    query = select(raw(Contact.customer_id), func.count(distinct(Contact.decision_role))).where(
        Contact.deleted == False, Contact.decision_role.in_(DECISION_CHAIN_ROLES)  # noqa: E712
    )
    return _restrict(query, Contact.customer_id, selected_ids).group_by(Contact.customer_id)


def _events_query(windows: Windows, now: datetime, selected_ids: list | None):
    event = CustomerEvent.__table__.c

    def in_window(kind: EventKind, start: datetime):
        return and_(event.kind == kind.value, event.occurred_at >= start)

    def count_where(condition):
        return func.sum(case((condition, 1), else_=0))

    def distinct_refs_where(condition):
        return func.count(distinct(case((condition, event.ref), else_=None)))

    sheet = and_(in_window(EventKind.COMPETITOR_SHEET_SUBMITTED, windows.sheets), event.due_at.is_not(None))
    query = select(
        raw(event.customer_id),
        count_where(in_window(EventKind.DOCUMENT_DOWNLOAD, windows.downloads)),
        count_where(in_window(EventKind.DOCUMENT_DOWNLOAD, windows.month)),
        distinct_refs_where(in_window(EventKind.PROPOSAL_SENT, windows.proposals)),
        distinct_refs_where(in_window(EventKind.PROPOSAL_OPEN, windows.proposals)),
        distinct_refs_where(in_window(EventKind.MEETING_INVITED, windows.meetings)),
        distinct_refs_where(in_window(EventKind.MEETING_ATTENDED, windows.meetings)),
        func.max(case((in_window(EventKind.REQUIREMENT_CONFIRMED, windows.requirements), func.coalesce(event.value, 1.0)), else_=None)),
        count_where(sheet),
        count_where(and_(sheet, event.occurred_at <= event.due_at)),
    ).where(event.occurred_at >= windows.earliest(), event.occurred_at <= now)
    return _restrict(query, event.customer_id, selected_ids).group_by(event.customer_id)


def _apply_events(facts: Facts, index: dict, rows: list) -> None:
    # Customers without events, and the requirement column of customers without a confirmation, stay NaN.
    columns = _scatter(index, rows, len(facts), 9, fill=np.nan)
    counts = np.nan_to_num(columns, nan=0.0)
    facts.downloads_window = counts[:, 0]
    facts.downloads_this_month = counts[:, 1]
    facts.proposals_sent, facts.proposals_opened = counts[:, 2], counts[:, 3]
    facts.meetings_invited, facts.meetings_attended = counts[:, 4], counts[:, 5]
    facts.requirement_best = columns[:, 6]
    facts.sheets_due, facts.sheets_on_time = counts[:, 7], counts[:, 8]


def _visits_query(config: HealthModelConfig, windows: Windows, now: datetime, selected_ids: list | None):
    """Return the query of customers with a requirement-confirming visit, or None when the model names no visit type."""
    visit_types = config.parameters.requirement_confirmation.visit_types
    if not visit_types:
        return None
    query = select(raw(Visit.customer_id)).distinct().where(
        Visit.deleted == False,  # noqa: E712
        Visit.visit_type.in_(visit_types),
        Visit.checked_in_at >= windows.requirements,
        Visit.checked_in_at <= now,
    )
    return _restrict(query, Visit.customer_id, selected_ids)


def _confirming_visits(index: dict, n: int, rows: list) -> np.ndarray:
    result = np.zeros(n, dtype=bool)
    for (customer_id,) in rows:
        position = index.get(customer_id)
        if position is not None:
            result[position] = True
    return result


def _objections_query(windows: Windows, now: datetime, selected_ids: list | None):
    event = CustomerEvent.__table__.c
    raised = func.min(case((event.kind == EventKind.OBJECTION_RAISED.value, epoch_seconds(event.occurred_at)), else_=None))
    resolved = func.min(case((event.kind == EventKind.OBJECTION_RESOLVED.value, epoch_seconds(event.occurred_at)), else_=None))
    query = (
        select(raw(event.customer_id), raised, resolved)
        .where(
            event.kind.in_((EventKind.OBJECTION_RAISED.value, EventKind.OBJECTION_RESOLVED.value)),
            event.occurred_at >= windows.objections,
            event.occurred_at <= now,
        )
    )
    return _restrict(query, event.customer_id, selected_ids).group_by(event.customer_id, event.ref)


def _apply_objections(facts: Facts, index: dict, rows: list, now: datetime) -> None:
    """Set the mean objection cycle in days per customer; an objection still open counts its age so far."""
    n = len(facts)
    rows = [row for row in rows if row[1] is not None]
    if not rows:
        facts.objections = np.zeros(n)
        facts.objection_mean_days = np.full(n, np.nan)
        return
    ids, raised_at, resolved_at = zip(*rows)
    positions = np.fromiter(map(index.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
    raised_at = np.array(raised_at, dtype=float)
    resolved_at = np.array(resolved_at, dtype=float)
    # An objection not resolved (or resolved before it was raised, a data error) counts its age so far.
    end = np.where(np.isnan(resolved_at) | (resolved_at < raised_at), now.timestamp(), resolved_at)
    cycles = (end - raised_at) / SECONDS_PER_DAY
    known = positions >= 0
    counts = np.bincount(positions[known], minlength=n).astype(float)
    totals = np.bincount(positions[known], weights=cycles[known], minlength=n)
    facts.objections = counts
    facts.objection_mean_days = np.divide(totals, counts, out=np.full(n, np.nan), where=counts > 0)


def _fill_empty(facts: Facts) -> None:
    empty = np.zeros(0)
    for name in (
        "roles_named", "downloads_window", "downloads_this_month", "proposals_sent", "proposals_opened",
        "meetings_invited", "meetings_attended", "requirement_best", "sheets_due", "sheets_on_time",
        "objections", "objection_mean_days",
    ):
        setattr(facts, name, empty)
    facts.requirement_by_visit = np.zeros(0, dtype=bool)
