"""Visit photo files: resumable uploads in byte ranges, verified as JPEG or PNG once complete.

Layout under the PHOTO_DIR setting:

    incoming/<id>.part    the bytes received so far, in order
    incoming/<id>.json    the upload's total size, uploader and visit
    incoming/locks/<2 hex digits>.lock    locked (flock) while a request changes an upload
                                          whose id starts with those digits
    <2 hex digits>/<id>.jpg or .png    completed photos

A chunk must start at or before the bytes received so far: bytes already received are
skipped, so a retried chunk does no harm. A chunk starting beyond them is rejected with
the offset to resume from.

NOTE: flock serialises requests on one host only. Several API hosts need PHOTO_DIR on
storage where flock works across hosts, or an object store in place of this class.
"""

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Pillow format name to content type and file extension.
ACCEPTED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
# Largest image decoded for verification: a full-resolution 64-megapixel phone photo.
# A small compressed file can hold a huge image (about 3 bytes of memory per pixel when
# decoded), so the size limit in bytes alone does not bound the server's memory.
MAX_PHOTO_PIXELS = 64_000_000


class UploadRejected(Exception):
    """An upload request that cannot be applied; `status_code` is the HTTP status of the response."""

    def __init__(self, status_code: int, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.offset = offset


@dataclass
class IncomingUpload:
    total: int
    uploaded_by: str
    visit_id: str
    received: int = 0


@dataclass(frozen=True)
class VerifiedPhoto:
    path: Path
    size: int
    sha256: str
    content_type: str


class PhotoStore:
    """The photo directory. Methods that change an upload must run inside `locked(photo_id)`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"

    def _part(self, photo_id: uuid.UUID) -> Path:
        return self.incoming / f"{photo_id}.part"

    def _meta(self, photo_id: uuid.UUID) -> Path:
        return self.incoming / f"{photo_id}.json"

    def final_path(self, photo_id: uuid.UUID, content_type: str) -> Path:
        extension = next(ext for kind, ext in ACCEPTED_FORMATS.values() if kind == content_type)
        return self.root / photo_id.hex[:2] / f"{photo_id}.{extension}"

    @contextmanager
    def locked(self, photo_id: uuid.UUID) -> Iterator[None]:
        """Hold an exclusive lock on one upload, across processes on this host.

        The 256 lock files are shared by id prefix, so they never need deleting.
        """
        locks = self.incoming / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{photo_id.hex[:2]}.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def incoming_upload(self, photo_id: uuid.UUID) -> IncomingUpload | None:
        """Return the unfinished upload of `photo_id`, or None if none was started."""
        try:
            data = json.loads(self._meta(photo_id).read_text())
        except FileNotFoundError:
            return None
        part = self._part(photo_id)
        data["received"] = part.stat().st_size if part.exists() else 0
        return IncomingUpload(**data)

    def start(self, photo_id: uuid.UUID, total: int, uploaded_by: uuid.UUID, visit_id: uuid.UUID) -> IncomingUpload:
        """Begin (or begin again) the upload of `photo_id` with no bytes received."""
        self.discard(photo_id)
        upload = IncomingUpload(total=total, uploaded_by=str(uploaded_by), visit_id=str(visit_id))
        fields = {key: value for key, value in asdict(upload).items() if key != "received"}
        temporary = self._meta(photo_id).with_suffix(".json.tmp")
        temporary.write_text(json.dumps(fields))
        os.replace(temporary, self._meta(photo_id))
        self._part(photo_id).touch()
        return upload

    def append(self, photo_id: uuid.UUID, upload: IncomingUpload, start: int, chunk: bytes) -> int:
        """Write the part of `chunk` (which begins at byte `start`) not received yet; return the bytes received now."""
        if start > upload.received:
            raise UploadRejected(
                409,
                f"the chunk starts at byte {start} but only {upload.received} bytes were received; "
                f"resume from byte {upload.received} (HEAD returns the offset in Upload-Offset)",
                offset=upload.received,
            )
        new_bytes = chunk[upload.received - start:]
        if new_bytes:
            with open(self._part(photo_id), "ab") as part:
                part.write(new_bytes)
        upload.received += len(new_bytes)
        return upload.received

    def verify_and_store(self, photo_id: uuid.UUID, max_bytes: int) -> VerifiedPhoto:
        """Check the complete upload is a JPEG or PNG within `max_bytes` and move it into place.

        A rejected upload is discarded, so the client can send the photo again from byte 0.
        """
        part = self._part(photo_id)
        size = part.stat().st_size
        if size > max_bytes:
            self.discard(photo_id)
            raise UploadRejected(413, f"the photo is {size} bytes; the limit is {max_bytes} bytes (PHOTO_MAX_BYTES)")
        if _too_many_pixels(part):
            self.discard(photo_id)
            raise UploadRejected(413, f"the photo has more than {MAX_PHOTO_PIXELS} pixels; send a smaller photo")
        content_type = _image_content_type(part)
        if content_type is None:
            self.discard(photo_id)
            raise UploadRejected(415, "the upload is not a JPEG or PNG image (Pillow could not read it as one); send a JPEG or PNG photo")

        digest = hashlib.sha256()
        with open(part, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
        target = self.final_path(photo_id, content_type)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        self._meta(photo_id).unlink(missing_ok=True)
        return VerifiedPhoto(path=target, size=size, sha256=digest.hexdigest(), content_type=content_type)

    def discard(self, photo_id: uuid.UUID) -> None:
        self._part(photo_id).unlink(missing_ok=True)
        self._meta(photo_id).unlink(missing_ok=True)


def _too_many_pixels(path: Path) -> bool:
    """Tell from the image header, without decoding, whether the image exceeds MAX_PHOTO_PIXELS."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        return True  # Pillow refuses to open images above twice its own pixel limit
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False  # not an image: reported by the format check
    return width * height > MAX_PHOTO_PIXELS


def _image_content_type(path: Path) -> str | None:
    """Return image/jpeg or image/png if Pillow decodes the whole file as such an image, else None."""
    try:
        with Image.open(path) as image:
            image_format = image.format
            image.verify()
        # verify() checks little of a JPEG; decoding the pixels also catches a truncated file.
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    accepted = ACCEPTED_FORMATS.get(image_format or "")
    return accepted[0] if accepted else None
