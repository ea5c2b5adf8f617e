"""Browser-test fixtures: the API server, the Flet web client, and Chromium kept off the internet.

Chromium runs with every request to a host other than 127.0.0.1 aborted, so a test
proves the client works with no CDN and nothing leaves the machine.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright

from tests.faults import FaultProxy
from tests.servers import REPO_ROOT, ApiServer, free_port, start_api_server, stop, stop_api_server, wait_until_up

CHROMIUM = "/usr/bin/chromium"
# Flags for Debian's Chromium in a container without a GPU. The --disable-* flags cut Chromium's
# own background traffic; --enable-unsafe-swiftshader lets CanvasKit's WebGL render in software.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
]
ALLOWED_HOST = "127.0.0.1"
PHONE_VIEWPORT = {"width": 412, "height": 915}


@pytest.fixture(scope="session")
def demo_api(tmp_path_factory) -> Iterator[ApiServer]:
    """An API server on SQLite, loaded with the demo organisation."""
    server = start_api_server("sqlite", tmp_path_factory.mktemp("api-e2e"))
    yield server
    stop_api_server(server)


@pytest.fixture(scope="session")
def demo_server(demo_api: ApiServer) -> str:
    """Base URL of demo_api."""
    return demo_api.base_url


def start_web_client(api_url: str, work_dir) -> tuple[subprocess.Popen, str]:
    """Start the Flet web client (python -m mobile.web) against `api_url`, with its local databases in `work_dir`."""
    port = free_port()
    log_path = work_dir / "web.log"
    env = {**os.environ, "FIELDSALES_API_URL": api_url, "FIELDSALES_DATA_DIR": str(work_dir / "client-data")}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "mobile.web", "--host", ALLOWED_HOST, "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    url = f"http://{ALLOWED_HOST}:{port}/"
    try:
        wait_until_up(url, process, log_path)
    except Exception:
        stop(process)
        raise
    return process, url


@pytest.fixture(scope="session")
def web_client(demo_server: str, tmp_path_factory) -> Iterator[str]:
    """URL of the Flet web client talking to demo_server."""
    process, url = start_web_client(demo_server, tmp_path_factory.mktemp("web-client"))
    yield url
    stop(process)


@pytest.fixture
def proxied_web_client(demo_api: ApiServer, tmp_path) -> Iterator[tuple[str, FaultProxy]]:
    """URL of a web client whose API traffic passes a fault-injecting proxy, so a test can cut the network."""
    proxy = FaultProxy("127.0.0.1", int(demo_api.base_url.rsplit(":", 1)[1])).start()
    process, url = start_web_client(proxy.url, tmp_path)
    yield url, proxy
    stop(process)
    proxy.stop()


@dataclass
class OfflineBrowser:
    """A Chromium context that aborts requests to any host but 127.0.0.1 and records them."""

    context: BrowserContext
    blocked_urls: list[str] = field(default_factory=list)
    responses: list[tuple[int, str]] = field(default_factory=list)

    def abort_foreign(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == ALLOWED_HOST:
            route.continue_()
        else:
            self.blocked_urls.append(route.request.url)
            route.abort()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def offline_browser(chromium: Browser) -> Iterator[OfflineBrowser]:
    """A fresh phone-sized browser context (no stored session) with foreign hosts blocked."""
    # Requests a service worker handles would bypass context.route, so service workers are off.
    context = chromium.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", service_workers="block")
    offline = OfflineBrowser(context)
    context.route("**/*", offline.abort_foreign)
    context.on("response", lambda response: offline.responses.append((response.status, response.url)))
    yield offline
    context.close()


def pytest_collection_modifyitems(config, items) -> None:
    """Rerun a failed browser flow once.

    On the 2-core CI machine two flows run at once, each with a server, a Flet web client
    and Chromium. A step occasionally outlasts its 20 s wait: seen in about 1 of 4 full runs,
    each time in a different flow. A flow that fails twice fails the run.
    NOTE: this hides a flow that fails intermittently for a real reason. The summary lists
    each rerun.
    """
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
