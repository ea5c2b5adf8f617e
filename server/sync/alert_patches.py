"""Alert state changes pushed by devices: the recipient marks an alert read or done, also while offline.

Only the alert's recipient may change it, only with a patch, and only its state, read_at and
done_at. The state follows the same machine as PATCH /api/alerts/{id}: new -> read -> done,
new -> done, and done is final. A patch to "read" of an alert already done (another device of
the same user finished it first) is applied without change, because done implies read.
read_at and done_at, when sent, are the device's times of the tap; otherwise the server's
receive time is stored.
"""

import logging
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

from core.wire import ALERT_WRITABLE_FIELDS
from server.alerts.models import Alert, AlertState
from server.alerts.service import InvalidTransition, change_state
from server.checkins.timestamps import DeviceTimestamp
from server.models import User
from server.sync.changes import ChangeRecorder
from server.sync.entities import MutationRejected

log = logging.getLogger(__name__)


class AlertPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["new", "read", "done"]
    read_at: DeviceTimestamp | None = None
    done_at: DeviceTimestamp | None = None


def alert_in_scope(user: User, alert: Alert) -> bool:
    """Return whether `user` may change `alert`: only its recipient may."""
    return alert.recipient_id == user.id


def apply_alert_mutation(session: Session, recorder: ChangeRecorder, user: User, op: str, alert_id: uuid.UUID, fields: dict) -> None:
    """Apply one pushed alert mutation, or raise MutationRejected with the reason."""
    if op == "delete":
        raise MutationRejected(f"alert {alert_id} cannot be deleted; mark it done instead")
    alert = session.get(Alert, alert_id)
    if alert is None or alert.deleted:
        if op == "put":
            raise MutationRejected("alerts are created by the server only; a device may patch state, read_at and done_at of its own alerts")
        raise MutationRejected(f"alert {alert_id} not found; it may have been removed on the server")
    if not alert_in_scope(user, alert):
        raise MutationRejected(f"alert {alert_id} is addressed to another user; only its recipient may change it")

    patch = _validate(alert_id, fields)
    target = patch.state
    if target == AlertState.READ.value and alert.state == AlertState.DONE.value:
        log.info("alert %s already done; a late 'read' from user %s changes nothing", alert_id, user.id)
        return
    try:
        changed = change_state(session, recorder, alert, target, user)
    except InvalidTransition as error:
        raise MutationRejected(str(error)) from None
    if changed:
        _keep_device_times(recorder, user, alert, patch)


def _validate(alert_id: uuid.UUID, fields: dict) -> AlertPatch:
    unknown = sorted(set(fields) - ALERT_WRITABLE_FIELDS)
    if unknown:
        raise MutationRejected(
            f"field(s) {', '.join(unknown)} of alert {alert_id} cannot be changed by a device; only {', '.join(sorted(ALERT_WRITABLE_FIELDS))}"
        )
    if "state" not in fields:
        raise MutationRejected(f"an alert patch must set state to read or done; read_at and done_at only go with it (alert {alert_id})")
    try:
        patch = AlertPatch.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'fields'}: {issue['msg']} (got {issue.get('input')!r})" for issue in error.errors()
        )
        raise MutationRejected(f"invalid alert fields: {problems}") from None
    if patch.done_at is not None and patch.state != AlertState.DONE.value:
        raise MutationRejected(f"done_at of alert {alert_id} may only be sent with state 'done', not '{patch.state}'")
    return patch


def _keep_device_times(recorder: ChangeRecorder, user: User, alert: Alert, patch: AlertPatch) -> None:
    """Replace the server's receive times by the device's tap times sent with the patch."""
    changed = set()
    if patch.read_at is not None and alert.read_at is not None:
        alert.read_at = patch.read_at
        changed.add("read_at")
    if patch.done_at is not None and alert.done_at is not None:
        alert.done_at = patch.done_at
        changed.add("done_at")
    if changed:
        recorder.put("alerts", alert, changed_fields=changed, writer_id=user.id)
