"""A rep keeps working with the server unreachable: the follow-up is saved on the device and syncs on reconnect.

In web mode the Flet app's Python side talks to the API server, so "offline" means
that link is cut: the web client's API traffic passes a proxy that drops every request.
"""

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from server.models import Followup, User
from server.seed.demo import DEMO_PASSWORD
from tests.e2e.browser import LOAD_TIMEOUT_MS, STEP_TIMEOUT_MS, ZH, fill_text_field, open_client, save_screenshot, scroll_into_view
from tests.e2e.conftest import OfflineBrowser

pytestmark = pytest.mark.e2e

REP_USERNAME = "rep02"
FOLLOWUP_TEXT = f"离线跟进：客户要样品 {uuid.uuid4().hex[:6]}"
# The sync loop's debounce after a local write (2 s) plus a failed request's time.
OFFLINE_NOTICE_TIMEOUT_MS = 30_000


def test_followup_saved_offline_syncs_later(proxied_web_client, demo_api, offline_browser: OfflineBrowser) -> None:
    web_url, proxy = proxied_web_client
    page = offline_browser.context.new_page()
    open_client(page, web_url)
    expect(page.get_by_role("textbox", name=ZH.t("login.login_label"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    fill_text_field(page, ZH.t("login.login_label"), REP_USERNAME)
    fill_text_field(page, ZH.t("login.password_label"), DEMO_PASSWORD)
    page.get_by_role("button", name=ZH.t("login.submit"), exact=True).click()
    expect(page.get_by_text(re.compile(r"^已同步"))).to_be_visible(timeout=STEP_TIMEOUT_MS)

    # Cut the network, then open a customer and record a follow-up.
    proxy.drop_request = lambda number, line: True
    first_row = page.get_by_role("button", name=re.compile("有限公司")).first
    first_row.click()
    expect(page.get_by_role("heading", name=ZH.t("customer.title"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The follow-up form sits under the check-in and score sections, below the fold on a phone.
    scroll_into_view(page, page.get_by_role("textbox", name=ZH.t("customer.followup_label")))
    fill_text_field(page, ZH.t("customer.followup_label"), FOLLOWUP_TEXT)
    page.get_by_role("button", name=ZH.t("customer.followup_save")).click()
    saved_notice = re.compile(re.escape(ZH.t("customer.followup_saved")))
    # The span, not its copy in the screen reader's live-region announcement.
    expect(page.locator("span").filter(has_text=saved_notice)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    scroll_into_view(page, page.get_by_text(FOLLOWUP_TEXT))
    pending_banner = page.get_by_text(ZH.t("customer.pending_changes", count=1))
    scroll_into_view(page, pending_banner)
    expect(pending_banner).to_be_visible()
    save_screenshot(page, "offline-followup-detail")

    # Back on the list: the status bar says offline with one change waiting.
    page.get_by_role("button", name=ZH.t("common.back")).click()
    expect(page.get_by_text(re.compile(f"^{ZH.t('sync.offline')}"))).to_be_visible(timeout=OFFLINE_NOTICE_TIMEOUT_MS)
    expect(page.get_by_text(ZH.t("sync.pending", count=1))).to_be_visible()
    save_screenshot(page, "offline-status")
    assert proxy.dropped_requests >= 1
    assert _followups_on_server(demo_api) == 0

    # Reconnect and sync now: the follow-up reaches the server once and the badge clears.
    proxy.drop_request = lambda number, line: False
    page.get_by_role("button", name=ZH.t("sync.now")).click()
    expect(page.get_by_text(re.compile(r"^已同步"))).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_text(ZH.t("sync.pending", count=1))).to_be_hidden(timeout=STEP_TIMEOUT_MS)
    save_screenshot(page, "online-synced")
    assert _followups_on_server(demo_api) == 1


def _followups_on_server(server) -> int:
    with Session(server.engine) as session:
        rep = session.exec(select(User).where(User.username == REP_USERNAME)).one()
        return len(session.exec(select(Followup).where(Followup.text == FOLLOWUP_TEXT, Followup.author_id == rep.id)).all())
