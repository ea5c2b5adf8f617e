"""Mobile push for alerts: the PushProvider interface, a logging provider for development, and a JPush stub.

FCM does not reach phones in mainland China, so production needs a provider such as JPush.
Only `LoggingPushProvider` works today; the delivery worker uses it unless given another.
"""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushMessage:
    recipient_id: uuid.UUID
    title: str
    body: str
    # Small key-value data for the app (alert id, kind, customer id); never personal data.
    data: dict = field(default_factory=dict)


class PushError(Exception):
    """The provider did not accept the message; the worker retries it later."""


class PushProvider(Protocol):
    """Sends one notification to every device of one user. Raises PushError on failure."""

    name: str

    def send(self, message: PushMessage) -> None: ...


class LoggingPushProvider:
    """Development provider: logs each notification instead of sending it."""

    name = "log"

    def send(self, message: PushMessage) -> None:
        log.info("push (logged, not sent) to user %s: %s | data %s", message.recipient_id, message.title, message.data)


class JPushProvider:
    """Interface stub for JPush-style push (app key, master secret, user id as the device alias).

    TODO: not implemented: `send` raises PushError. Implementing it needs JPush credentials,
    the registration of each device's alias by the app, and tests against a local fake.
    """

    name = "jpush"

    def __init__(self, app_key: str, master_secret: str) -> None:
        self.app_key = app_key
        self._master_secret = master_secret

    def send(self, message: PushMessage) -> None:
        raise PushError("JPushProvider is an unimplemented stub; configure LoggingPushProvider or implement send()")
