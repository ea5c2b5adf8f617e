"""Mobile push through JPush's REST API, against a JPush stand-in on 127.0.0.1."""

import base64

import httpx
import pytest
from sqlmodel import Session, select

from server.alerts.delivery import DeliverySettings, DeliveryWorker
from server.alerts.models import AlertDelivery
from server.alerts.push import JPushProvider, LoggingPushProvider, provider_from_settings
from server.config import Settings
from tests.test_webhooks import START, Clock, Receiver, database, raise_many, receivers  # noqa: F401 - database and receivers are fixtures

APP_KEY = "7d431e42dfa6a6d693ac2d04"
MASTER_SECRET = "5e987ac6d2e04d95a9d8f0d1"


@pytest.fixture
def jpush(receivers):
    """Start a JPush stand-in that replies with the scripted (status, body) pairs in turn, the last one repeated."""

    def start(*replies: tuple[int, dict]) -> Receiver:
        return receivers(lambda number, _received: replies[min(number, len(replies)) - 1])

    return start


def provider_for(stand_in: Receiver) -> JPushProvider:
    http = httpx.Client(timeout=2.0, trust_env=False)
    api_url = f"http://127.0.0.1:{stand_in.server.server_address[1]}"
    return JPushProvider(APP_KEY, MASTER_SECRET, api_url=api_url, apns_production=False, http=http)


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
    body = request.body
    assert request.path == "/v3/push"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{APP_KEY}:{MASTER_SECRET}".encode()).decode()
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
