"""A visit recorded on the device and its photos uploaded: real client code against a real server.

Covers the local check-in, checklist answers and check-out syncing once, and the photo
uploader resuming after a lost request, recovering from a lost response without a
duplicate, waiting for its visit to reach the server, and rejecting bad photos alone.
"""

import hashlib
import io
import random
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from PIL import Image
from sqlmodel import Session, func, select

from core.geofence import Fix
from mobile.offline import visits
from mobile.offline.photos import PENDING, REJECTED, UPLOADED, PhotoQueue, PhotoUploader
from server.models import ChecklistAnswer, Photo, Visit
from tests.devices import Device, next_rep
from tests.faults import FaultProxy
from tests.servers import ApiServer, run_coroutine
from tests.visits import Pusher, new_customer, point_at

CHUNK = 16 * 1024


def _jpeg(seed: int = 1, size: int = 200) -> bytes:
    """A noisy JPEG of tens of kilobytes, so it takes several chunks."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def rep(api_server: ApiServer):
    return next_rep(api_server)


@pytest.fixture
def device(api_server, rep, tmp_path) -> Device:
    return Device(api_server, rep, tmp_path)


@pytest.fixture
def customer_id(api_server, rep, device) -> str:
    customer = new_customer(Pusher(api_server, rep.username))
    device.sync()
    return customer


def _check_in(device: Device, customer_id: str, visit_id: str | None = None, minutes_ago: float = 30) -> str:
    """Write a check-in on the device 100 m from the customer, taken `minutes_ago` minutes ago."""
    visit_id = visit_id or visits.new_visit_id()
    tap = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    latitude, longitude = point_at(100)
    template = visits.active_template(device.store, "routine")
    visits.record_checkin(
        device.store, visit_id, customer_id, str(device.user.id), "routine",
        Fix(latitude, longitude, 15.0, tap - timedelta(seconds=5)), tap, template.id,
    )
    return visit_id


def _uploader(device: Device, base_url: str | None = None) -> tuple[PhotoQueue, callable]:
    queue = PhotoQueue(device.store)

    def upload_pending():
        async def run():
            async with httpx.AsyncClient(base_url=base_url or device.base_url, timeout=30) as http:
                return await PhotoUploader(queue, http, device.token, chunk_bytes=CHUNK).upload_pending()

        return run_coroutine(run)

    return queue, upload_pending


def _photo_rows(server: ApiServer, photo_id: str) -> list[Photo]:
    with Session(server.engine) as session:
        return list(session.exec(select(Photo).where(Photo.id == uuid.UUID(photo_id))).all())


def _downloaded(server: ApiServer, device: Device, photo_id: str) -> bytes:
    response = httpx.get(f"{server.base_url}/api/photos/{photo_id}", headers={"Authorization": f"Bearer {device.token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


# ---- The whole visit on the device ----------------------------------------------------------

def test_visit_recorded_offline_syncs_once(api_server, device, customer_id):
    visit_id = visits.new_visit_id()
    _check_in(device, customer_id, visit_id)
    second_tap = _check_in(device, customer_id, visit_id)
    queue, upload_pending = _uploader(device)
    photo = _jpeg()
    photo_id = queue.add(visit_id, "competitor_photo", photo)
    visits.save_answer(device.store, visit_id, customer_id, "samples", True)
    visits.save_answer(device.store, visit_id, customer_id, "competitor_photo", photo_id=photo_id)
    visits.save_answer(device.store, visit_id, customer_id, "next_step", "发送报价")
    assert visits.complete_visit(device.store, visit_id, datetime.now(timezone.utc))
    assert not visits.complete_visit(device.store, visit_id, datetime.now(timezone.utc))

    report = device.sync()
    uploads = upload_pending()

    assert second_tap == visit_id
    assert report.rejected == 0
    with Session(api_server.engine) as session:
        assert session.exec(select(func.count()).select_from(Visit).where(Visit.id == uuid.UUID(visit_id))).one() == 1
        visit = session.get(Visit, uuid.UUID(visit_id))
        answers = session.exec(select(ChecklistAnswer).where(ChecklistAnswer.visit_id == visit.id)).all()
    assert visit.status.value == "completed"
    assert visit.duration_s == pytest.approx(30 * 60, abs=5)
    assert visit.geofence["allowed"] is True
    assert {answer.item_id: answer.value for answer in answers} == {"samples": True, "competitor_photo": None, "next_step": "发送报价"}
    assert uploads.uploaded == 1
    assert queue.get(photo_id).state == UPLOADED
    assert _downloaded(api_server, device, photo_id) == photo
    states = visits.visit_states(device.store, customer_id)
    assert states[visit_id].status == "completed"
    assert states[visit_id].flagged is False
    assert states[visit_id].pending is False


def test_answer_replaced_not_duplicated(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)

    visits.save_answer(device.store, visit_id, customer_id, "next_step", "再次拜访")
    visits.save_answer(device.store, visit_id, customer_id, "next_step", "样品试用")
    report = device.sync()

    assert report.rejected == 0
    assert list(visits.answers_of(device.store, visit_id)) == ["next_step"]
    with Session(api_server.engine) as session:
        answers = session.exec(select(ChecklistAnswer).where(ChecklistAnswer.visit_id == uuid.UUID(visit_id))).all()
    assert [answer.value for answer in answers] == ["样品试用"]


def test_completion_without_required_rejected(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    visits.save_answer(device.store, visit_id, customer_id, "samples", False)
    visits.complete_visit(device.store, visit_id, datetime.now(timezone.utc))

    report = device.sync()

    assert report.rejected == 1
    (rejection,) = device.store.rejections(visit_id)
    assert "competitor_photo" in rejection["reason"]
    with Session(api_server.engine) as session:
        assert session.get(Visit, uuid.UUID(visit_id)).status.value == "open"


# ---- Photo uploads --------------------------------------------------------------------------

def test_upload_resumes_after_lost_request(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    device.sync()
    photo = _jpeg(seed=2, size=300)
    assert len(photo) > 3 * CHUNK
    proxy = FaultProxy("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1])).start()
    try:
        queue, upload_pending = _uploader(device, proxy.url)
        photo_id = queue.add(visit_id, "competitor_photo", photo)
        puts = []

        def drop_second_put(number: int, line: str) -> bool:
            if line.startswith("PUT"):
                puts.append(number)
            return len(puts) == 2 and line.startswith("PUT")

        proxy.drop_request = drop_second_put
        first = upload_pending()
        after_first = queue.get(photo_id)
        proxy.drop_request = lambda number, line: False
        second = upload_pending()
    finally:
        proxy.stop()

    assert first.unreachable is True
    assert after_first.state == PENDING
    assert after_first.sent == CHUNK
    assert second.uploaded == 1
    assert queue.get(photo_id).state == UPLOADED
    assert _downloaded(api_server, device, photo_id) == photo
    (row,) = _photo_rows(api_server, photo_id)
    assert row.sha256 == hashlib.sha256(photo).hexdigest()


def test_upload_lost_response_no_duplicate(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    device.sync()
    photo = _jpeg(seed=3, size=80)
    proxy = FaultProxy("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1])).start()
    try:
        queue, upload_pending = _uploader(device, proxy.url)
        photo_id = queue.add(visit_id, "competitor_photo", photo)
        # The server stores the last chunk but its response never arrives.
        proxy.drop_response = lambda number, line: line.startswith("PUT") and queue.get(photo_id).sent + CHUNK >= len(photo)
        first = upload_pending()
        proxy.drop_response = lambda number, line: False
        second = upload_pending()
    finally:
        proxy.stop()

    assert first.unreachable is True
    assert second.uploaded == 1
    assert len(_photo_rows(api_server, photo_id)) == 1
    assert _downloaded(api_server, device, photo_id) == photo


def test_upload_waits_for_visit(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    queue, upload_pending = _uploader(device)
    photo_id = queue.add(visit_id, "competitor_photo", _jpeg(seed=4, size=60))

    before_sync = upload_pending()
    waiting = queue.get(photo_id)
    device.sync()
    after_sync = upload_pending()

    assert before_sync.waiting == 1
    assert waiting.state == PENDING
    assert "404" in waiting.error
    assert after_sync.uploaded == 1
    assert queue.get(photo_id).state == UPLOADED


def test_not_an_image_rejected_alone(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    device.sync()
    queue, upload_pending = _uploader(device)
    bad_id = queue.add(visit_id, "competitor_photo", b"this is not a picture " * 100)
    good_id = queue.add(visit_id, "competitor_photo", _jpeg(seed=5, size=60))

    report = upload_pending()

    assert report.rejected == 1
    assert report.uploaded == 1
    bad = queue.get(bad_id)
    assert bad.state == REJECTED
    assert "415" in bad.error
    assert "JPEG or PNG" in bad.error
    assert queue.get(good_id).state == UPLOADED
    assert _photo_rows(api_server, bad_id) == []


def test_too_large_photo_rejected(api_server, device, customer_id):
    visit_id = _check_in(device, customer_id)
    device.sync()
    queue, upload_pending = _uploader(device)
    # One byte over the server's default PHOTO_MAX_BYTES of 10 MiB.
    photo_id = queue.add(visit_id, "competitor_photo", b"\xff" * (10 * 1024 * 1024 + 1))

    report = upload_pending()

    assert report.rejected == 1
    rejected = queue.get(photo_id)
    assert rejected.state == REJECTED
    assert "413" in rejected.error
    assert "10485760" in rejected.error


def test_missing_file_rejected(device, customer_id):
    visit_id = _check_in(device, customer_id)
    queue, upload_pending = _uploader(device)
    photo_id = queue.add(visit_id, "competitor_photo", _jpeg(seed=6, size=40))
    queue.get(photo_id).path.unlink()

    report = upload_pending()

    assert report.rejected == 1
    assert "missing" in queue.get(photo_id).error


def test_empty_photo_refused(device, customer_id):
    queue = PhotoQueue(device.store)

    with pytest.raises(ValueError, match="empty"):
        queue.add(str(uuid.uuid4()), "competitor_photo", b"")


def test_rejected_completion_shown_on_visit(device, customer_id):
    visit_id = _check_in(device, customer_id)
    visits.complete_visit(device.store, visit_id, datetime.now(timezone.utc))

    device.sync()

    state = visits.visit_states(device.store, customer_id)[visit_id]
    assert state.status == "open"
    assert "required checklist item" in state.rejection
