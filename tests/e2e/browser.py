"""Helpers for driving the Flet web client in Chromium: load it, type, take screenshots."""

from pathlib import Path

from playwright.sync_api import Page

from mobile.i18n import Translator

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
# UI text in the client's default language, Simplified Chinese.
ZH = Translator("zh-CN")
# Start-up (Flutter engine and the 16 MB font) took about 2.5 s on a 2-core machine; 60 s allows for a loaded CI host.
LOAD_TIMEOUT_MS = 60_000
STEP_TIMEOUT_MS = 20_000
SETTLE_MS = 800
FONT_PATH = "/fonts/NotoSansSC-Regular.otf"


def open_client(page: Page, url: str) -> None:
    """Load the web client, wait for its bundled CJK font, and switch on Flutter's semantics tree.

    The semantics tree exposes widgets to Playwright's role and text locators.
    """
    with page.expect_response(lambda response: response.url.endswith(FONT_PATH), timeout=LOAD_TIMEOUT_MS) as font:
        page.goto(url)
        page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=LOAD_TIMEOUT_MS)
        page.evaluate("document.querySelector('flt-semantics-placeholder').click()")
    font.value.finished()


def fill_text_field(page: Page, label: str, text: str) -> None:
    """Type into the TextField labelled `label`.

    Flutter attaches its web text editing to a field only once it has focus: a fill()
    without the click and the pause intermittently lost the text (flet 1.0.5, Chromium).
    """
    field = page.get_by_role("textbox", name=label)
    field.click()
    page.wait_for_timeout(400)
    field.fill(text)


def save_screenshot(page: Page, name: str) -> Path:
    # The semantics tree updates before Flutter paints the frame: a screenshot taken at once was blank.
    page.wait_for_timeout(SETTLE_MS)
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {}
    path = ARTIFACTS_DIR / f"{name}-{size.get('width')}x{size.get('height')}.png"
    page.screenshot(path=path)
    return path


# Imports of the helpers below, kept with them.
import time  # noqa: E402

from playwright.sync_api import Locator, expect  # noqa: E402


def scroll_into_view(page: Page, locator: Locator, timeout_ms: float = STEP_TIMEOUT_MS) -> None:
    """Scroll the screen's list with the mouse wheel until the top of `locator` is in the upper part of the window.

    Flutter builds semantics only for the rows near the viewport, so a control further down
    a long screen is not in the DOM, and Playwright cannot scroll to it, until the list does.
    The screen may still be loading, so this keeps trying until `timeout_ms` has passed.
    """
    size = page.viewport_size or {"width": 412, "height": 915}
    page.mouse.move(size["width"] / 2, size["height"] / 2)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        box = locator.first.bounding_box() if locator.count() else None
        if box is not None and 0 <= box["y"] < size["height"] * 0.6:
            return
        # Up when the control lies above the window (a screen that kept its scroll position), else down.
        page.mouse.wheel(0, -300 if box is not None and box["y"] < 0 else 300)
        page.wait_for_timeout(300)
    expect(locator.first).to_be_in_viewport()
