"""Visit photos on the device and their resumable, idempotent upload.

A photo is saved as a file under the user's data directory (photos/<photo_id>.jpg next
to the local database) and recorded in the local table photo_uploads; the checklist
answer refers to it by photo_id at once, so the answer syncs without waiting for the
bytes. PhotoUploader sends the files after each successful sync:

    HEAD /api/photos/{id}                          Upload-Offset: bytes the server has
    PUT  /api/photos/{id}?visit_id=...             Content-Range: bytes START-END/TOTAL

The photo id is generated on the device, so a retried or repeated upload reaches the same
server record: the server skips bytes it already has and treats a PUT of a complete photo
as a no-op. A lost connection leaves the photo pending, and the next pass resumes from the
server's offset. A photo the server rejects (not an image, too large) is marked rejected
with the server's reason; nothing else is affected.

photo_uploads is not synced: its rows are written with single autocommit statements,
outside the outbox, so upload progress does not wake the sync loop.
"""

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

from mobile.offline.store import LocalStore

log = logging.getLogger(__name__)

PENDING, UPLOADED, REJECTED = "pending", "uploaded", "rejected"
# Bytes per PUT: small enough that a chunk finishes on a slow mobile link (256 KiB at
# 1 Mbit/s is about 2 s), so an interrupted upload loses little.
DEFAULT_CHUNK_BYTES = 256 * 1024
# Responses meaning the server will never accept this photo: bad range, too large, not an image.
_FINAL_REJECTIONS = (400, 413, 415)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS photo_uploads ("
    " photo_id TEXT PRIMARY KEY, visit_id TEXT NOT NULL, item_id TEXT NOT NULL, path TEXT NOT NULL,"
    " size INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL,"
    " error TEXT, created_at TEXT NOT NULL, uploaded_at TEXT)"
)


@dataclass(frozen=True)
class PhotoUpload:
    photo_id: str
    visit_id: str
    item_id: str
    path: Path
    size: int
    # Bytes the server confirmed so far.
    sent: int
    state: str
    # The server's reason for rejecting the photo, or the error of the last failed attempt.
    error: str | None


class PhotoQueue:
    """The photos taken on this device and their upload state, in the user's local database."""

    def __init__(self, store: LocalStore, directory: Path | None = None) -> None:
        self.store = store
        self.directory = directory or store.path.parent / "photos"
        store.query(_SCHEMA)

    def add(self, visit_id: str, item_id: str, data: bytes, extension: str = "jpg") -> str:
        """Save a photo's bytes and queue them for upload; return the new photo id."""
        if not data:
            raise ValueError(f"the photo for item {item_id!r} is empty; take the picture again")
        photo_id = str(uuid.uuid4())
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{photo_id}.{extension}"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.store.query(
            "INSERT INTO photo_uploads (photo_id, visit_id, item_id, path, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (photo_id, visit_id, item_id, str(path), len(data), PENDING, datetime.now(timezone.utc).isoformat()),
        )
        return photo_id

    def get(self, photo_id: str) -> PhotoUpload | None:
        rows = self.store.query("SELECT * FROM photo_uploads WHERE photo_id = ?", (photo_id,))
        return _upload(rows[0]) if rows else None

    def pending(self) -> list[PhotoUpload]:
        return [_upload(row) for row in self.store.query("SELECT * FROM photo_uploads WHERE state = ? ORDER BY created_at", (PENDING,))]

    def record_progress(self, photo_id: str, sent: int, error: str | None = None) -> None:
        self.store.query("UPDATE photo_uploads SET sent = ?, error = ? WHERE photo_id = ?", (sent, error, photo_id))

    def mark_uploaded(self, photo_id: str, size: int) -> None:
        self.store.query(
            "UPDATE photo_uploads SET state = ?, sent = ?, error = NULL, uploaded_at = ? WHERE photo_id = ?",
            (UPLOADED, size, datetime.now(timezone.utc).isoformat(), photo_id),
        )

    def mark_rejected(self, photo_id: str, reason: str) -> None:
        self.store.query("UPDATE photo_uploads SET state = ?, error = ? WHERE photo_id = ?", (REJECTED, reason, photo_id))


def _upload(row) -> PhotoUpload:
    return PhotoUpload(
        photo_id=row["photo_id"], visit_id=row["visit_id"], item_id=row["item_id"], path=Path(row["path"]),
        size=row["size"], sent=row["sent"], state=row["state"], error=row["error"],
    )


class UploadUnreachable(Exception):
    """The server could not be reached; the pass stops and the photos stay pending."""


@dataclass
class UploadReport:
    uploaded: int = 0
    rejected: int = 0
    waiting: int = 0
    unreachable: bool = False


class PhotoUploader:
    """Uploads the queue's pending photos, one pass at a time."""

    def __init__(self, queue: PhotoQueue, http: httpx.AsyncClient, token: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.queue = queue
        self.http = http
        self.token = token
        self.chunk_bytes = chunk_bytes
        self._task: asyncio.Task | None = None
        self._again = False

    def trigger(self) -> None:
        """Start an upload pass on the running event loop, or another one after the pass in flight."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self.upload_pending()
            except Exception:  # noqa: BLE001 - a background pass must not die silently
                log.exception("photo upload pass failed")
            if not self._again:
                return

    async def upload_pending(self) -> UploadReport:
        """Upload every pending photo; stop at the first sign the server is unreachable."""
        report = UploadReport()
        for photo in await asyncio.to_thread(self.queue.pending):
            try:
                state = await self.upload(photo)
            except UploadUnreachable as error:
                log.info("photo upload paused, server unreachable: %s", error)
                report.unreachable = True
                break
            if state == UPLOADED:
                report.uploaded += 1
            elif state == REJECTED:
                report.rejected += 1
            else:
                report.waiting += 1
        return report

    async def upload(self, photo: PhotoUpload) -> str:
        """Send the rest of one photo; return its state afterwards."""
        try:
            data = await asyncio.to_thread(photo.path.read_bytes)
        except FileNotFoundError:
            reason = f"the photo file {photo.path} is missing on this device; take the picture again"
            await asyncio.to_thread(self.queue.mark_rejected, photo.photo_id, reason)
            return REJECTED

        offset = await self._server_offset(photo, len(data))
        if offset >= len(data):
            await asyncio.to_thread(self.queue.mark_uploaded, photo.photo_id, len(data))
            return UPLOADED
        # Each PUT either advances the offset or ends the upload; the bound stops a server that does neither.
        for _ in range(len(data) // self.chunk_bytes + 8):
            if offset >= len(data):
                break
            end = min(offset + self.chunk_bytes, len(data)) - 1
            response = await self._request(
                "PUT", f"/api/photos/{photo.photo_id}", params={"visit_id": photo.visit_id},
                content=data[offset:end + 1], headers={"Content-Range": f"bytes {offset}-{end}/{len(data)}"},
            )
            if response.status_code == 200:
                body = response.json()
                if body.get("complete"):
                    await asyncio.to_thread(self.queue.mark_uploaded, photo.photo_id, len(data))
                    log.info("photo uploaded photo=%s visit=%s bytes=%d", photo.photo_id, photo.visit_id, len(data))
                    return UPLOADED
                offset = int(response.headers.get("Upload-Offset", end + 1))
                await asyncio.to_thread(self.queue.record_progress, photo.photo_id, offset)
            elif response.status_code == 409 and "Upload-Offset" in response.headers:
                offset = int(response.headers["Upload-Offset"])
            elif response.status_code == 409 and offset > 0:
                # The server's upload does not match ours (it restarts at byte 0 on the same id).
                offset = 0
            elif response.status_code in _FINAL_REJECTIONS or response.status_code == 409:
                reason = _detail(response)
                await asyncio.to_thread(self.queue.mark_rejected, photo.photo_id, reason)
                log.warning("photo rejected photo=%s visit=%s status=%d: %s", photo.photo_id, photo.visit_id, response.status_code, reason)
                return REJECTED
            else:
                # 404: the visit has not reached the server yet; 401 or 5xx: try again after the next sync.
                await asyncio.to_thread(self.queue.record_progress, photo.photo_id, offset, _detail(response))
                return PENDING
        # Every byte was sent but the server did not confirm: ask again next pass.
        return PENDING

    async def _server_offset(self, photo: PhotoUpload, size: int) -> int:
        """Return the bytes of this photo the server has; 0 when it has none or an upload of another size."""
        response = await self._request("HEAD", f"/api/photos/{photo.photo_id}")
        if response.status_code != 200 or response.headers.get("Upload-Length") != str(size):
            return 0
        return int(response.headers.get("Upload-Offset", 0))

    async def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            return await self.http.request(method, path, headers=headers, **kwargs)
        except (httpx.TransportError, httpx.TimeoutException) as error:
            raise UploadUnreachable(f"{method} {path}: {error.__class__.__name__}: {error}") from error


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
