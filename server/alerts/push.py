"""Mobile push for alerts: the PushProvider interface, a logging provider for development, and JPush.

FCM does not reach phones in mainland China, so production uses a provider such as JPush
(极光推送). `provider_from_settings` picks JPush when JPUSH_APP_KEY and JPUSH_MASTER_SECRET
are set and the logging provider otherwise.
"""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import httpx

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
        # DEBUG, because the delivery job logs how many it pushed and a full recompute can raise hundreds.
        log.debug("push (logged, not sent) to user %s: %s | data %s", message.recipient_id, message.title, message.data)


class JPushProvider:
    """Sends through JPush's REST API v3 (POST /v3/push, HTTP Basic auth with the app key and master secret).

    The audience is the alias equal to the recipient's user id (32 hex digits), which the
    app must register with the JPush SDK after sign-in. A recipient without a registered
    device (JPush error 1011) is logged and counts as delivered, because retrying cannot
    reach a phone that never registered. Authentication errors, rate limits, server errors
    and time-outs raise PushError, so the delivery worker retries them.
    """

    name = "jpush"
    # JPush error code: no device matches the audience.
    NO_TARGET = 1011
    # Seconds JPush keeps a notification for a phone that is offline.
    TIME_TO_LIVE_S = 86_400

    def __init__(
        self,
        app_key: str,
        master_secret: str,
        api_url: str = "https://api.jpush.cn",
        apns_production: bool = True,
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.app_key = app_key
        self._http = http or httpx.Client(timeout=timeout_s)
        self._auth = httpx.BasicAuth(app_key, master_secret)
        self._url = api_url.rstrip("/") + "/v3/push"
        self.apns_production = apns_production

    @staticmethod
    def alias_of(recipient_id: uuid.UUID) -> str:
        return recipient_id.hex

    def payload(self, message: PushMessage) -> dict:
        extras = {key: value for key, value in message.data.items() if value is not None}
        return {
            "platform": "all",
            "audience": {"alias": [self.alias_of(message.recipient_id)]},
            "notification": {
                "alert": message.body,
                "android": {"alert": message.body, "title": message.title, "extras": extras},
                "ios": {"alert": {"title": message.title, "body": message.body}, "sound": "default", "extras": extras},
            },
            "options": {"time_to_live": self.TIME_TO_LIVE_S, "apns_production": self.apns_production},
        }

    def send(self, message: PushMessage) -> None:
        try:
            response = self._http.post(self._url, json=self.payload(message), auth=self._auth)
        except httpx.HTTPError as error:
            raise PushError(f"JPush request failed: {error!r}") from error
        if response.status_code == 200:
            log.info("pushed to user %s through JPush: msg_id %s", message.recipient_id, _json(response).get("msg_id"))
            return

        error = _json(response).get("error") or {}
        code = error.get("code")
        if code == self.NO_TARGET:
            log.info("no JPush device registered for user %s; notification not sent", message.recipient_id)
            return
        raise PushError(f"JPush returned HTTP {response.status_code}, error {code}: {error.get('message') or response.text[:200]}")

    def close(self) -> None:
        self._http.close()


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def provider_from_settings(settings) -> PushProvider:
    """Return JPush when its app key and master secret are configured, else the logging provider."""
    if settings.jpush_app_key and settings.jpush_master_secret:
        return JPushProvider(
            settings.jpush_app_key, settings.jpush_master_secret,
            api_url=settings.jpush_api_url, apns_production=settings.jpush_apns_production,
        )
    return LoggingPushProvider()
