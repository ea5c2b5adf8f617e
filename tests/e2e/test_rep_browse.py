"""A sales rep signs in, in Chinese, and browses their customers in the real web client.

Expected values come from the API itself (as the same rep), so the test checks that
the screens show what the server returns. Screenshots land in tests/e2e/artifacts/.
"""

import logging
import re

import httpx
import pytest
from playwright.sync_api import expect

from mobile.api import PAGE_SIZE
from server.seed.demo import DEMO_LOGINS, DEMO_PASSWORD
from tests.e2e.browser import FONT_PATH, LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, ZH, fill_text_field, open_client, save_screenshot, scroll_into_view
from tests.e2e.conftest import ALLOWED_HOST, OfflineBrowser

pytestmark = pytest.mark.e2e

log = logging.getLogger(__name__)

TABLET_VIEWPORT = {"width": 1280, "height": 800}
REP = next(login for login in DEMO_LOGINS if login.role.value == "rep")


def rep_view_of_api(demo_server: str) -> tuple[dict, dict]:
    """Return the rep's first page of customers and the detail of the first customer, from the API."""
    with httpx.Client(base_url=demo_server, timeout=30) as http:
        response = http.post("/api/auth/login", json={"login": REP.username, "password": DEMO_PASSWORD})
        response.raise_for_status()
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

        customers = http.get("/api/customers", params={"limit": PAGE_SIZE}, headers=headers)
        customers.raise_for_status()
        first_id = customers.json()["items"][0]["id"]
        detail = http.get(f"/api/customers/{first_id}", headers=headers)
        detail.raise_for_status()
    return customers.json(), detail.json()


def test_rep_browses_customers(web_client: str, demo_server: str, offline_browser: OfflineBrowser) -> None:
    customers, detail = rep_view_of_api(demo_server)
    assert customers["total"] > 0, "the demo rep owns no customers"
    page = offline_browser.context.new_page()

    # Sign-in screen, in Chinese by default.
    open_client(page, web_client)
    expect(page.get_by_role("textbox", name=ZH.t("login.login_label"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    submit = page.get_by_role("button", name=ZH.t("login.submit"), exact=True)
    expect(submit).to_be_visible()
    save_screenshot(page, "rep-login")

    fill_text_field(page, ZH.t("login.login_label"), REP.username)
    fill_text_field(page, ZH.t("login.password_label"), DEMO_PASSWORD)
    submit.click()

    # Home screen: the rep's own customers, counted as the server counts them.
    home_title = page.get_by_role("heading", name=ZH.t("home.rep"))
    expect(home_title).to_be_visible(timeout=STEP_TIMEOUT_MS)
    count_text = ZH.t("list.count", total=customers["total"], shown=len(customers["items"]))
    # The list fills from the device's store once the first sync has applied its pages.
    expect(page.get_by_text(count_text)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The tooltip on the user's name (the role) joins its accessible text, so match a substring.
    expect(page.get_by_text(re.compile(re.escape(REP.display_name)))).to_be_visible()
    first = customers["items"][0]
    first_row = page.get_by_role("button", name=re.compile(re.escape(first["name"])))
    expect(first_row).to_be_visible()
    save_screenshot(page, "rep-customers")

    # Detail of the first customer.
    first_row.click()
    expect(page.get_by_role("heading", name=ZH.t("customer.title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert page.url.endswith(f"/customers/{first['id']}")
    # Flutter merges each card's texts into one semantics node, so these match substrings.
    overview = page.get_by_text(detail["name"])
    expect(overview).to_be_visible()
    for value in (detail["industry"], detail["address"], detail["owner_name"], detail["region_name"]):
        expect(overview).to_contain_text(value)
    scroll_into_view(page, page.get_by_text(ZH.t("customer.visits")))
    for contact in detail["contacts"]:
        role_name = ZH.label("decision_role", contact["decision_role"])
        expect(page.get_by_text(contact["name"]).filter(has_text=role_name).first).to_be_visible()
    for visit in detail["visits"][:1]:
        expect(page.get_by_text(visit["summary"])).to_be_visible()
    save_screenshot(page, "rep-customer-detail")

    # Back to the list, which kept its rows. The back button's label comes from Flutter's
    # own zh-CN localization, which uses the catalog's word.
    page.get_by_role("button", name=ZH.t("common.back")).click()
    expect(home_title).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(first_row).to_be_visible()

    # The same screens at tablet size.
    page.set_viewport_size(TABLET_VIEWPORT)
    expect(first_row).to_be_visible()
    save_screenshot(page, "rep-customers")
    first_row.click()
    scroll_into_view(page, page.get_by_text(ZH.t("customer.visits")))
    save_screenshot(page, "rep-customer-detail")

    # Chinese came from the bundled font, and nothing left the machine.
    font_responses = [status for status, url in offline_browser.responses if url.endswith(FONT_PATH)]
    assert font_responses == [200]
    foreign = [url for status, url in offline_browser.responses if not url.startswith(f"http://{ALLOWED_HOST}:")]
    assert foreign == []
    log.info("blocked %d requests to other hosts: %s", len(offline_browser.blocked_urls), offline_browser.blocked_urls)
