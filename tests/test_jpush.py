"""Mobile push through JPush's REST API, against a JPush stand-in on 127.0.0.1."""

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlmodel import Session, select

from server.alerts.delivery import DeliverySettings, DeliveryWorker
from server.alerts.models import AlertDelivery
from server.alerts.push import JPushProvider, LoggingPushProvider, provider_from_settings
from server.config import Settings
from tests.test_webhooks import START, Clock, database, raise_many  # noqa: F401 - database is a fixture

APP_KEY = "7d431e42dfa6a6d693ac2d04"
MASTER_SECRET = "5e987ac6d2e04d95a9d8f0d1"


@dataclass
class JPushStandIn:
    """A JPush stand-in that replies to POST /v3/push with the scripted (status, body) pairs in turn and records each request."""

    replies: list[tuple[int, dict]]
    requests: list[dict] = field(default_factory=list)

    def start(self) -> "JPushStandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                stand_in.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
                status, reply = stand_in.replies[min(len(stand_in.requests), len(stand_in.replies)) - 1]
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jpush():
    started = []

    def start(*replies: tuple[int, dict]) -> JPushStandIn:
        stand_in = JPushStandIn(list(replies)).start()
        started.append(stand_in)
        return stand_in

    yield start
    for stand_in in started:
        stand_in.stop()


def provider_for(stand_in: JPushStandIn) -> JPushProvider:
    http = httpx.Client(timeout=2.0, trust_env=False)
    return JPushProvider(APP_KEY, MASTER_SECRET, api_url=stand_in.url, apns_production=False, http=http)


def push_attempts(engine) -> list[AlertDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(AlertDelivery).where(AlertDelivery.channel_kind == "push").order_by(AlertDelivery.id)).all())


def test_jpush_request_shape(database, jpush):
    engine, ids = database
    stand_in = jpush((200, {"sendno": "0", "msg_id": "1828256757"}))
    clock = Clock(START)
    raise_many(engine, ids, 1, clock.now)

    DeliveryWorker(engine, push_provider=provider_for(stand_in), clock=clock).run_once()

    request = stand_in.requests[0]
    body = request["body"]
    assert request["path"] == "/v3/push"
    assert request["authorization"] == "Basic " + base64.b64encode(f"{APP_KEY}:{MASTER_SECRET}".encode()).decode()
    assert body["audience"] == {"alias": [ids["rep"].hex]}
    assert body["platform"] == "all"
    assert body["notification"]["android"]["extras"]["kind"] == "reactivation"
    assert body["notification"]["ios"]["extras"]["customer_id"] == str(ids["customer"])
    assert body["options"]["apns_production"] is False
    assert [attempt.status for attempt in push_attempts(engine)] == ["sent"]


def test_jpush_auth_failure_retried(database, jpush):
    engine, ids = database
    stand_in = jpush((401, {"error": {"code": 1004, "message": "Authen failed"}}), (200, {"sendno": "0", "msg_id": "2"}))
    clock = Clock(START)
    raise_many(engine, ids, 1, clock.now)
    delivery = DeliveryWorker(engine, push_provider=provider_for(stand_in), settings=DeliverySettings(backoff_base_s=30), clock=clock)

    delivery.run_once()
    clock.advance(30)
    delivery.run_once()

    attempts = push_attempts(engine)
    assert [attempt.status for attempt in attempts] == ["failed", "sent"]
    assert "1004" in attempts[0].error
    assert len(stand_in.requests) == 2


def test_jpush_no_device_not_retried(database, jpush):
    engine, ids = database
    stand_in = jpush((400, {"error": {"code": 1011, "message": "cannot find user by this audience"}}))
    clock = Clock(START)
    raise_many(engine, ids, 1, clock.now)
    delivery = DeliveryWorker(engine, push_provider=provider_for(stand_in), settings=DeliverySettings(backoff_base_s=30), clock=clock)

    delivery.run_once()
    clock.advance(3600)
    delivery.run_once()

    assert [attempt.status for attempt in push_attempts(engine)] == ["sent"]
    assert len(stand_in.requests) == 1


def test_provider_chosen_by_settings():
    assert isinstance(provider_from_settings(Settings(jpush_app_key=None)), LoggingPushProvider)

    provider = provider_from_settings(Settings(jpush_app_key=APP_KEY, jpush_master_secret=MASTER_SECRET))
    assert isinstance(provider, JPushProvider)
    provider.close()
