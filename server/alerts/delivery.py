"""The alert delivery worker: WeCom and DingTalk digests under each robot's rate limit, mobile push, retries.

Each `run_once()`:
1. For every enabled robot with queued alerts that are due, waits until the oldest has
   queued for `digest_wait_s` (so a burst becomes one message), then packs the due alerts
   into digests and sends as many as the robot's rate limit allows: at most
   `max_per_minute` requests in any 60 seconds, counted from the attempt log, so the limit
   applies across runs and restarts. Alerts beyond the limit wait for the next run.
2. Sends each due push item through the PushProvider.
Every attempt is a row of alert_deliveries (status sent, failed or timeout, HTTP status,
error, attempt number, next attempt). A failed attempt schedules its alerts again after
an exponential backoff (`backoff_base_s` x 2^(attempt-1), at most `backoff_max_s`); after
`max_attempts` they are marked failed. No database transaction stays open during an HTTP
request. Delivery is at least once: a crash between a robot's response and the log entry
sends that digest again.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.alerts.channels import MAX_DIGEST_BYTES, dingtalk_signed_url, message_body, pack_digests, parse_response
from server.alerts.models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertQueueItem,
    ChannelKind,
    DeliveryStatus,
    QueueState,
)
from server.alerts.push import LoggingPushProvider, PushError, PushMessage, PushProvider
from server.content.service import ALERT_TEMPLATES, get_pack, item_bodies, render
from server.db import writing_session
from server.security import as_utc

log = logging.getLogger(__name__)

_DEFAULT_HEADER = "### Field Sales alerts ($count)"


@dataclass(frozen=True)
class DeliverySettings:
    timeout_s: float = 5.0
    # A robot's first queued alert waits this long for others to join its digest.
    digest_wait_s: float = 5.0
    backoff_base_s: float = 30.0
    backoff_max_s: float = 1800.0
    max_attempts: int = 6
    max_digest_bytes: int = MAX_DIGEST_BYTES
    # Push items sent per run, so one run stays short.
    push_batch: int = 200


@dataclass
class DeliveryReport:
    requests: int = 0
    alerts_sent: int = 0
    failures: int = 0
    rate_limited: int = 0
    pushed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff_seconds(attempt: int, settings: DeliverySettings) -> float:
    """Seconds before the next try after failed attempt number `attempt` (1, 2, ...)."""
    return min(settings.backoff_base_s * 2 ** (attempt - 1), settings.backoff_max_s)


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        http: httpx.Client | None = None,
        push_provider: PushProvider | None = None,
        settings: DeliverySettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or DeliverySettings()
        self.http = http or httpx.Client(timeout=self.settings.timeout_s)
        self.push_provider = push_provider or LoggingPushProvider()
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def run_once(self) -> DeliveryReport:
        report = DeliveryReport()
        now = self.clock()
        with Session(self.engine) as session:
            due = select(AlertQueueItem.channel_id).where(AlertQueueItem.state == QueueState.PENDING.value, AlertQueueItem.next_attempt_at <= now)
            channels = session.exec(
                select(AlertChannel).where(AlertChannel.enabled == True, AlertChannel.id.in_(due)).order_by(AlertChannel.name)  # noqa: E712
            ).all()
            templates = item_bodies(get_pack(session, ALERT_TEMPLATES))
        for channel in channels:
            try:
                self._deliver_channel(channel, templates, now, report)
            except Exception as error:  # noqa: BLE001 - one broken robot must not stop the others
                log.exception("alert delivery to channel %s (%s) failed unexpectedly", channel.id, channel.name)
                report.errors.append(f"{channel.id}: {error}")
        self._deliver_push(now, report)
        return report

    # ---- Robots ------------------------------------------------------------------------------

    def _deliver_channel(self, channel: AlertChannel, templates: dict, now: datetime, report: DeliveryReport) -> None:
        with Session(self.engine) as session:
            items = session.exec(
                select(AlertQueueItem)
                .where(AlertQueueItem.channel_id == channel.id, AlertQueueItem.state == QueueState.PENDING.value,
                       AlertQueueItem.next_attempt_at <= now)
                .order_by(AlertQueueItem.created_at, AlertQueueItem.id)
            ).all()
            if not items or not self._ready(items, now):
                return
            window_start = now - timedelta(seconds=60)
            used = session.exec(
                select(func.count()).select_from(AlertDelivery)
                .where(AlertDelivery.channel_id == channel.id, AlertDelivery.attempted_at > window_start)
            ).one()
            alerts = {alert.id: alert for alert in session.exec(select(Alert).where(Alert.id.in_([item.alert_id for item in items]))).all()}

        budget = channel.max_per_minute - used
        header = templates.get("digest_header", {}).get("body", _DEFAULT_HEADER)
        line_template = templates.get("digest_line", {}).get("body", "- **$title**: $reason")
        lines = [(item.id, _line(line_template, alerts.get(item.alert_id))) for item in items]
        digests = pack_digests(lines, header, self.settings.max_digest_bytes)
        by_id = {item.id: item for item in items}
        title = templates.get("digest_header", {}).get("title", "Field Sales")

        for number, (item_ids, text) in enumerate(digests):
            if budget <= 0:
                waiting = sum(len(ids) for ids, _ in digests[number:])
                report.rate_limited += waiting
                log.info("channel %s at its limit of %d messages a minute; %d alerts wait", channel.name, channel.max_per_minute, waiting)
                return
            budget -= 1
            ok = self._send_digest(channel, [by_id[i] for i in item_ids], title, text, now, report)
            if not ok:
                return

    def _ready(self, items: list[AlertQueueItem], now: datetime) -> bool:
        """Send now if an item is a retry or the oldest has waited out the digest window."""
        if any(item.attempts > 0 for item in items):
            return True
        oldest = min(as_utc(item.created_at) for item in items)
        return now - oldest >= timedelta(seconds=self.settings.digest_wait_s)

    def _send_digest(self, channel: AlertChannel, items: list[AlertQueueItem], title: str, text: str, now: datetime,
                     report: DeliveryReport) -> bool:
        url = channel.webhook_url
        if channel.kind == ChannelKind.DINGTALK.value and channel.secret:
            url = dingtalk_signed_url(url, channel.secret, int(time.time() * 1000))
        started = time.perf_counter()
        status, http_status, error = DeliveryStatus.SENT.value, None, None
        try:
            response = self.http.post(url, json=message_body(channel.kind, title, text), timeout=self.settings.timeout_s)
            http_status = response.status_code
            parsed = parse_response(response.status_code, response.content)
            if not parsed.ok:
                status, error = DeliveryStatus.FAILED.value, parsed.error
        except httpx.TimeoutException:
            status, error = DeliveryStatus.TIMEOUT.value, f"timed out: no response within {self.settings.timeout_s} s"
        except httpx.HTTPError as failure:
            status, error = DeliveryStatus.FAILED.value, f"{type(failure).__name__}: {failure}"
        elapsed_ms = (time.perf_counter() - started) * 1000

        attempt = max(item.attempts for item in items) + 1
        next_attempt_at = self._record(channel.id, channel.kind, items, status, http_status, error, attempt, now, elapsed_ms)
        report.requests += 1
        if status == DeliveryStatus.SENT.value:
            report.alerts_sent += len(items)
            log.info("alert digest sent to %s %s: %d alerts, attempt %d, %.0f ms", channel.kind, channel.name, len(items), attempt, elapsed_ms)
            return True
        report.failures += 1
        if next_attempt_at is None:
            log.error("alert digest to %s %s failed on attempt %d, giving up: %s", channel.kind, channel.name, attempt, error)
        else:
            log.warning("alert digest to %s %s failed on attempt %d (%s); retrying at %s",
                        channel.kind, channel.name, attempt, error, next_attempt_at.isoformat())
        return False

    def _record(self, channel_id, channel_kind: str, items: list[AlertQueueItem], status: str, http_status: int | None,
                error: str | None, attempt: int, now: datetime, elapsed_ms: float) -> datetime | None:
        """Log the attempt and update its queue items; return when they are tried again (None: not again)."""
        sent = status == DeliveryStatus.SENT.value
        give_up = not sent and attempt >= self.settings.max_attempts
        next_attempt_at = None if sent or give_up else now + timedelta(seconds=backoff_seconds(attempt, self.settings))
        with writing_session(self.engine) as session:
            session.add(AlertDelivery(
                channel_kind=channel_kind, channel_id=channel_id, alert_ids=[str(item.alert_id) for item in items], status=status,
                http_status=http_status, error=error[:500] if error else None, attempt=attempt, next_attempt_at=next_attempt_at,
                attempted_at=now, duration_ms=round(elapsed_ms, 1),
            ))
            for item in items:
                row = session.get(AlertQueueItem, item.id)
                row.attempts = attempt
                if sent:
                    row.state, row.sent_at, row.last_error = QueueState.SENT.value, now, None
                else:
                    row.last_error = error[:500] if error else None
                    if give_up:
                        row.state = QueueState.FAILED.value
                    else:
                        row.next_attempt_at = next_attempt_at
                session.add(row)
            session.commit()
        return next_attempt_at

    # ---- Mobile push -------------------------------------------------------------------------

    def _deliver_push(self, now: datetime, report: DeliveryReport) -> None:
        with Session(self.engine) as session:
            rows = session.exec(
                select(AlertQueueItem, Alert).join(Alert, Alert.id == AlertQueueItem.alert_id)
                .where(AlertQueueItem.channel_kind == ChannelKind.PUSH.value, AlertQueueItem.state == QueueState.PENDING.value,
                       AlertQueueItem.next_attempt_at <= now)
                .order_by(AlertQueueItem.created_at, AlertQueueItem.id)
                .limit(self.settings.push_batch)
            ).all()
        for item, alert in rows:
            message = PushMessage(
                recipient_id=alert.recipient_id,
                title=str(alert.data.get("title", alert.kind)),
                body=alert.reason,
                data={"alert_id": str(alert.id), "kind": alert.kind, "customer_id": str(alert.customer_id) if alert.customer_id else None},
            )
            started = time.perf_counter()
            try:
                self.push_provider.send(message)
                status, error = DeliveryStatus.SENT.value, None
            except PushError as failure:
                status, error = DeliveryStatus.FAILED.value, str(failure)
            elapsed_ms = (time.perf_counter() - started) * 1000
            attempt = item.attempts + 1
            self._record(None, ChannelKind.PUSH.value, [item], status, None, error, attempt, now, elapsed_ms)
            if status == DeliveryStatus.SENT.value:
                report.pushed += 1
            else:
                report.failures += 1
                log.warning("push of alert %s through %s failed on attempt %d: %s", alert.id, self.push_provider.name, attempt, error)


def _line(template: str, alert: Alert | None) -> str:
    if alert is None:
        return "- (alert removed)"
    return render(template, {"title": alert.data.get("title", alert.kind), "reason": alert.reason})
