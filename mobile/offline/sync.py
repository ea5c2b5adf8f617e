"""The sync client: push the outbox, then pull pages of changes into the local store.

`SyncClient.sync_once()` does one complete exchange. `SyncLoop` runs it on start, on a
timer, on reconnect and after local writes (debounced), one at a time, with
exponential backoff and jitter after failures.
"""

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from core.wire import DEFAULT_PULL_LIMIT, PUSH_BATCH_SIZE, RESYNC_REQUIRED
from mobile.offline.store import LocalStore

log = logging.getLogger(__name__)


class SyncError(Exception):
    """A sync attempt failed; the outbox and cursor are unchanged past the last committed step."""


class SyncUnauthorized(SyncError):
    """The server rejected the token: the user must sign in again."""


class SyncUnreachable(SyncError):
    """The server could not be reached or did not respond in time."""


@dataclass
class SyncReport:
    pushed: int = 0
    rejected: int = 0
    pulled: int = 0
    pages: int = 0
    resynced: bool = False


@dataclass
class DownloadProgress:
    received: int
    total: int | None


class SyncClient:
    """Exchanges the local store's changes with the server over HTTP."""

    def __init__(
        self,
        store: LocalStore,
        http: httpx.AsyncClient,
        token: str,
        pull_limit: int = DEFAULT_PULL_LIMIT,
        on_progress: Callable[[DownloadProgress], None] | None = None,
    ) -> None:
        self.store = store
        self.http = http
        self.token = token
        self.pull_limit = pull_limit
        self.on_progress = on_progress
        # Test hook: runs inside the transaction that applies a pulled page, before it commits.
        self.before_page_commit: Callable[[], None] | None = None
        # Changes to download in the current first download, as the server counted them.
        self._download_total: int | None = None

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        kwargs.setdefault("headers", self._headers)
        try:
            response = await self.http.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.TimeoutException) as error:
            raise SyncUnreachable(f"{method} {path} failed: {error.__class__.__name__}: {error}") from error
        if response.status_code == 401:
            raise SyncUnauthorized(response.json().get("detail", "unauthorized"))
        return response

    async def sync_once(self) -> SyncReport:
        report = SyncReport()
        await self.push(report)
        await self.pull(report)
        self.store.set_meta("last_sync_at", time.time())
        return report

    async def push(self, report: SyncReport) -> None:
        client_id = self.store.client_id
        while True:
            batch = self.store.unsent_mutations(PUSH_BATCH_SIZE)
            if not batch:
                return
            # The Date header carries the device clock, so the server can tell a wrong clock from a late push.
            response = await self._request(
                "POST", "/api/sync/push", json={"client_id": client_id, "mutations": batch},
                headers={**self._headers, "Date": email.utils.formatdate(usegmt=True)},
            )
            if response.status_code != 200:
                raise SyncError(f"push failed with HTTP {response.status_code}: {response.text[:300]}")
            body = response.json()
            self.store.record_push_ack(body["last_mutation_id"])
            report.pushed += sum(1 for result in body["results"] if result["status"] == "applied")
            report.rejected += sum(1 for result in body["results"] if result["status"] == "rejected")
            if body["gap"]:
                # The next batch starts right after the server's last id; that entry must still be queued.
                expected = body["last_mutation_id"] + 1
                following = self.store.unsent_mutations(1)
                if following and following[0]["id"] != expected:
                    raise SyncError(
                        f"server expects mutation {expected} but the outbox continues at {following[0]['id']}; "
                        "the server has lost mutations it had confirmed"
                    )

    async def pull(self, report: SyncReport) -> None:
        client_id = self.store.client_id
        first_download = self.store.cursor == 0
        received = 0
        while True:
            params = {"client_id": client_id, "cursor": self.store.cursor, "limit": self.pull_limit}
            if first_download and received == 0:
                params["with_remaining"] = "true"
            response = await self._request("GET", "/api/sync/pull", params=params)
            if response.status_code == 410 and response.json().get("code") == RESYNC_REQUIRED:
                log.warning("sync: cursor %d is too old, downloading everything again", self.store.cursor)
                await asyncio.to_thread(self.store.reset_for_resync)
                report.resynced = True
                first_download = True
                continue
            if response.status_code != 200:
                raise SyncError(f"pull failed with HTTP {response.status_code}: {response.text[:300]}")

            page = response.json()
            await asyncio.to_thread(
                self.store.apply_pull_page, page["changes"], page["cursor"], page["last_mutation_id"], self.before_page_commit
            )
            received += len(page["changes"])
            report.pulled += len(page["changes"])
            report.pages += 1
            if page.get("remaining") is not None:
                self._download_total = page["remaining"]
            if first_download and self.on_progress is not None:
                self.on_progress(DownloadProgress(received=received, total=self._download_total))
            if not page["has_more"]:
                break
        if self.store.get_meta("needs_rebase") == "1":
            await asyncio.to_thread(self.store.rebase_all)


@dataclass
class SyncStatus:
    """State of sync as the status bar shows it."""

    pending: int = 0
    last_success_at: float | None = None
    online: bool = True
    syncing: bool = False
    last_error: str | None = None
    rejected: int = 0
    download: DownloadProgress | None = None


@dataclass
class BackoffPolicy:
    """Waits between syncs in seconds: exponential backoff with jitter after failures, and a spread periodic interval."""

    base_s: float = 2.0
    max_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random)

    # Spread of the wait between successful syncs: 0.2 waits 80% to 120% of the interval.
    interval_spread: float = 0.2

    def delay(self, failures: int) -> float:
        ceiling = min(self.max_s, self.base_s * (2 ** max(0, failures - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)

    def interval(self, interval_s: float) -> float:
        """Return the wait before the next periodic sync.

        The random spread keeps devices that started together (a shift start, a server
        restart) from syncing in step and arriving at the server all at once.
        """
        return interval_s * self.rng.uniform(1 - self.interval_spread, 1 + self.interval_spread)


class SyncLoop:
    """Runs `sync_once` on start, on a timer, on reconnect and after local writes; one sync at a time."""

    def __init__(
        self,
        client: SyncClient,
        interval_s: float = 60.0,
        debounce_s: float = 2.0,
        backoff: BackoffPolicy | None = None,
        on_status: Callable[[SyncStatus], None] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        on_synced: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self.client = client
        self.interval_s = interval_s
        self.debounce_s = debounce_s
        self.backoff = backoff or BackoffPolicy()
        self.on_status = on_status
        self.on_unauthorized = on_unauthorized
        self.on_synced = on_synced
        self.status = SyncStatus()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._failures = 0
        self._task: asyncio.Task | None = None
        self._debounce_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        client.on_progress = self._on_progress

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.store.add_outbox_listener(self._on_local_write)
        self._refresh_counts()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        self.client.store.remove_outbox_listener(self._on_local_write)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def trigger(self) -> None:
        """Ask for a sync as soon as possible (reconnect, pull-to-refresh)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_local_write(self) -> None:
        if self._loop is None or self._stopped:
            return
        self._loop.call_soon_threadsafe(self._schedule_debounced)

    def _schedule_debounced(self) -> None:
        self._refresh_counts()
        if self._debounce_handle is not None:
            self._debounce_handle.cancel()
        self._debounce_handle = self._loop.call_later(self.debounce_s, self._wake.set)

    def _on_progress(self, progress: DownloadProgress) -> None:
        self.status.download = progress
        self._publish()

    def _refresh_counts(self) -> None:
        self.status.pending = self.client.store.pending_count()
        self.status.rejected = len(self.client.store.rejections())
        last = self.client.store.get_meta("last_sync_at")
        self.status.last_success_at = float(last) if last else None
        self._publish()

    def _publish(self) -> None:
        if self.on_status is not None:
            self.on_status(self.status)

    async def sync_now(self) -> SyncReport | None:
        """Run one sync unless one is already in flight; a write during it is sent by the next one."""
        if self._lock.locked():
            self._wake.set()
            return None
        async with self._lock:
            self.status.syncing = True
            self._publish()
            try:
                report = await self.client.sync_once()
            except SyncUnauthorized:
                self.status.last_error = "unauthorized"
                if self.on_unauthorized is not None:
                    self.on_unauthorized()
                raise
            except SyncError as error:
                self._failures += 1
                self.status.online = not isinstance(error, SyncUnreachable)
                self.status.last_error = str(error)
                log.warning("sync failed (%d in a row): %s", self._failures, error)
                raise
            else:
                self._failures = 0
                self.status.online = True
                self.status.last_error = None
                self.status.download = None
                if self.on_synced is not None:
                    self.on_synced(report)
                return report
            finally:
                self.status.syncing = False
                self._refresh_counts()

    async def _run(self) -> None:
        while not self._stopped:
            try:
                await self.sync_now()
                wait_s = self.backoff.interval(self.interval_s)
            except SyncUnauthorized:
                return
            except SyncError:
                wait_s = self.backoff.delay(self._failures)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait_s)
            except asyncio.TimeoutError:
                pass
