"""Visit photos: resumable, idempotent upload by client-generated id, upload progress, download.

    PUT  /api/photos/{photo_id}?visit_id=UUID
         Content-Range: bytes START-END/TOTAL   (END inclusive; omit to send the whole photo)
         body: the bytes START..END of the photo
    HEAD /api/photos/{photo_id}
    GET  /api/photos/{photo_id}

Every PUT and HEAD response carries `Upload-Offset` (bytes received so far) and
`Upload-Length` (the photo's total size), the header names of the tus resumable-upload
protocol. To resume after a lost connection, HEAD and send the rest from Upload-Offset.
A chunk that overlaps bytes already received is accepted (the overlap is skipped); one
that starts beyond them gets 409 with the offset to resume from. When the last byte
arrives the server checks the photo is a JPEG or PNG no larger than PHOTO_MAX_BYTES and
records it; PUT of a photo already complete is a no-op returning 200. A rejected photo
(413 too large, 415 not an image) is discarded, and nothing else is affected.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from server.checkins.photos import PhotoStore, UploadRejected
from server.config import get_settings
from server.db import get_engine, writing_session
from server.deps import CurrentUser, SessionDep
from server.models import Customer, Photo, User, Visit
from server.sync.entities import customer_in_scope

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/photos", tags=["photos"])

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive
    total: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def _store() -> PhotoStore:
    return PhotoStore(get_settings().effective_photo_dir)


def _parse_content_range(header: str | None, max_bytes: int) -> ByteRange | None:
    """Return the declared range, or None for a whole-photo PUT without Content-Range."""
    if header is None:
        return None
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        raise UploadRejected(400, f"invalid Content-Range {header!r}; send 'bytes START-END/TOTAL', e.g. 'bytes 0-65535/200000'")
    start, end, total = (int(group) for group in match.groups())
    if total > max_bytes:
        raise UploadRejected(413, f"the photo is {total} bytes; the limit is {max_bytes} bytes (PHOTO_MAX_BYTES)")
    if not start <= end < total:
        raise UploadRejected(400, f"invalid Content-Range {header!r}: START <= END < TOTAL must hold (END is inclusive)")
    return ByteRange(start, end, total)


async def _read_body(request: Request, limit: int, too_large: str) -> bytes:
    """Read the request body, rejecting it with the message `too_large` as soon as it exceeds `limit` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadRejected(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _progress_headers(received: int, total: int) -> dict[str, str]:
    return {"Upload-Offset": str(received), "Upload-Length": str(total)}


def _rejected(error: UploadRejected) -> JSONResponse:
    headers = {"Upload-Offset": str(error.offset)} if error.offset is not None else None
    return JSONResponse(status_code=error.status_code, content={"detail": error.message}, headers=headers)


@router.put("/{photo_id}", responses={
    409: {"description": "The chunk starts beyond the bytes received; resume from Upload-Offset."},
    413: {"description": "The photo is larger than PHOTO_MAX_BYTES."},
    415: {"description": "The photo is not a JPEG or PNG image."},
})
async def upload_photo(
    photo_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    visit_id: Annotated[uuid.UUID, Query(description="The visit the photo belongs to.")],
) -> Response:
    """Receive the whole photo or one byte range of it."""
    max_bytes = get_settings().photo_max_bytes
    try:
        declared = _parse_content_range(request.headers.get("content-range"), max_bytes)
        if declared is None:
            body = await _read_body(request, max_bytes, f"the photo is larger than the limit of {max_bytes} bytes (PHOTO_MAX_BYTES)")
            if not body:
                raise UploadRejected(400, "the request body is empty; send the photo's bytes")
            declared = ByteRange(0, len(body) - 1, len(body))
        else:
            body = await _read_body(request, declared.length, f"the body is larger than the {declared.length} bytes Content-Range announces")
            if len(body) != declared.length:
                raise UploadRejected(400, f"Content-Range announces {declared.length} bytes but the body has {len(body)}")
        return await run_in_threadpool(_receive_chunk, photo_id, visit_id, user, declared, body, max_bytes)
    except UploadRejected as error:
        log.info("photo upload rejected photo=%s visit=%s user=%s status=%d: %s", photo_id, visit_id, user.id, error.status_code, error.message)
        return _rejected(error)


def _receive_chunk(photo_id: uuid.UUID, visit_id: uuid.UUID, user: User, declared: ByteRange, body: bytes, max_bytes: int) -> Response:
    store = _store()
    # Lock before reading the database, so a request that waited for another one to
    # complete the same photo reads that photo's row.
    with store.locked(photo_id), Session(get_engine()) as session:
        done = session.get(Photo, photo_id)
        if done is not None:
            return _already_complete(done, visit_id, declared)
        _require_visit(session, user, visit_id)

        upload = store.incoming_upload(photo_id)
        if upload is not None and upload.uploaded_by != str(user.id):
            raise UploadRejected(409, f"photo {photo_id} is being uploaded by another user; generate a new photo id")
        restart = upload is not None and declared.start == 0 and (upload.total != declared.total or upload.visit_id != str(visit_id))
        if upload is None or restart:
            upload = store.start(photo_id, declared.total, user.id, visit_id)
        elif upload.total != declared.total or upload.visit_id != str(visit_id):
            raise UploadRejected(
                409,
                f"photo {photo_id} is being uploaded with {upload.total} bytes for visit {upload.visit_id}; "
                "continue with the same total and visit, or start again from byte 0",
                offset=upload.received,
            )
        received = store.append(photo_id, upload, declared.start, body)
        if received < upload.total:
            return JSONResponse(
                {"id": str(photo_id), "visit_id": str(visit_id), "received": received, "total": upload.total, "complete": False},
                headers=_progress_headers(received, upload.total),
            )
        return _complete(store, photo_id, visit_id, user, max_bytes)


def _already_complete(photo: Photo, visit_id: uuid.UUID, declared: ByteRange) -> Response:
    if photo.size != declared.total or photo.visit_id != visit_id:
        raise UploadRejected(
            409,
            f"photo {photo.id} is already stored with {photo.size} bytes for visit {photo.visit_id}; "
            "a different photo needs a new photo id",
        )
    return JSONResponse(_photo_body(photo), headers=_progress_headers(photo.size, photo.size))


def _complete(store: PhotoStore, photo_id: uuid.UUID, visit_id: uuid.UUID, user: User, max_bytes: int) -> Response:
    verified = store.verify_and_store(photo_id, max_bytes)
    photo = Photo(
        id=photo_id, visit_id=visit_id, uploaded_by=user.id, size=verified.size,
        content_type=verified.content_type, sha256=verified.sha256,
    )
    # A transaction of its own that takes the write lock at once (SQLite), after the slow file work.
    with writing_session() as session:
        session.add(photo)
        try:
            session.commit()
        except IntegrityError:
            # The visit row is gone (visits are normally tombstoned, never removed); the file stays for an administrator.
            session.rollback()
            log.error("photo %s stored at %s but not recorded: visit %s no longer exists", photo_id, verified.path, visit_id)
            raise UploadRejected(409, f"photo {photo_id} could not be recorded: visit {visit_id} no longer exists") from None
        session.refresh(photo)
    log.info("photo stored photo=%s visit=%s user=%s bytes=%d type=%s", photo_id, visit_id, user.id, photo.size, photo.content_type)
    return JSONResponse(_photo_body(photo), headers=_progress_headers(photo.size, photo.size))


def _photo_body(photo: Photo) -> dict:
    return {
        "id": str(photo.id), "visit_id": str(photo.visit_id), "received": photo.size, "total": photo.size, "complete": True,
        "size": photo.size, "content_type": photo.content_type, "sha256": photo.sha256,
    }


def _require_visit(session: Session, user: User, visit_id: uuid.UUID) -> Visit:
    visit = session.get(Visit, visit_id)
    customer = session.get(Customer, visit.customer_id) if visit is not None and not visit.deleted else None
    if customer is None or not customer_in_scope(user, customer):
        raise UploadRejected(404, f"visit {visit_id} not found; push the visit with sync before uploading its photos")
    return visit


def _may_see(session: Session, user: User, visit_id: uuid.UUID, uploaded_by: str) -> bool:
    if uploaded_by == str(user.id):
        return True
    visit = session.get(Visit, visit_id)
    return visit is not None and customer_in_scope(user, session.get(Customer, visit.customer_id))


@router.head("/{photo_id}", responses={404: {"description": "No byte of this photo was received."}})
def upload_progress(photo_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Return how many bytes of the photo were received, in Upload-Offset, and its size, in Upload-Length."""
    photo = session.get(Photo, photo_id)
    if photo is not None and _may_see(session, user, photo.visit_id, str(photo.uploaded_by)):
        return Response(headers=_progress_headers(photo.size, photo.size))
    upload = _store().incoming_upload(photo_id)
    if photo is None and upload is not None and _may_see(session, user, uuid.UUID(upload.visit_id), upload.uploaded_by):
        return Response(headers=_progress_headers(upload.received, upload.total))
    return Response(status_code=status.HTTP_404_NOT_FOUND)


@router.get("/{photo_id}", response_class=FileResponse)
def download_photo(photo_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> FileResponse:
    """Return a stored photo to its uploader and to users who may see its visit."""
    photo = session.get(Photo, photo_id)
    if photo is None or not _may_see(session, user, photo.visit_id, str(photo.uploaded_by)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Photo {photo_id} not found.")
    path = _store().final_path(photo.id, photo.content_type)
    if not path.exists():
        log.error("photo file missing photo=%s path=%s", photo.id, path)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Photo {photo_id} is recorded but its file is missing; ask an administrator.")
    return FileResponse(path, media_type=photo.content_type)
