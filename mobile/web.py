"""Serve the client in Flet's web mode, for development and browser tests.

    python -m mobile.web --host 127.0.0.1 --port 8550

The page works with no internet access: Flet serves its Flutter web client and
CanvasKit from the flet-web package (no_cdn), and the app bundles its CJK font.
No browser window is opened; point a browser at the logged URL.
"""

import argparse
import logging
import os

import flet as ft

from mobile.app import main as app_main
from mobile.config import APP_DIR

log = logging.getLogger("mobile.web")

ASSETS_DIR = APP_DIR / "assets"


def serve(host: str, port: int) -> None:
    # With view=WEB_BROWSER, ft.run opens the system browser unless this variable is set;
    # view=None would start the desktop socket server instead of the web server (flet 1.0.5).
    os.environ["FLET_FORCE_WEB_SERVER"] = "true"
    log.info("Field Sales web client starting at http://%s:%d/ (assets %s)", host, port, ASSETS_DIR)
    ft.run(
        app_main,
        view=ft.AppView.WEB_BROWSER,
        host=host,
        port=port,
        assets_dir=str(ASSETS_DIR),
        no_cdn=True,
    )
    log.info("Field Sales web client stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mobile.web", description="Serve the Field Sales client in web mode.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8550, help="TCP port (default 8550)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, search text included; mobile.api logs the failures.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
