"""The sync loop's schedule: start, debounced local writes, one sync in flight, backoff after failures."""

import asyncio
import random

import httpx

from mobile.offline.sync import BackoffPolicy, SyncClient, SyncLoop
from tests.devices import Device, next_rep
from tests.faults import FaultProxy
from tests.servers import run_coroutine


def test_backoff_grows_with_jitter():
    policy = BackoffPolicy(base_s=2, max_s=60, rng=random.Random(7))

    delays = [policy.delay(failures) for failures in range(1, 8)]

    for failures, delay in enumerate(delays, start=1):
        ceiling = min(60, 2 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] <= 60
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_periodic_interval_spread():
    policy = BackoffPolicy(rng=random.Random(11))

    waits = [policy.interval(60) for _ in range(200)]

    assert min(waits) >= 48
    assert max(waits) <= 72
    assert max(waits) - min(waits) > 12


def _loop_for(device: Device, http: httpx.AsyncClient, **options) -> SyncLoop:
    return SyncLoop(SyncClient(device.store, http, device.token), **options)


def test_loop_syncs_on_start_and_after_write(api_server, tmp_path):
    device = Device(api_server, next_rep(api_server), tmp_path)
    requests = []

    async def scenario():
        async with httpx.AsyncClient(base_url=api_server.base_url, event_hooks={"request": [_record(requests)]}) as http:
            loop = _loop_for(device, http, interval_s=3600, debounce_s=0.2)
            loop.start()
            await _wait_for(lambda: loop.status.last_success_at is not None)
            pulls_after_start = sum(1 for r in requests if "/pull" in r)

            customer_id = next(iter(device.rows("customers")))
            device.store.patch("customers", customer_id, {"industry": "防抖测试"})
            await _wait_for(lambda: device.store.pending_count() == 0)
            await loop.stop()
            return pulls_after_start

    pulls_after_start = run_coroutine(scenario)

    assert pulls_after_start >= 1
    assert sum(1 for r in requests if "/push" in r) == 1


def test_idle_loop_waits_for_interval(api_server, tmp_path):
    """A sync's own writes (pulled rows, cursor, last sync time) do not schedule another sync."""
    device = Device(api_server, next_rep(api_server), tmp_path)
    requests = []

    async def scenario():
        async with httpx.AsyncClient(base_url=api_server.base_url, event_hooks={"request": [_record(requests)]}) as http:
            loop = _loop_for(device, http, interval_s=3600, debounce_s=0.2)
            loop.start()
            await _wait_for(lambda: loop.status.last_success_at is not None)
            syncs_after_start = len(requests)
            # Ten debounce periods with no local change.
            await asyncio.sleep(2)
            await loop.stop()
            return syncs_after_start

    syncs_after_start = run_coroutine(scenario)

    assert syncs_after_start >= 1
    assert len(requests) == syncs_after_start


def test_one_sync_in_flight(api_server, tmp_path):
    device = Device(api_server, next_rep(api_server), tmp_path)
    device.store.put("customers", {"name": "并发同步测试客户"})
    requests = []

    async def scenario():
        async with httpx.AsyncClient(base_url=api_server.base_url, event_hooks={"request": [_record(requests)]}) as http:
            loop = _loop_for(device, http)
            return await asyncio.gather(loop.sync_now(), loop.sync_now())

    first, second = run_coroutine(scenario)

    assert (first is None) != (second is None)
    assert sum(1 for r in requests if "/push" in r) == 1


def test_failure_backs_off_then_recovers(api_server, tmp_path):
    proxy = FaultProxy("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1])).start()
    proxy.drop_request = lambda number, line: True
    device = Device(api_server, next_rep(api_server), tmp_path, base_url=proxy.url)
    statuses = []

    async def scenario():
        async with httpx.AsyncClient(base_url=proxy.url) as http:
            loop = _loop_for(device, http, interval_s=3600, backoff=BackoffPolicy(base_s=0.1, max_s=0.4))
            loop.on_status = lambda status: statuses.append((status.online, status.last_error))
            loop.start()
            await _wait_for(lambda: proxy.dropped_requests >= 3)
            offline_seen = loop.status.online is False
            proxy.drop_request = lambda number, line: False
            loop.trigger()  # what a reconnect event does
            await _wait_for(lambda: loop.status.last_success_at is not None and loop.status.online)
            await loop.stop()
            return offline_seen

    try:
        offline_seen = run_coroutine(scenario)
    finally:
        proxy.stop()

    assert offline_seen
    assert any(online is False and error for online, error in statuses)
    assert device.rows("customers")


def _record(requests: list):
    async def hook(request: httpx.Request) -> None:
        requests.append(request.url.path)

    return hook


async def _wait_for(condition, timeout_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)
