"""Visit photo upload: resumable byte ranges, idempotent replays, image and size checks, access."""

import hashlib
import io
import random
import uuid

import httpx
import pytest
from PIL import Image
from sqlmodel import Session, func, select

from server.models import Photo, User
from tests.conftest import login
from tests.devices import next_rep
from tests.servers import ApiServer
from tests.visits import Pusher, new_customer

# The server's default PHOTO_MAX_BYTES: 10 MiB.
PHOTO_MAX_BYTES = 10 * 1024 * 1024


@pytest.fixture
def rep(api_server: ApiServer) -> User:
    return next_rep(api_server)


@pytest.fixture
def visit_id(api_server: ApiServer, rep: User) -> str:
    pusher = Pusher(api_server, rep.username)
    customer_id = new_customer(pusher)
    visit_id, result = pusher.put("visits", {"customer_id": customer_id, "visit_type": "demo"})
    assert result["status"] == "applied"
    return visit_id


@pytest.fixture
def headers(client: httpx.Client, rep: User) -> dict[str, str]:
    return login(client, rep.username)


def _image(image_format: str = "JPEG", size: int = 160) -> bytes:
    """A noisy image, so the file is tens of kilobytes and cannot be compressed away."""
    rng = random.Random(size)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def _put(client, headers, photo_id, visit_id, data: bytes, start: int | None = None, total: int | None = None) -> httpx.Response:
    extra = {}
    if start is not None:
        extra["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{total}"
    return client.put(f"/api/photos/{photo_id}", params={"visit_id": visit_id}, content=data, headers={**headers, **extra})


def _photo_rows(server: ApiServer, photo_id: str) -> int:
    with Session(server.engine) as session:
        return session.exec(select(func.count()).select_from(Photo).where(Photo.id == uuid.UUID(photo_id))).one()


def test_resumable_upload(api_server, client, headers, visit_id):
    photo = _image()
    half = len(photo) // 2
    photo_id = str(uuid.uuid4())

    first = _put(client, headers, photo_id, visit_id, photo[:half], start=0, total=len(photo))
    progress = client.head(f"/api/photos/{photo_id}", headers=headers)
    rest = _put(client, headers, photo_id, visit_id, photo[half:], start=half, total=len(photo))
    downloaded = client.get(f"/api/photos/{photo_id}", headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["complete"] is False
    assert first.headers["Upload-Offset"] == str(half)
    assert progress.status_code == 200
    assert progress.headers["Upload-Offset"] == str(half)
    assert progress.headers["Upload-Length"] == str(len(photo))
    assert rest.status_code == 200, rest.text
    body = rest.json()
    assert body["complete"] is True
    assert body["size"] == len(photo)
    assert body["content_type"] == "image/jpeg"
    assert body["sha256"] == hashlib.sha256(photo).hexdigest()
    assert downloaded.status_code == 200
    assert downloaded.content == photo
    assert downloaded.headers["content-type"] == "image/jpeg"
    assert _photo_rows(api_server, photo_id) == 1


def test_retried_and_overlapping_chunks(api_server, client, headers, visit_id):
    photo = _image("PNG")
    third = len(photo) // 3
    photo_id = str(uuid.uuid4())

    first = _put(client, headers, photo_id, visit_id, photo[:third], start=0, total=len(photo))
    retried = _put(client, headers, photo_id, visit_id, photo[:third], start=0, total=len(photo))
    overlapping = _put(client, headers, photo_id, visit_id, photo[third // 2:2 * third], start=third // 2, total=len(photo))
    gap = _put(client, headers, photo_id, visit_id, photo[2 * third + 10:], start=2 * third + 10, total=len(photo))
    last = _put(client, headers, photo_id, visit_id, photo[2 * third:], start=2 * third, total=len(photo))

    assert first.headers["Upload-Offset"] == str(third)
    assert retried.status_code == 200
    assert retried.headers["Upload-Offset"] == str(third)
    assert overlapping.headers["Upload-Offset"] == str(2 * third)
    assert gap.status_code == 409
    assert gap.headers["Upload-Offset"] == str(2 * third)
    assert f"resume from byte {2 * third}" in gap.json()["detail"]
    assert last.status_code == 200
    assert last.json()["sha256"] == hashlib.sha256(photo).hexdigest()
    assert last.json()["content_type"] == "image/png"


def test_replayed_complete_upload_is_noop(api_server, client, headers, visit_id):
    photo = _image()
    photo_id = str(uuid.uuid4())

    whole = _put(client, headers, photo_id, visit_id, photo)
    again = _put(client, headers, photo_id, visit_id, photo)
    old_chunk = _put(client, headers, photo_id, visit_id, photo[:100], start=0, total=len(photo))
    different = _put(client, headers, photo_id, visit_id, photo + b"\0")

    assert whole.status_code == 200, whole.text
    assert again.status_code == 200
    assert again.json() == whole.json()
    assert old_chunk.status_code == 200
    assert old_chunk.json()["complete"] is True
    assert different.status_code == 409
    assert "new photo id" in different.json()["detail"]
    assert _photo_rows(api_server, photo_id) == 1
    assert client.get(f"/api/photos/{photo_id}", headers=headers).content == photo


def test_non_image_rejected(api_server, client, headers, visit_id):
    kept_id, junk_id = str(uuid.uuid4()), str(uuid.uuid4())
    kept = _put(client, headers, kept_id, visit_id, _image())
    junk = random.Random(7).randbytes(5000)

    half = _put(client, headers, junk_id, visit_id, junk[:2500], start=0, total=len(junk))
    rejected = _put(client, headers, junk_id, visit_id, junk[2500:], start=2500, total=len(junk))
    progress = client.head(f"/api/photos/{junk_id}", headers=headers)
    retry = _put(client, headers, junk_id, visit_id, _image())

    assert kept.status_code == 200
    assert half.status_code == 200
    assert rejected.status_code == 415
    assert "not a JPEG or PNG image" in rejected.json()["detail"]
    assert progress.status_code == 404  # the rejected bytes were discarded
    assert retry.status_code == 200, retry.text  # the id can be used again
    assert client.get(f"/api/photos/{kept_id}", headers=headers).status_code == 200


def test_oversized_rejected(api_server, client, headers, visit_id):
    photo_id = str(uuid.uuid4())

    announced = _put(client, headers, photo_id, visit_id, b"\xff\xd8" + b"\0" * 1000, start=0, total=PHOTO_MAX_BYTES + 1)
    whole = _put(client, headers, photo_id, visit_id, b"\0" * (PHOTO_MAX_BYTES + 1))
    at_limit_header = _put(client, headers, photo_id, visit_id, b"\0" * 10, start=0, total=PHOTO_MAX_BYTES)

    assert announced.status_code == 413
    assert f"the limit is {PHOTO_MAX_BYTES} bytes" in announced.json()["detail"]
    assert whole.status_code == 413
    assert str(PHOTO_MAX_BYTES) in whole.json()["detail"]
    assert at_limit_header.status_code == 200  # exactly the limit is allowed
    assert _photo_rows(api_server, photo_id) == 0


@pytest.mark.parametrize("content_range, message", [
    ("bytes 10-5/100", "START <= END < TOTAL"),
    ("bytes 0-99/100", "announces 100 bytes but the body has 10"),
    ("items 0-9/10", "invalid Content-Range"),
])
def test_bad_content_range(client, headers, visit_id, content_range, message):
    response = client.put(f"/api/photos/{uuid.uuid4()}", params={"visit_id": visit_id}, content=b"0123456789",
                          headers={**headers, "Content-Range": content_range})

    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_photo_access_scoped(api_server, client, headers, visit_id):
    photo_id = str(uuid.uuid4())
    assert _put(client, headers, photo_id, visit_id, _image()).status_code == 200
    other_rep = next_rep(api_server)
    other = login(client, other_rep.username)

    unknown_visit = _put(client, headers, str(uuid.uuid4()), str(uuid.uuid4()), _image())
    foreign_visit = _put(client, other, str(uuid.uuid4()), visit_id, _image())

    assert unknown_visit.status_code == 404
    assert "push the visit" in unknown_visit.json()["detail"]
    assert foreign_visit.status_code == 404
    assert client.get(f"/api/photos/{photo_id}", headers=other).status_code == 404
    assert client.head(f"/api/photos/{photo_id}", headers=other).status_code == 404
    assert client.get(f"/api/photos/{photo_id}", headers=login(client, "admin")).status_code == 200
