"""The scheduled jobs and the runner that runs each when it is due, under its database lock.

Jobs (default interval):
- score_recompute (6 h, and soon after a health model is activated): full recompute of
  every customer's health score, the reactivation and follow-up rules on the result, and
  removal of snapshots older than SNAPSHOT_RETENTION that are no customer's latest.
- followup_escalation (15 min): escalate green customers without a follow-up for more than 30 days.
- lead_escalation (1 min): escalate A leads not assigned within the configured minutes.
- alert_delivery (2 s): the WeCom, DingTalk and push delivery worker.
- change_log_compaction (24 h): purge sync tombstones and evictions older than 30 days.
When a job last started is kept in job_state, so several runners share one schedule.
"""

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.db import writing_session
from server.jobs.locks import job_lock
from server.jobs.models import JobState
from server.security import as_utc

log = logging.getLogger(__name__)

# Snapshots older than this are removed unless they are a customer's latest.
SNAPSHOT_RETENTION = timedelta(days=400)


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    # Longest expected run; the SQLite lease lasts this long.
    lease: timedelta
    run: Callable[["JobContext"], str]
    # Extra condition that makes the job due before its interval has passed.
    due_early: Callable[[Session, datetime | None], bool] | None = None


@dataclass
class JobContext:
    engine: Engine
    now: datetime


def _recompute_scores(context: JobContext) -> str:
    from server.alerts.checks import raise_score_alerts
    from server.scoring.engine import recompute_all

    report = recompute_all(context.engine)
    raised = 0
    if report.batch is not None and len(report.batch):
        with writing_session(context.engine) as session:
            raised = raise_score_alerts(session, report.batch)
    purged = _purge_snapshots(context.engine, context.now - SNAPSHOT_RETENTION)
    return f"{report.customers} customers, {report.changed} changed, bands {report.bands}, {raised} alerts, {purged} old snapshots removed"


def _purge_snapshots(engine: Engine, cutoff: datetime) -> int:
    from server.models import UtcDateTime

    query = text(
        "DELETE FROM score_snapshots WHERE computed_at < :cutoff AND NOT EXISTS (SELECT 1 FROM latest_scores l "
        "WHERE l.customer_id = score_snapshots.customer_id AND l.computed_at = score_snapshots.computed_at)"
    ).bindparams(bindparam("cutoff", type_=UtcDateTime()))
    with writing_session(engine) as session:
        removed = session.execute(query, {"cutoff": cutoff}).rowcount
        session.commit()
    return removed


def _model_activated_since(session: Session, last_started_at: datetime | None) -> bool:
    from server.scoring.health_models import load_active_model

    active = load_active_model(session)
    return active is not None and active.activated_at is not None and last_started_at is not None and as_utc(active.activated_at) > last_started_at


def _followup_escalations(context: JobContext) -> str:
    from server.alerts.checks import check_followup_escalations

    with writing_session(context.engine) as session:
        return f"{check_followup_escalations(session, context.now)} escalations raised"


def _lead_escalations(context: JobContext) -> str:
    from server.alerts.checks import check_unassigned_leads

    with writing_session(context.engine) as session:
        return f"{check_unassigned_leads(session, context.now)} escalations raised"


def _deliver_alerts(context: JobContext) -> str:
    from server.alerts.delivery import DeliverySettings, DeliveryWorker
    from server.alerts.push import provider_from_settings
    from server.config import get_settings

    settings = get_settings()
    provider = provider_from_settings(settings)
    worker = DeliveryWorker(context.engine, push_provider=provider, settings=DeliverySettings(timeout_s=settings.webhook_timeout_seconds))
    try:
        report = worker.run_once()
    finally:
        worker.http.close()
        if hasattr(provider, "close"):
            provider.close()
    pushed = f"{report.pushed} pushed" if provider.name != "log" else f"{report.pushed} push notifications logged, not sent (JPUSH_APP_KEY is not set)"
    return f"{report.requests} robot requests, {report.alerts_sent} alerts sent, {pushed}, {report.failures} failures"


def _compact_change_log(context: JobContext) -> str:
    from server.sync.compaction import purge_tombstones

    with writing_session(context.engine) as session:
        return f"{purge_tombstones(session)} tombstones and evictions purged"


DEFAULT_JOBS: tuple[Job, ...] = (
    Job("score_recompute", timedelta(hours=6), timedelta(minutes=30), _recompute_scores, due_early=_model_activated_since),
    Job("followup_escalation", timedelta(minutes=15), timedelta(minutes=10), _followup_escalations),
    Job("lead_escalation", timedelta(minutes=1), timedelta(minutes=5), _lead_escalations),
    Job("alert_delivery", timedelta(seconds=2), timedelta(minutes=5), _deliver_alerts),
    Job("change_log_compaction", timedelta(hours=24), timedelta(minutes=30), _compact_change_log),
)


class JobRunner:
    def __init__(self, engine: Engine, jobs: tuple[Job, ...] = DEFAULT_JOBS, holder: str | None = None) -> None:
        self.engine = engine
        self.jobs = {job.name: job for job in jobs}
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"

    def is_due(self, job: Job, now: datetime) -> bool:
        with Session(self.engine) as session:
            state = session.get(JobState, job.name)
            last = as_utc(state.last_started_at) if state is not None and state.last_started_at is not None else None
            if last is None or now - last >= job.interval:
                return True
            return job.due_early is not None and job.due_early(session, last)

    def run(self, name: str) -> str | None:
        """Run one job now if its lock is free; return its result, or None when another runner holds it."""
        job = self.jobs[name]
        with job_lock(self.engine, name, self.holder, job.lease) as acquired:
            if not acquired:
                log.info("job %s skipped: its lock is taken by another runner", name)
                return None
            return self._run_locked(job)

    def _run_locked(self, job: Job) -> str:
        started = datetime.now(timezone.utc)
        self._update_state(job.name, last_started_at=started)
        clock = time.perf_counter()
        try:
            result = job.run(JobContext(self.engine, started))
        except Exception as error:  # noqa: BLE001 - a failing job is recorded and retried at its next interval
            elapsed = (time.perf_counter() - clock) * 1000
            log.exception("job %s failed after %.0f ms", job.name, elapsed)
            self._update_state(job.name, last_finished_at=datetime.now(timezone.utc), last_status="error", last_duration_ms=elapsed,
                               last_error="".join(traceback.format_exception_only(error)).strip()[:500])
            return f"error: {error}"
        elapsed = (time.perf_counter() - clock) * 1000
        self._update_state(job.name, last_finished_at=datetime.now(timezone.utc), last_status="ok", last_duration_ms=elapsed,
                           last_error=None, last_result=result[:500])
        log.log(logging.DEBUG if job.name == "alert_delivery" else logging.INFO, "job %s done in %.0f ms: %s", job.name, elapsed, result)
        return result

    def _update_state(self, name: str, **values) -> None:
        with writing_session(self.engine) as session:
            state = session.get(JobState, name) or JobState(name=name)
            for key, value in values.items():
                setattr(state, key, value)
            if "last_started_at" in values:
                state.runs += 1
            session.add(state)
            session.commit()

    def run_once(self, names: list[str] | None = None) -> dict[str, str | None]:
        """Run each job (or the named ones) once now, whatever its schedule."""
        return {name: self.run(name) for name in (names or list(self.jobs))}

    def loop(self, stop: threading.Event, tick_seconds: float = 1.0) -> None:
        """Run every job when it is due until `stop` is set."""
        log.info("job runner %s started with jobs %s", self.holder, ", ".join(self.jobs))
        while not stop.is_set():
            for job in self.jobs.values():
                if stop.is_set():
                    break
                try:
                    if self.is_due(job, datetime.now(timezone.utc)):
                        self.run(job.name)
                except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable: try again next tick
                    log.exception("job runner could not check or start job %s", job.name)
            stop.wait(tick_seconds)
        log.info("job runner %s stopped", self.holder)
