"""Alert delivery to WeCom and DingTalk robots, against real HTTP receivers on 127.0.0.1 that the tests start.

The worker runs on a simulated clock (its `now`), so minutes of rate limiting and backoff
pass instantly. The HTTP requests and the DingTalk signature use the real clock.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlmodel import Session, select

from server.alerts.channels import dingtalk_signed_url, pack_digests
from server.alerts.delivery import DeliverySettings, DeliveryWorker, backoff_seconds
from server.alerts.models import AlertChannel, AlertDelivery, AlertQueueItem
from server.alerts.push import PushError, PushMessage
from server.alerts.service import AlertDraft, raise_alerts
from server.cli import migrate
from server.db import build_engine
from server.models import Customer, Region, Role, User
from server.sync.changes import ChangeRecorder
from tests.conftest import IN_CI
from tests.servers import create_postgres_database, drop_postgres_database, postgres_reachable

START = datetime(2026, 12, 10, 2, 0, tzinfo=timezone.utc)


# ---- Receivers -----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    query: dict
    body: dict
    at: float
    headers: dict = field(default_factory=dict)


@dataclass
class Receiver:
    """A robot stand-in on 127.0.0.1. `answer(request_number, received)` returns (HTTP status, JSON body), or None for no response."""

    answer: Callable[[int, Received], tuple[int, dict] | None]
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", 0))
                parts = urllib.parse.urlsplit(self.path)
                received = Received(
                    parts.path, dict(urllib.parse.parse_qsl(parts.query)), json.loads(self.rfile.read(length)), time.time(), dict(self.headers),
                )
                receiver.requests.append(received)
                reply = receiver.answer(len(receiver.requests), received)
                if reply is None:
                    receiver.release.wait(30)
                    return
                status, body = reply
                payload = json.dumps(body).encode()
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
        return f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=test-key"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def alert_count(self) -> int:
        return sum(len(_alert_lines(request)) for request in self.requests)


def ok(number: int, received: Received) -> tuple[int, dict]:
    return 200, {"errcode": 0, "errmsg": "ok"}


def _alert_lines(request: Received) -> list[str]:
    markdown = request.body["markdown"]
    text = markdown.get("content") or markdown.get("text")
    return [line for line in text.splitlines() if line.startswith("- ")]


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(answer=ok) -> Receiver:
        receiver = Receiver(answer).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


# ---- Database ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    """A migrated database with one region, its lead, a rep and a customer."""
    if request.param == "postgres":
        reason = postgres_reachable()
        if reason is not None:
            message = f"PostgreSQL test server not reachable ({reason})"
            pytest.fail(message) if IN_CI else pytest.skip(message)
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'webhooks.sqlite3'}"
    engine = build_engine(url)
    migrate(engine)
    with Session(engine) as session:
        region = Region(code="east", name="east")
        rep = User(username="rep", display_name="王建国", role=Role.REP, password_hash="", region_id=region.id)
        customer = Customer(name="昆山鼎力精密制造有限公司", owner_id=rep.id, region_id=region.id)
        session.add(region)
        session.flush()
        session.add(rep)
        session.flush()
        session.add(customer)
        session.commit()
        ids = {"region": region.id, "rep": rep.id, "customer": customer.id}
    yield engine, ids
    engine.dispose()
    if request.param == "postgres":
        drop_postgres_database(url)


def add_channel(engine, ids, url: str, kind: str = "wecom", secret: str | None = None, max_per_minute: int = 20) -> uuid.UUID:
    with Session(engine) as session:
        channel = AlertChannel(name=f"{kind} robot", kind=kind, region_id=ids["region"], webhook_url=url, secret=secret, max_per_minute=max_per_minute)
        session.add(channel)
        session.commit()
        return channel.id


def raise_many(engine, ids, count: int, at: datetime, prefix: str = "a") -> None:
    with Session(engine) as session:
        drafts = [
            AlertDraft(recipient_id=ids["rep"], kind="reactivation", dedupe_key=f"{prefix}:{number}", template="reactivation",
                       values={"customer_name": f"客户{number}", "score": 42.5}, data={}, customer_id=ids["customer"], region_id=ids["region"])
            for number in range(count)
        ]
        recorder = ChangeRecorder(session)
        raise_alerts(session, recorder, drafts, at)
        recorder.flush()
        session.commit()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def worker(engine, clock: Clock, timeout_s: float = 2.0, **settings) -> DeliveryWorker:
    http = httpx.Client(timeout=timeout_s, trust_env=False)
    return DeliveryWorker(engine, http=http, settings=DeliverySettings(timeout_s=timeout_s, **settings), clock=clock)


def deliveries(engine, channel_id) -> list[AlertDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(AlertDelivery).where(AlertDelivery.channel_id == channel_id).order_by(AlertDelivery.id)).all())


def pending(engine, channel_id) -> list[AlertQueueItem]:
    with Session(engine) as session:
        return list(session.exec(select(AlertQueueItem).where(AlertQueueItem.channel_id == channel_id, AlertQueueItem.state == "pending")).all())


# ---- Pure parts ----------------------------------------------------------------------------------


def test_dingtalk_signature_matches_documented_recipe():
    url = dingtalk_signed_url("https://robot.example.invalid/robot/send?access_token=t", "SECabc", 1733800000000)

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    expected = base64.b64encode(hmac.new(b"SECabc", b"1733800000000\nSECabc", hashlib.sha256).digest()).decode()
    assert query["timestamp"] == "1733800000000"
    assert query["sign"] == expected
    assert "sign=" + urllib.parse.quote_plus(expected) in url


def test_digests_fit_the_size_limit():
    lines = [(number, f"- **客户健康分预警**：客户「客户{number}」健康分 42.5，已进入红色区间。") for number in range(100)]

    digests = pack_digests(lines, "### 外勤通提醒（$count 条）", max_bytes=2000)

    assert sum(len(ids) for ids, _ in digests) == 100
    assert all(len(text.encode()) <= 2000 for _, text in digests)
    assert digests[0][1].startswith(f"### 外勤通提醒（{len(digests[0][0])} 条）")


def test_backoff_doubles_up_to_the_cap():
    settings = DeliverySettings(backoff_base_s=30, backoff_max_s=300)

    assert [backoff_seconds(attempt, settings) for attempt in (1, 2, 3, 4, 5)] == [30, 60, 120, 240, 300]


# ---- Delivery against receivers ------------------------------------------------------------------


def test_burst_becomes_digests_within_rate_limit(database, receivers):
    engine, ids = database
    receiver = receivers()
    channel = add_channel(engine, ids, receiver.url)
    clock = Clock(START)
    delivery = worker(engine, clock)

    # 60 alerts raised over one minute, one a second, while the worker runs every second.
    for second in range(180):
        if second < 60:
            raise_many(engine, ids, 1, clock.now, prefix=f"burst{second}")
        delivery.run_once()
        clock.advance(1)

    attempts = deliveries(engine, channel)
    times = [attempt.attempted_at for attempt in attempts]
    assert receiver.alert_count() == 60
    assert len(attempts) == len(receiver.requests) < 60
    assert all(attempt.status == "sent" for attempt in attempts)
    assert max(sum(1 for t in times if start <= t < start + timedelta(seconds=60)) for start in times) <= 20
    delivered = [alert_id for attempt in attempts for alert_id in attempt.alert_ids]
    assert len(delivered) == len(set(delivered)) == 60
    assert pending(engine, channel) == []


def test_rate_limit_holds_back_excess_digests(database, receivers):
    engine, ids = database
    receiver = receivers()
    channel = add_channel(engine, ids, receiver.url)
    clock = Clock(START)
    # Digests of about 3 alerts each, so 90 alerts need about 30 messages: more than 20 a minute.
    delivery = worker(engine, clock, max_digest_bytes=420)

    raise_many(engine, ids, 90, clock.now)
    per_minute = []
    for _minute in range(3):
        before = len(receiver.requests)
        for _second in range(60):
            delivery.run_once()
            clock.advance(1)
        per_minute.append(len(receiver.requests) - before)

    assert per_minute[0] == 20
    assert sum(per_minute) > 20
    assert max(per_minute) <= 20
    assert receiver.alert_count() == 90
    assert pending(engine, channel) == []


def test_failing_robot_retried_until_success(database, receivers):
    engine, ids = database
    receiver = receivers(lambda number, received: (500, {"errmsg": "busy"}) if number <= 2 else (200, {"errcode": 0, "errmsg": "ok"}))
    channel = add_channel(engine, ids, receiver.url)
    clock = Clock(START)
    delivery = worker(engine, clock, backoff_base_s=30)
    raise_many(engine, ids, 3, clock.now)

    clock.advance(5)
    delivery.run_once()
    clock.advance(29)
    delivery.run_once()  # before the first retry is due: nothing sent
    clock.advance(1)
    delivery.run_once()
    clock.advance(60)
    delivery.run_once()

    attempts = deliveries(engine, channel)
    assert [(a.status, a.http_status, a.attempt) for a in attempts] == [("failed", 500, 1), ("failed", 500, 2), ("sent", 200, 3)]
    assert attempts[0].next_attempt_at == START + timedelta(seconds=5 + 30)
    assert attempts[1].next_attempt_at == START + timedelta(seconds=35 + 60)
    assert attempts[2].next_attempt_at is None
    assert "HTTP 500" in attempts[0].error
    assert len(receiver.requests) == 3
    assert pending(engine, channel) == []


def test_silent_robot_times_out_and_is_retried(database, receivers):
    engine, ids = database
    answers = {"silent": True}
    receiver = receivers(lambda number, received: None if answers["silent"] else (200, {"errcode": 0, "errmsg": "ok"}))
    channel = add_channel(engine, ids, receiver.url)
    clock = Clock(START)
    delivery = worker(engine, clock, timeout_s=0.5, backoff_base_s=30)
    raise_many(engine, ids, 2, clock.now)

    clock.advance(5)
    started = time.monotonic()
    report = delivery.run_once()
    elapsed = time.monotonic() - started
    clock.advance(10)
    delivery.run_once()  # the retry is not due yet
    answers["silent"] = False
    clock.advance(25)
    delivery.run_once()

    attempts = deliveries(engine, channel)
    assert report.failures == 1
    assert elapsed < 5
    assert attempts[0].status == "timeout"
    assert "no response within 0.5 s" in attempts[0].error
    assert attempts[0].next_attempt_at == START + timedelta(seconds=35)
    assert [a.status for a in attempts] == ["timeout", "sent"]
    assert len(receiver.requests) == 2
    assert pending(engine, channel) == []


def test_robot_error_code_is_a_failure(database, receivers):
    engine, ids = database
    receiver = receivers(lambda number, received: (200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    channel = add_channel(engine, ids, receiver.url)
    clock = Clock(START)
    delivery = worker(engine, clock, max_attempts=2, backoff_base_s=10)
    raise_many(engine, ids, 1, clock.now)

    for _ in range(4):
        clock.advance(20)
        delivery.run_once()

    attempts = deliveries(engine, channel)
    assert [a.status for a in attempts] == ["failed", "failed"]
    assert "errcode 45009" in attempts[0].error
    assert attempts[-1].next_attempt_at is None
    with Session(engine) as session:
        items = session.exec(select(AlertQueueItem).where(AlertQueueItem.channel_id == channel)).all()
    assert [item.state for item in items] == ["failed"]


def _verify_dingtalk(secret: str):
    def answer(number: int, received: Received) -> tuple[int, dict]:
        timestamp, sign = received.query.get("timestamp"), received.query.get("sign")
        if timestamp is None or sign is None:
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        fresh = abs(int(timestamp) / 1000 - time.time()) < 3600
        if not (fresh and hmac.compare_digest(sign, expected)) or received.query.get("access_token") != "robot-token":
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if received.body.get("msgtype") != "markdown" or not received.body["markdown"].get("title"):
            return 200, {"errcode": 40035, "errmsg": "missing markdown title"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    return answer


def test_dingtalk_signature_verified_by_receiver(database, receivers):
    engine, ids = database
    receiver = receivers(_verify_dingtalk("SECright-secret"))
    base = receiver.url.split("?")[0] + "?access_token=robot-token"
    good = add_channel(engine, ids, base, kind="dingtalk", secret="SECright-secret")
    clock = Clock(START)
    raise_many(engine, ids, 2, clock.now)
    clock.advance(5)
    worker(engine, clock).run_once()

    with Session(engine) as session:
        session.get(AlertChannel, good).secret = "SECwrong-secret"
        session.commit()
    raise_many(engine, ids, 1, clock.now, prefix="second")
    clock.advance(5)
    worker(engine, clock).run_once()

    attempts = deliveries(engine, good)
    assert [a.status for a in attempts] == ["sent", "failed"]
    assert "errcode 310000" in attempts[1].error
    assert all("sign" in request.query for request in receiver.requests)


def test_wecom_message_shape(database, receivers):
    engine, ids = database
    receiver = receivers()
    add_channel(engine, ids, receiver.url, kind="wecom")
    clock = Clock(START)
    raise_many(engine, ids, 2, clock.now)

    clock.advance(5)
    worker(engine, clock).run_once()

    body = receiver.requests[0].body
    assert body["msgtype"] == "markdown"
    assert "客户0" in body["markdown"]["content"]
    assert "客户1" in body["markdown"]["content"]
    assert receiver.requests[0].query == {"key": "test-key"}


def test_push_provider_failure_retried(database):
    engine, ids = database
    sent: list[PushMessage] = []

    class FlakyProvider:
        name = "flaky"
        calls = 0

        def send(self, message: PushMessage) -> None:
            FlakyProvider.calls += 1
            if FlakyProvider.calls == 1:
                raise PushError("provider unavailable")
            sent.append(message)

    clock = Clock(START)
    raise_many(engine, ids, 1, clock.now)
    delivery = DeliveryWorker(engine, push_provider=FlakyProvider(), settings=DeliverySettings(backoff_base_s=30), clock=clock)

    delivery.run_once()
    clock.advance(30)
    delivery.run_once()

    with Session(engine) as session:
        attempts = session.exec(select(AlertDelivery).where(AlertDelivery.channel_kind == "push").order_by(AlertDelivery.id)).all()
    assert [a.status for a in attempts] == ["failed", "sent"]
    assert attempts[0].error == "provider unavailable"
    assert len(sent) == 1
    assert sent[0].recipient_id == ids["rep"]
    assert sent[0].data["kind"] == "reactivation"
