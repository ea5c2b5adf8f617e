"""Raise an alert once per cause, queue its delivery, and change its state.

An alert's `dedupe_key` names its cause (for example the customer and the moment its
score turned red). The key is unique in the table, so a cause raises at most one alert
however often the rules run, and also when two processes evaluate it at the same time.
"""

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.wire import SYNCED_FIELDS
from server.alerts.models import Alert, AlertChannel, AlertQueueItem, AlertState, ChannelKind
from server.content.service import ALERT_TEMPLATES, get_pack, item_bodies, render
from server.models import Role, User
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)

_WIRE_FIELDS = frozenset(SYNCED_FIELDS["alerts"])

# English wording used when the alert_templates content pack has no template for a kind.
_FALLBACK_TEMPLATES = {
    "reactivation": ("Customer health score alert", "Customer $customer_name scored $score (red). The reactivation talk tracks are attached."),
    "followup_escalation": (
        "Follow-up overdue",
        "High-potential customer $customer_name scored $score with no follow-up for $days_without_followup days (owner: $owner_name).",
    ),
    "followup_escalation_never": (
        "Follow-up missing",
        "High-potential customer $customer_name scored $score and has never been followed up (owner: $owner_name).",
    ),
    "lead_unassigned": ("A lead not assigned", "A lead $lead_company ($lead_source) has waited $minutes_waiting minutes without a rep."),
}


@dataclass(frozen=True)
class AlertDraft:
    """An alert a rule would raise, unless its cause was alerted before. `template` names the alert_templates item for its title and reason."""

    recipient_id: uuid.UUID
    kind: str
    dedupe_key: str
    template: str
    values: dict
    data: dict
    customer_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    """Return which of `keys` already belong to an alert."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(session.exec(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(chunk))).all())
    return found


def raise_alerts(session: Session, recorder: ChangeRecorder, drafts: list[AlertDraft], now: datetime | None = None) -> list[Alert]:
    """Store the drafts whose cause has no alert yet, queue their delivery, and return the new alerts.

    Runs in the caller's transaction; the caller flushes the recorder and commits.
    """
    if not drafts:
        return []
    now = now or datetime.now(timezone.utc)
    seen = existing_keys(session, [draft.dedupe_key for draft in drafts])
    templates = item_bodies(get_pack(session, ALERT_TEMPLATES))
    channels = session.exec(select(AlertChannel).where(AlertChannel.enabled == True)).all()  # noqa: E712

    raised = []
    for draft in drafts:
        if draft.dedupe_key in seen:
            continue
        seen.add(draft.dedupe_key)
        alert = _store(session, draft, templates, now)
        if alert is None:
            continue
        recorder.put("alerts", alert, changed_fields=set(_WIRE_FIELDS))
        _queue(session, alert, channels, now)
        raised.append(alert)
        log.debug("alert raised kind=%s recipient=%s customer=%s lead=%s key=%s", alert.kind, alert.recipient_id, alert.customer_id, alert.lead_id, alert.dedupe_key)
    if raised:
        log.info("%d alerts raised: %s", len(raised), dict(Counter(alert.kind for alert in raised)))
    return raised


def _store(session: Session, draft: AlertDraft, templates: dict, now: datetime) -> Alert | None:
    title, reason = alert_text(templates, draft.template, draft.values)
    alert = Alert(
        recipient_id=draft.recipient_id,
        kind=draft.kind,
        customer_id=draft.customer_id,
        lead_id=draft.lead_id,
        region_id=draft.region_id,
        reason=reason[:500],
        data={"title": title, **draft.data},
        dedupe_key=draft.dedupe_key,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        # Another process raised the same cause between our check and this insert.
        log.info("alert %s was raised concurrently; not raised again", draft.dedupe_key)
        return None
    return alert


def alert_text(templates: dict, template_key: str, values: dict) -> tuple[str, str]:
    """Return the title and reason of an alert from the editable templates (English fallback)."""
    item = templates.get(template_key)
    if item is not None:
        return item["title"], render(item["body"], values)
    title, body = _FALLBACK_TEMPLATES.get(template_key, (template_key, ""))
    return title, render(body, values)


def _queue(session: Session, alert: Alert, channels: list[AlertChannel], now: datetime) -> None:
    """Queue the alert for mobile push and for every enabled robot of its region that takes its kind."""
    session.add(AlertQueueItem(alert_id=alert.id, channel_kind=ChannelKind.PUSH.value, next_attempt_at=now, created_at=now))
    for channel in channels:
        if channel.region_id is not None and channel.region_id != alert.region_id:
            continue
        if channel.alert_kinds and alert.kind not in channel.alert_kinds:
            continue
        session.add(AlertQueueItem(alert_id=alert.id, channel_kind=channel.kind, channel_id=channel.id, next_attempt_at=now, created_at=now))


def regional_leads(session: Session, region_id: uuid.UUID | None) -> list[User]:
    """Return the active regional leads of a region, or the active admins when it has none (or no region)."""
    if region_id is not None:
        leads = session.exec(
            select(User).where(User.role == Role.REGIONAL_LEAD, User.region_id == region_id, User.is_active == True)  # noqa: E712
        ).all()
        if leads:
            return list(leads)
    return list(session.exec(select(User).where(User.role == Role.ADMIN, User.is_active == True)).all())  # noqa: E712


class InvalidTransition(ValueError):
    """An alert state change that the state machine does not allow."""


# Allowed state changes: new -> read -> done, new -> done. Done is final.
_NEXT_STATES = {
    AlertState.NEW.value: {AlertState.READ.value, AlertState.DONE.value},
    AlertState.READ.value: {AlertState.DONE.value},
    AlertState.DONE.value: set(),
}


def change_state(session: Session, recorder: ChangeRecorder, alert: Alert, state: str, user: User) -> bool:
    """Move the alert to `state` and log the change for the recipient's devices; return False if it was already there."""
    if state == alert.state:
        return False
    if state not in _NEXT_STATES.get(alert.state, set()):
        raise InvalidTransition(f"alert {alert.id} is '{alert.state}' and cannot become '{state}'; allowed: new -> read -> done")
    now = datetime.now(timezone.utc)
    changed = {"state"}
    alert.state = state
    if state == AlertState.READ.value:
        alert.read_at = now
        changed.add("read_at")
    if state == AlertState.DONE.value:
        alert.done_at = now
        changed.add("done_at")
        if alert.read_at is None:
            alert.read_at = now
            changed.add("read_at")
    session.add(alert)
    recorder.put("alerts", alert, changed_fields=changed, writer_id=user.id)
    log.info("alert %s marked %s by %s", alert.id, state, user.id)
    return True

