"""The battle map and the alert inbox in the real web client.

(a) A rep sees their customers coloured by band in the list and on the map (tiles from a
tile server on 127.0.0.1), opens a customer's "why this score", and goes on to the clause
library (green) and the intervention checklist (red). (b) A regional lead opens an
escalation in the alert inbox and marks it done; the server then shows it done.
Expected values come from the API as the same user. Screenshots land in tests/e2e/artifacts/.
"""

import io
import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from mobile.views.score import format_number
from server.seed.demo import DEMO_PASSWORD
from tests.e2e.browser import LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, ZH, fill_text_field, open_client, save_screenshot, scroll_into_view
from tests.e2e.conftest import ALLOWED_HOST, OfflineBrowser, start_web_client
from tests.servers import stop

pytestmark = pytest.mark.e2e

TABLET_VIEWPORT = {"width": 1280, "height": 800}
PHONE_VIEWPORT = {"width": 412, "height": 915}
REP_USERNAME = "rep01"
LEAD_USERNAME = "lead_east"
# The sync loop pushes a local write after a 2 s debounce; allow for a slow host.
SYNC_TIMEOUT_S = 30
MAP_COUNT = re.compile(re.escape(ZH.t("battle.map_count", shown="NUMBER")).replace("NUMBER", r"\d+"))


class TileServer:
    """Serves one 256x256 PNG for every tile URL on 127.0.0.1 and counts the requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._png = _tile_png()
        tiles = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                tiles.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tiles._png)))
                # CanvasKit fetches images with CORS.
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                try:
                    self.wfile.write(tiles._png)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # The map dropped a tile it no longer needs (zoomed or panned away).

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer((ALLOWED_HOST, 0), Handler)
        self.url_template = f"http://{ALLOWED_HOST}:{self._server.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "TileServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _tile_png() -> bytes:
    """A light map-like tile with a grid, so a screenshot shows where tiles were drawn."""
    image = Image.new("RGB", (256, 256), (236, 240, 232))
    draw = ImageDraw.Draw(image)
    for position in range(0, 256, 64):
        draw.line([(position, 0), (position, 255)], fill=(210, 214, 206))
        draw.line([(0, position), (255, position)], fill=(210, 214, 206))
    draw.line([(0, 200), (255, 120)], fill=(250, 250, 250), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tile_server() -> Iterator[TileServer]:
    server = TileServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def battle_client(demo_server: str, tile_server: TileServer, tmp_path_factory) -> Iterator[str]:
    """A web client whose map tiles come from tile_server (flet.toml's tile URL overridden)."""
    overrides = {"FIELDSALES_TILE_URL": tile_server.url_template, "FIELDSALES_TILE_COORD_SYSTEM": "gcj02"}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        process, url = start_web_client(demo_server, tmp_path_factory.mktemp("battle-client"))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield url
    stop(process)


class Api:
    """The API as one signed-in user."""

    def __init__(self, base_url: str, username: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        response = self.http.post("/api/auth/login", json={"login": username, "password": DEMO_PASSWORD})
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params) -> dict:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.http.close()


def sign_in(page: Page, url: str, username: str) -> None:
    open_client(page, url)
    expect(page.get_by_role("textbox", name=ZH.t("login.login_label"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    fill_text_field(page, ZH.t("login.login_label"), username)
    fill_text_field(page, ZH.t("login.password_label"), DEMO_PASSWORD)
    page.get_by_role("button", name=ZH.t("login.submit"), exact=True).click()


def customer_row(page: Page, name: str):
    return page.get_by_role("button", name=re.compile(re.escape(name)))


def search_customers(page: Page, text: str) -> None:
    fill_text_field(page, ZH.t("list.search_customers"), text)


def content_item(page: Page, title: str):
    """A content item by its title: selectable text makes Flutter expose the item as a read-only textbox."""
    return page.get_by_role("textbox", name=title).or_(page.get_by_text(title, exact=True)).first


def band_text(band: str, score: float) -> str:
    """The accessible text of a row's score badge: band name and score."""
    return f"{ZH.t(f'battle.band.{band}')} {format_number(score)}"


def expect_why(page: Page, detail: dict) -> None:
    """Every indicator of the API's "why" is on the screen with the same contribution."""
    # Flutter merges the score card's texts into the accessible name of one group.
    card = page.get_by_role("group", name=re.compile(re.escape(ZH.t("battle.why"))))
    scroll_into_view(page, card)
    for name, entry in detail["indicators"].items():
        label = ZH.t(f"battle.indicator.{name}")
        points = ZH.t("battle.points", points=format_number(entry["contribution"]))
        expect(page.get_by_role("group", name=re.compile(re.escape(f"{label} {points} ")))).to_be_attached()


def test_rep_battle_map(battle_client: str, demo_server: str, tile_server: TileServer, offline_browser: OfflineBrowser) -> None:
    api = Api(demo_server, REP_USERNAME)
    red = api.get("/api/scores", band="red", limit=1)["items"][0]
    green = api.get("/api/scores", band="green", limit=1)["items"][0]
    red_detail = api.get(f"/api/scores/{red['customer_id']}")
    green_detail = api.get(f"/api/scores/{green['customer_id']}")
    clauses = api.get("/api/content/contract_clauses")
    checklist = api.get("/api/content/churn_intervention_checklist")
    customers = api.get("/api/customers", limit=50)
    reactivation = api.get("/api/alerts", kind="reactivation", limit=1)["items"][0]
    api.close()

    page = offline_browser.context.new_page()
    sign_in(page, battle_client, REP_USERNAME)
    expect(page.get_by_role("heading", name=ZH.t("home.rep"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    count_text = ZH.t("list.count", total=customers["total"], shown=len(customers["items"]))
    expect(page.get_by_text(count_text)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "battle-list")

    # The red and the green customer, each with its score from GET /api/scores/{id} in its band's badge.
    for detail, band in ((red_detail, "red"), (green_detail, "green")):
        search_customers(page, detail["customer_name"])
        row = customer_row(page, detail["customer_name"])
        expect(row).to_be_visible(timeout=STEP_TIMEOUT_MS)
        expect(row).to_contain_text(band_text(band, detail["score"]))
    save_screenshot(page, "battle-list-green")
    search_customers(page, "")
    expect(page.get_by_text(count_text)).to_be_visible(timeout=STEP_TIMEOUT_MS)

    # The map, one tap away, with markers on tiles from the local tile server.
    page.get_by_text(ZH.t("battle.tab_map"), exact=True).click()
    expect(page.get_by_text(MAP_COUNT)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while not tile_server.requests and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert tile_server.requests, "the map requested no tiles from the local tile server"
    page.wait_for_timeout(1500)
    save_screenshot(page, "battle-map")
    page.get_by_text(ZH.t("battle.tab_list"), exact=True).click()

    # The green customer's "why", as the API explains it, then its clause library.
    search_customers(page, green["customer_name"])
    customer_row(page, green["customer_name"]).click()
    expect_why(page, green_detail)
    save_screenshot(page, "battle-score-green")
    next_step = page.get_by_role("button", name=ZH.t("battle.open_clauses"))
    scroll_into_view(page, next_step)
    next_step.click()
    expect(content_item(page, clauses["items"][0]["title"])).to_be_visible(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "battle-clauses")
    page.get_by_role("button", name=ZH.t("common.back")).click()
    page.get_by_role("button", name=ZH.t("common.back")).click()

    # The red customer: its "why" and the intervention checklist, where an item is ticked.
    search_customers(page, red["customer_name"])
    customer_row(page, red["customer_name"]).click()
    expect_why(page, red_detail)
    save_screenshot(page, "battle-score-red")
    next_step = page.get_by_role("button", name=ZH.t("battle.open_intervention"))
    scroll_into_view(page, next_step)
    next_step.click()
    first_item = page.get_by_role("checkbox", name=checklist["items"][0]["title"])
    expect(first_item).to_be_visible(timeout=STEP_TIMEOUT_MS)
    first_item.click()
    expect(page.get_by_text(ZH.t("battle.ticked", done=1, total=len(checklist["items"])))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "battle-intervention")

    # Tablet: list and map side by side, and the same screens.
    page.set_viewport_size(TABLET_VIEWPORT)
    save_screenshot(page, "battle-intervention")
    page.get_by_role("button", name=ZH.t("common.back")).click()
    expect_why(page, red_detail)
    # The screen kept its scroll position from the phone size: start again from the top.
    page.mouse.move(TABLET_VIEWPORT["width"] / 2, TABLET_VIEWPORT["height"] / 2)
    page.mouse.wheel(0, -10_000)
    scroll_into_view(page, page.get_by_text(ZH.t("battle.section_title"), exact=True))
    save_screenshot(page, "battle-score-red")
    page.get_by_role("button", name=ZH.t("common.back")).click()
    expect(page.get_by_text(MAP_COUNT)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    save_screenshot(page, "battle-map")

    # The rep's own alerts: a reactivation alert with its three talk-track scripts.
    page.get_by_role("button", name=re.compile(f"^{ZH.t('battle.alerts')}")).click()
    expect(page.get_by_role("heading", name=ZH.t("battle.alerts_title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    fill_text_field(page, ZH.t("battle.search_alerts"), reactivation["data"]["customer_name"])
    page.get_by_role("button", name=re.compile(re.escape(reactivation["data"]["customer_name"]))).first.click()
    for script in reactivation["data"]["talk_tracks"]["scripts"]:
        scroll_into_view(page, content_item(page, script["title"]))
    save_screenshot(page, "battle-reactivation")
    page.set_viewport_size(PHONE_VIEWPORT)
    save_screenshot(page, "battle-reactivation")

    foreign = [url for _status, url in offline_browser.responses if not url.startswith(f"http://{ALLOWED_HOST}:")]
    assert foreign == []


def test_lead_marks_escalation_done(battle_client: str, demo_server: str, offline_browser: OfflineBrowser) -> None:
    api = Api(demo_server, LEAD_USERNAME)
    escalations = api.get("/api/alerts", kind="followup_escalation", state="new")["items"]
    assert escalations, "the demo gives lead_east no new escalation"
    alert = escalations[0]

    page = offline_browser.context.new_page()
    sign_in(page, battle_client, LEAD_USERNAME)
    expect(page.get_by_role("heading", name=ZH.t("home.regional_lead"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^已同步"))).to_be_visible(timeout=STEP_TIMEOUT_MS)

    inbox_button = page.get_by_role("button", name=re.compile(f"^{ZH.t('battle.alerts')}"))
    expect(inbox_button).to_be_visible()
    inbox_button.click()
    expect(page.get_by_role("heading", name=ZH.t("battle.alerts_title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    row = page.get_by_role("button", name=re.compile(re.escape(alert["data"]["customer_name"])))
    expect(row.first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "alert-inbox")
    page.set_viewport_size(TABLET_VIEWPORT)
    save_screenshot(page, "alert-inbox")
    page.set_viewport_size(PHONE_VIEWPORT)

    row.first.click()
    expect(page.get_by_text(alert["reason"])).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The data behind the alert: Flutter merges its rows into one text node.
    days = alert["data"]["days_without_followup"]
    expected = {
        "score": format_number(alert["data"]["score"]),
        "days_without_followup": ZH.t("battle.data.never_followed_up") if days is None else str(days),
    }
    for key, shown in expected.items():
        row_text = re.escape(ZH.t(f"battle.data.{key}")) + r"\s+" + re.escape(shown) + r"\s"
        expect(page.get_by_text(re.compile(row_text))).to_be_attached()
    save_screenshot(page, "alert-detail")
    page.get_by_role("button", name=ZH.t("battle.mark_done")).click()
    expect(page.get_by_text(ZH.t("battle.marked"))).to_be_visible(timeout=STEP_TIMEOUT_MS)

    api_state = None
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        api_state = api.get(f"/api/alerts/{alert['id']}")["state"]
        if api_state == "done":
            break
        time.sleep(0.5)
    api.close()
    assert api_state == "done"
    save_screenshot(page, "alert-detail-done")

    # The customer behind the escalation opens from the alert.
    page.get_by_role("button", name=ZH.t("battle.open_customer")).click()
    expect(page.get_by_text(alert["data"]["customer_name"]).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_text(ZH.t("battle.section_title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "alert-customer")
    # Back from that customer returns to the alert, not to the home screen.
    page.get_by_role("button", name=ZH.t("common.back")).click()
    expect(page.get_by_role("button", name=ZH.t("battle.open_customer"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
