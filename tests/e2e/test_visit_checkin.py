"""A rep's whole visit in the real web client: geofenced check-in with browser geolocation, the checklist with a
photo from a fake camera, completion while the API is unreachable, and the lead's list of flagged check-ins.

Chromium gets its position from the browser context (context.set_geolocation moves the
device) and its camera from a generated .y4m video. The web client's API traffic passes a
fault-injecting proxy, so "offline" cuts that link. The visit is checked on the server over
HTTP, as the rep: a sync pull of the rep's rows, and the photo download.
"""

import io
import re
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import prcoords
import pytest
from geopy.distance import geodesic
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlmodel import Session, select

from server.models import CheckinFlag, Customer, User
from server.seed.demo import DEMO_PASSWORD
from tests.e2e.browser import LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, ZH, fill_text_field, open_client, save_screenshot
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_VIEWPORT, OfflineBrowser
from tests.devices import sign_in as api_token
from tests.servers import ApiServer
from tests.visits import Pusher, checkin_fields, tap_moment

pytestmark = pytest.mark.e2e

# A rep of the east region (lead_east), not used by the other browser tests.
REP_USERNAME = "rep05"
LEAD_USERNAME = "lead_east"
TABLET_VIEWPORT = {"width": 1280, "height": 800}
FIX_ACCURACY_M = 20
FAR_M, NEAR_M = 600, 100
# Taps from opening the customer to submitting the visit.
MAX_TAPS = 8
# The check-in screen reads a new fix every [geofence] refresh_interval_s (15 s in flet.toml).
REFRESH_TIMEOUT_MS = 45_000
# Failed syncs back off 2 s, 4 s, 8 s ...; the network is cut for seconds only.
RESYNC_TIMEOUT_S = 90


class TapCounter:
    """Clicks on behalf of the rep and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def tap(self, target: Locator) -> None:
        target.click()
        self.count += 1


def write_y4m(path: Path, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """Write a short YUV4MPEG2 video (C420jpeg) of a store shelf for Chromium's fake camera."""
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in range(frames):
            scene = Image.new("RGB", (width, height), (236, 230, 218))
            draw = ImageDraw.Draw(scene)
            for shelf in range(3):
                top = 60 + shelf * 140
                draw.rectangle([20, top + 100, width - 20, top + 112], fill=(120, 84, 48))
                for slot in range(8):
                    left = 30 + slot * 75 + frame
                    colour = ((slot * 53 + shelf * 90) % 256, (slot * 97) % 256, (200 - slot * 20) % 256)
                    draw.rectangle([left, top + 20, left + 55, top + 98], fill=colour)
            ycbcr = np.asarray(scene.convert("YCbCr"))
            video.write(b"FRAME\n")
            video.write(np.ascontiguousarray(ycbcr[:, :, 0]).tobytes())
            for channel in (1, 2):
                plane = Image.fromarray(np.ascontiguousarray(ycbcr[:, :, channel])).resize((width // 2, height // 2), Image.BOX)
                video.write(np.asarray(plane).tobytes())
    return path


@pytest.fixture
def camera_browser(chromium: Browser, tmp_path) -> Browser:
    """A second Chromium whose fake camera shows the generated shelf video, with media prompts accepted."""
    video = write_y4m(tmp_path / "shelf.y4m")
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"],
    )
    yield browser
    browser.close()


def offline_context(browser: Browser, **options) -> OfflineBrowser:
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", service_workers="block", **options)
    offline = OfflineBrowser(context)
    context.route("**/*", offline.abort_foreign)
    return offline


def sign_in(page: Page, url: str, username: str) -> None:
    open_client(page, url)
    expect(page.get_by_role("textbox", name=ZH.t("login.login_label"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    fill_text_field(page, ZH.t("login.login_label"), username)
    fill_text_field(page, ZH.t("login.password_label"), DEMO_PASSWORD)
    page.get_by_role("button", name=ZH.t("login.submit"), exact=True).click()


def wait_for_local_row(data_dir: Path, user_id: uuid.UUID, entity: str, row_id: str, timeout_s: float = 60) -> None:
    """Wait until the web client's local store of `user_id` contains the row (the first sync applied it)."""
    path = data_dir / "users" / str(user_id) / "local.sqlite3"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
                    if connection.execute(f"SELECT 1 FROM {entity} WHERE id = ?", (row_id,)).fetchone():
                        return
            except sqlite3.OperationalError:
                pass  # the table does not exist before the store's schema is created
        time.sleep(0.5)
    raise TimeoutError(f"{entity} {row_id} did not reach the device store {path} within {timeout_s} s")


def go_to_route(page: Page, route: str) -> None:
    """Navigate the running client to `route` as the browser's address bar and back button do."""
    page.evaluate("route => { history.pushState(null, '', route); dispatchEvent(new PopStateEvent('popstate', {state: null})); }", route)


def scroll_into_view(page: Page, target: Locator, attempts: int = 12) -> None:
    """Scroll the screen's list down until `target` exists: Flutter builds list rows (and their semantics) only near the viewport."""
    size = page.viewport_size or PHONE_VIEWPORT
    page.mouse.move(size["width"] / 2, size["height"] / 2)
    for _ in range(attempts):
        if target.count() > 0:
            target.first.scroll_into_view_if_needed()
            return
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(400)
    expect(target.first).to_be_visible()


def screenshots(page: Page, name: str) -> None:
    """Save the screen at phone size and at tablet size, then return to phone size."""
    save_screenshot(page, name)
    page.set_viewport_size(TABLET_VIEWPORT)
    save_screenshot(page, name)
    page.set_viewport_size(PHONE_VIEWPORT)
    page.wait_for_timeout(500)


def positions_around(customer: Customer) -> tuple[dict, dict]:
    """Return browser geolocations (WGS-84) 600 m and 100 m from a customer stored in GCJ-02."""
    assert customer.coord_system.value == "gcj02"
    site = prcoords.gcj_wgs_bored(prcoords.Coords(customer.latitude, customer.longitude))
    far = geodesic(meters=FAR_M).destination((site.lat, site.lon), 90)
    near = geodesic(meters=NEAR_M).destination((site.lat, site.lon), 90)
    return (
        {"latitude": far.latitude, "longitude": far.longitude, "accuracy": FIX_ACCURACY_M},
        {"latitude": near.latitude, "longitude": near.longitude, "accuracy": FIX_ACCURACY_M},
    )


def rep_and_customers(server: ApiServer) -> tuple[User, Customer, Customer]:
    with Session(server.engine) as session:
        rep = session.exec(select(User).where(User.username == REP_USERNAME)).one()
        first, second = session.exec(select(Customer).where(Customer.owner_id == rep.id).order_by(Customer.name).limit(2)).all()
    return rep, first, second


def server_rows_of_rep(base_url: str, token: str) -> dict[str, list[dict]]:
    """Pull every row the rep may see over HTTP, as a new device would, grouped by entity."""
    rows: dict[str, list[dict]] = {}
    client_id, cursor = str(uuid.uuid4()), 0
    with httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            response = http.get("/api/sync/pull", params={"client_id": client_id, "cursor": cursor, "limit": 5000})
            response.raise_for_status()
            page = response.json()
            for change in page["changes"]:
                if change["op"] == "put":
                    rows.setdefault(change["entity"], []).append(change["row"])
            cursor = page["cursor"]
            if not page["has_more"]:
                return rows


def test_visit_checkin_checklist_offline(proxied_web_client, demo_api: ApiServer, camera_browser: Browser, tmp_path) -> None:
    web_url, proxy = proxied_web_client
    rep, customer, other_customer = rep_and_customers(demo_api)
    far, near = positions_around(customer)
    browser = offline_context(camera_browser, geolocation=far, permissions=["geolocation", "camera"])
    page = browser.context.new_page()
    taps = TapCounter()

    sign_in(page, web_url, REP_USERNAME)
    wait_for_local_row(tmp_path / "client-data", rep.id, "customers", str(customer.id))
    wait_for_local_row(tmp_path / "client-data", rep.id, "checklist_templates", "ab0c0638-fe03-4fb6-9017-cc791cdf141d")

    # Open the customer (by route, standing for the tap on its row in the home list) and start the check-in.
    go_to_route(page, f"/customers/{customer.id}")
    taps.count += 1
    start = page.get_by_role("button", name=ZH.t("checkin.start"))
    expect(page.get_by_text(customer.name).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    scroll_into_view(page, start)
    taps.tap(start)

    # 600 m away: "arrived" is locked and the screen shows how far.
    arrived = page.get_by_role("button", name=ZH.t("checkin.arrived"))
    # Flutter merges the card's texts into one semantics node, so these match substrings.
    expect(page.get_by_text(re.compile(r"太远：6\d\d 米"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"距客户 6\d\d 米"))).to_be_visible()
    expect(arrived).to_be_disabled()
    screenshots(page, "checkin-locked")

    # The device moves to 100 m: the next refresh unlocks the button.
    browser.context.set_geolocation(near)
    expect(arrived).to_be_enabled(timeout=REFRESH_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"距客户 (9\d|1[01]\d) 米"))).to_be_visible()
    expect(page.get_by_text(re.compile(ZH.t("checkin.unlocked")))).to_be_visible()
    screenshots(page, "checkin-unlocked")
    taps.tap(arrived)

    # The checklist: yes/no, a photo from the fake camera, a choice.
    expect(page.get_by_role("heading", name=re.compile(f"^{ZH.t('checklist.title')}"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert re.search(r"/visits/[0-9a-f-]{36}/checklist$", page.url), page.url
    visit_id = page.url.rsplit("/", 2)[1]
    complete = page.get_by_role("button", name=ZH.t("checklist.complete"))
    expect(complete).to_be_disabled()
    taps.tap(page.get_by_role("radio", name=ZH.t("checklist.yes")))
    take_photo = page.get_by_role("button", name=ZH.t("checklist.photo.take"))
    expect(take_photo).to_be_enabled(timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # let the fake camera deliver frames before the capture
    taps.tap(take_photo)
    expect(page.get_by_role("button", name=ZH.t("checklist.photo.retake"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The item's texts, its upload state included, form the group's accessible name.
    expect(page.get_by_role("group", name=re.compile("照片(已上传|已保存在本机|上传中)"))).to_be_visible()
    taps.tap(page.get_by_role("radio", name="发送报价"))
    expect(complete).to_be_enabled(timeout=STEP_TIMEOUT_MS)
    screenshots(page, "checklist")

    # Cut the network, then complete the visit: it is saved on the device and the customer shows it.
    proxy.drop_request = lambda number, line: True
    taps.tap(complete)
    expect(page.get_by_role("heading", name=ZH.t("customer.title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The new visit heads the visit list: completed, its duration, waiting to sync.
    new_visit = page.get_by_text(re.compile(
        rf"{ZH.t('visit.status.completed')}\s+{ZH.t('visit.duration', minutes=1)}\s+{ZH.t('visit.pending')}"
    ))
    scroll_into_view(page, new_visit)
    expect(new_visit.first).to_be_visible()
    for _ in range(4):
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(300)
    save_screenshot(page, "checkin-visit-history-offline")
    assert taps.count <= MAX_TAPS, f"the visit took {taps.count} taps"

    # Reconnect: the sync loop's retry sends the visit, the uploader the photo.
    proxy.drop_request = lambda number, line: False
    token = api_token(demo_api.base_url, REP_USERNAME)
    deadline = time.monotonic() + RESYNC_TIMEOUT_S
    while True:
        rows = server_rows_of_rep(demo_api.base_url, token)
        visit_rows = [row for row in rows.get("visits", []) if row["id"] == visit_id]
        answers = [row for row in rows.get("checklist_answers", []) if row["visit_id"] == visit_id]
        photo_ids = [answer["photo_id"] for answer in answers if answer["photo_id"]]
        photo = httpx.get(f"{demo_api.base_url}/api/photos/{photo_ids[0]}", headers={"Authorization": f"Bearer {token}"}, timeout=30) if photo_ids else None
        if (visit_rows and visit_rows[0]["status"] == "completed" and photo is not None and photo.status_code == 200) or time.monotonic() > deadline:
            break
        time.sleep(2)

    assert len(visit_rows) == 1
    visit = visit_rows[0]
    assert visit["status"] == "completed"
    assert visit["customer_id"] == str(customer.id)
    assert visit["duration_s"] is not None
    assert visit["geofence"]["allowed"] is True
    assert NEAR_M - 10 < visit["geofence"]["distance_m"] < NEAR_M + 10
    assert visit["checkin_accuracy_m"] == FIX_ACCURACY_M
    assert {answer["item_id"]: answer["value"] for answer in answers} == {"samples": True, "competitor_photo": None, "next_step": "发送报价"}
    assert len(photo_ids) == 1
    assert photo is not None and photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(photo.content)) as picture:
        assert picture.width >= 320
    assert not [row for row in rows.get("checkin_flags", []) if row["visit_id"] == visit_id]

    # Location permission withdrawn: the check-in screen explains it and stays locked.
    browser.context.clear_permissions()
    go_to_route(page, f"/customers/{other_customer.id}/checkin")
    permission_title = re.compile(f"{ZH.t('checkin.state.permission_denied')}|{ZH.t('checkin.state.permission_denied_forever')}")
    expect(page.get_by_text(permission_title).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_role("button", name=ZH.t("checkin.arrived"))).to_be_disabled()
    ask_again = page.get_by_role("button", name=ZH.t("checkin.state.permission_denied.action"))
    if ask_again.count() > 0:
        ask_again.click()
    # The browser does not prompt again, so the screen points to the settings.
    expect(page.get_by_text(re.compile(ZH.t("checkin.state.permission_denied_forever"))).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    page.get_by_role("button", name=ZH.t("checkin.state.permission_denied_forever.action")).click()
    expect(page.get_by_text(re.compile(ZH.t("checkin.settings_unavailable"))).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    screenshots(page, "checkin-permission-denied")
    browser.context.close()

    # A flagged check-in (mocked fix, 612 m away) pushed by the rep reaches the lead's list.
    pusher = Pusher(demo_api, REP_USERNAME)
    site = prcoords.gcj_wgs_bored(prcoords.Coords(other_customer.latitude, other_customer.longitude))
    flagged_fix = geodesic(meters=612).destination((site.lat, site.lon), 0)
    flagged_id, result = pusher.put("visits", checkin_fields(
        str(other_customer.id), (flagged_fix.latitude, flagged_fix.longitude), tap_moment(), mocked=True,
    ))
    assert result["status"] == "applied", result
    lead_browser = offline_context(camera_browser)
    lead_page = lead_browser.context.new_page()
    sign_in(lead_page, web_url, LEAD_USERNAME)
    flags_button = lead_page.get_by_role("button", name=ZH.t("flags.open"))
    expect(flags_button).to_be_visible(timeout=STEP_TIMEOUT_MS)
    with Session(demo_api.engine) as session:
        lead = session.exec(select(User).where(User.username == LEAD_USERNAME)).one()
        flag = session.exec(select(CheckinFlag).where(CheckinFlag.visit_id == uuid.UUID(flagged_id))).one()
    wait_for_local_row(tmp_path / "client-data", lead.id, "checkin_flags", str(flag.id))
    flags_button.click()
    expect(lead_page.get_by_text(ZH.t("flags.title")).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(lead_page.get_by_text(other_customer.name).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(lead_page.get_by_text(re.compile(r"距离 61\d 米，超出 500 米")).first).to_be_visible()
    expect(lead_page.get_by_text(ZH.t("flags.reason.mocked")).first).to_be_visible()
    screenshots(lead_page, "checkin-flags-lead")
    lead_page.get_by_text(other_customer.name).first.click()
    expect(lead_page.get_by_role("heading", name=ZH.t("customer.title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert lead_page.url.endswith(f"/customers/{other_customer.id}")
    lead_browser.context.close()
    assert not [url for url in browser.blocked_urls + lead_browser.blocked_urls if "127.0.0.1" in url]
