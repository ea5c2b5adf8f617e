"""Compute health scores for many customers at once, and recompute them fully or incrementally.

A computation reads the indicator inputs with one aggregate query per source
(`facts`), turns them into an N x 9 array of indicator values, combines it with the
model's weights in numpy (`rules.combine`), and renders each customer's reasons as
JSON. `writer` then stores a snapshot per customer and updates the synced latest
score of the customers whose score or reasons changed.

- `recompute_all(engine)`: every customer. Reads with the aggregate queries spread over
  two connections, then writes in chunks of short write transactions, so a long recompute
  never holds SQLite's write lock (or PostgreSQL's change-counter row lock) for more than
  one chunk.
- `recompute_customers(session, ids)`: a few customers inside the caller's writing
  session (after a sync push or recorded events); commits.
"""

import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.db import writing_session
from server.scoring.config import DECISION_CHAIN_ROLES, INDICATOR_NAMES, HealthModelConfig
from server.scoring.facts import Facts, load_all_facts, load_facts, raw
from server.scoring.health_models import ActiveModel, ensure_active_model
from server.scoring.models import LatestScore
from server.scoring.reasons import ReasonRenderer
from server.scoring.rules import (
    bands_of,
    capped_rate,
    capped_share,
    chain_completeness,
    combine,
    download_boosted,
    lookup_share,
    objection_cycle_value,
    requirement_completion,
)
from server.scoring.writer import write_batch

log = logging.getLogger(__name__)

# Customers per write transaction in a full recompute.
WRITE_CHUNK = 20_000


def indicator_values(facts: Facts, config: HealthModelConfig) -> np.ndarray:
    """Return the N x 9 indicator values (columns in INDICATOR_NAMES order, NaN = unknown)."""
    p = config.parameters
    columns = {
        "industry_fit": lookup_share(facts.industries, p.industry_fit.by_industry, p.industry_fit.default),
        "purchase_band": lookup_share(facts.purchase_bands, p.purchase_band.by_band, None),
        "decision_chain_completeness": chain_completeness(facts.roles_named, len(DECISION_CHAIN_ROLES)),
        "document_downloads": capped_share(facts.downloads_window, p.document_downloads.saturation),
        "proposal_open_rate": capped_rate(facts.proposals_opened, facts.proposals_sent),
        "meeting_attendance": capped_rate(facts.meetings_attended, facts.meetings_invited),
        "requirement_confirmation": requirement_completion(facts.requirement_best, facts.requirement_by_visit),
        "competitor_sheet_on_time": capped_rate(facts.sheets_on_time, facts.sheets_due),
        "objection_resolution_cycle": objection_cycle_value(
            facts.objection_mean_days, p.objection_resolution_cycle.target_days, p.objection_resolution_cycle.max_days
        ),
    }
    values = np.empty((len(facts), len(INDICATOR_NAMES)), dtype=float)
    for position, name in enumerate(INDICATOR_NAMES):
        values[:, position] = columns[name]
    return values


class ScoreBatch:
    """Computed scores of N customers (positions as in `facts`), ready to be written once rendered.

    `render(start, stop)` fills the JSON reasons, the fingerprints and the comparison with
    the previous latest score for customers start..stop.
    """

    def __init__(self, model: ActiveModel, now: datetime, facts: Facts, values, scored, bands, previous: dict) -> None:
        n = len(facts)
        self.model_version = model.version
        self.computed_at = now
        self.facts = facts
        self.scores = scored.scores
        self.bands = bands
        self.previous_scores = np.full(n, np.nan)
        # Raw timestamps (as the driver returns them) or datetimes.
        self.band_since: list = [now] * n
        # True: the latest score must be rewritten.
        self.changed = np.ones(n, dtype=bool)
        # Raw id of each customer's latest-score row, None where there is none yet.
        self.latest_ids: list = [None] * n
        self.effective_weights_json: list = [None] * n
        self.indicators_json: list = [None] * n
        self.explanation_json: list = [None] * n
        self.fingerprints: list = [None] * n
        # Seconds spent in each phase, for the log.
        self.timings: dict[str, float] = {}
        self._values = values
        self._scored = scored
        self._previous = previous
        self._renderer = ReasonRenderer(model.config)

    def __len__(self) -> int:
        return len(self.facts)

    def render(self, start: int, stop: int) -> None:
        """Render customers start..stop and compare them with their previous latest score."""
        scored = self._scored
        indicators, weights, explanations = self._renderer.render(
            self._values, scored.effective_weights, scored.contributions, scored.boosted, self.facts, start, stop
        )
        self.indicators_json[start:stop] = indicators
        self.effective_weights_json[start:stop] = weights
        self.explanation_json[start:stop] = explanations
        self.fingerprints[start:stop] = [zlib.crc32(f"{a}{b}".encode()) for a, b in zip(indicators, explanations)]

        scores = self.scores[start:stop].tolist()
        bands = self.bands[start:stop].tolist()
        for offset, customer_id in enumerate(self.facts.customer_ids[start:stop]):
            earlier = self._previous.get(customer_id)
            if earlier is None:
                continue
            i = start + offset
            score, band, since, fingerprint, version, self.latest_ids[i] = earlier
            self.previous_scores[i] = score
            if band == bands[offset]:
                self.band_since[i] = since
                self.changed[i] = not (version == self.model_version and score == scores[offset] and fingerprint == self.fingerprints[i])


@dataclass
class RecomputeReport:
    customers: int = 0
    changed: int = 0
    bands: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    model_version: int | None = None
    batch: ScoreBatch | None = None


def compute_batch(
    session: Session, model: ActiveModel, now: datetime, customer_ids: list | None = None, render: bool = True, engine: Engine | None = None
) -> ScoreBatch:
    """Read the inputs and compute the scores of the given customers (None: all) without writing.

    With `render` false the caller must render the batch (ScoreBatch.render) before writing it.
    With `engine`, a computation of all customers reads on several connections at once.
    """
    timer = _PhaseTimer()
    config = model.config
    if engine is not None and customer_ids is None:
        facts = load_all_facts(engine, config, now)
    else:
        facts = load_facts(session, config, now, customer_ids)
    previous = _previous_scores(session, facts, customer_ids is not None)
    timer.lap("read")

    values = indicator_values(facts, config)
    boosted = download_boosted(facts.downloads_this_month, config.download_boost.monthly_downloads_over)
    scored = combine(values, np.array(config.weight_vector()), boosted, config.download_boost.multiplier, config.missing_policy)
    batch = ScoreBatch(model, now, facts, values, scored, bands_of(scored.scores, config.bands), previous)
    timer.lap("score")
    if render and len(batch):
        batch.render(0, len(batch))
        timer.lap("render")
    batch.timings = timer.laps
    return batch


class _PhaseTimer:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _previous_scores(session: Session, facts: Facts, restricted: bool) -> dict:
    latest = LatestScore.__table__.c
    query = select(
        raw(latest.customer_id), latest.score, latest.band, raw(latest.band_since), latest.fingerprint, latest.model_version, raw(latest.id)
    ).where(
        latest.deleted == False  # noqa: E712
    )
    if restricted:
        query = query.where(raw(latest.customer_id).in_(facts.customer_ids))
    return {row[0]: row[1:] for row in session.connection().execute(query).all()}


def recompute_customers(session: Session, customer_ids: list, now: datetime | None = None) -> RecomputeReport:
    """Recompute the given customers in `session` (a writing session) and commit."""
    started = time.perf_counter()
    model = ensure_active_model(session)
    now = now or datetime.now(timezone.utc)
    batch = compute_batch(session, model, now, list(customer_ids))
    if len(batch):
        write_batch(session, batch, 0, len(batch))
    session.commit()
    return _report(batch, model, started)


def recompute_all(engine: Engine, now: datetime | None = None, chunk_size: int = WRITE_CHUNK) -> RecomputeReport:
    """Recompute every customer: read on two connections, write in chunks of `chunk_size` customers.

    NOTE: 100,000 customers whose scores all change take about 6.3 s on a 2-vCPU AMD EPYC VM
    (bench/scoring_recompute.py), above the 5 s target. Writing snapshots, latest scores and
    their change-log entries takes about half of it. Rendering the next chunk in a thread
    while one is written gained nothing, because binding the rows needs Python's lock too.
    """
    started = time.perf_counter()
    with writing_session(engine) as session:
        model = ensure_active_model(session)
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session:
        batch = compute_batch(session, model, now, engine=engine)

    write_started = time.perf_counter()
    for start in range(0, len(batch), chunk_size):
        with writing_session(engine) as session:
            write_batch(session, batch, start, min(start + chunk_size, len(batch)))
            session.commit()
    batch.timings["write"] = round(time.perf_counter() - write_started, 3)
    report = _report(batch, model, started)
    log.info(
        "full score recompute: %d customers, %d changed, bands %s, model version %d, %.2f s (phases %s)",
        report.customers, report.changed, report.bands, model.version, report.seconds, batch.timings,
    )
    return report


def _report(batch: ScoreBatch, model: ActiveModel, started: float) -> RecomputeReport:
    bands, counts = np.unique(batch.bands, return_counts=True) if len(batch) else ([], [])
    return RecomputeReport(
        customers=len(batch),
        changed=int(batch.changed.sum()) if len(batch) else 0,
        bands={str(band): int(count) for band, count in zip(bands, counts)},
        seconds=time.perf_counter() - started,
        model_version=model.version,
        batch=batch,
    )
