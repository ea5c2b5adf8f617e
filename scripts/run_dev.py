"""Run the whole product locally: the API server (migrated, demo data in an empty database),
the scheduled jobs (score recompute, escalation checks, alert delivery) and the Flet web client.

    python scripts/run_dev.py [--api-port 8000] [--web-port 8550] [--no-jobs]

Stops every part on Ctrl-C or SIGTERM, and stops the others when one exits.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 120) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address both parts listen on")
    parser.add_argument("--api-port", type=int, default=8000, help="TCP port of the API server")
    parser.add_argument("--web-port", type=int, default=8550, help="TCP port of the Flet web client")
    parser.add_argument("--no-jobs", action="store_true", help="do not start the scheduled job runner")
    args = parser.parse_args()

    api_url = f"http://{args.host}:{args.api_port}"
    web_url = f"http://{args.host}:{args.web_port}"
    python = sys.executable
    # A SIGTERM (from a process manager or `kill`) stops both parts as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    processes: list[subprocess.Popen] = []
    try:
        api = subprocess.Popen([python, "-m", "server.cli", "serve", "--host", args.host, "--port", str(args.api_port)], cwd=REPO_ROOT)
        processes.append(api)
        if not wait_until_up(f"{api_url}/api/health", api):
            print(f"error: the API server did not start (exit code {api.poll()}); see the messages above.", file=sys.stderr)
            return api.poll() or 1

        if not args.no_jobs:
            # Started after the API, whose start migrates the database and loads the demo data.
            processes.append(subprocess.Popen([python, "-m", "server.jobs", "loop"], cwd=REPO_ROOT))

        web_env = {**os.environ, "FIELDSALES_API_URL": api_url}
        web = subprocess.Popen([python, "-m", "mobile.web", "--host", args.host, "--port", str(args.web_port)], cwd=REPO_ROOT, env=web_env)
        processes.append(web)
        if not wait_until_up(web_url, web):
            print(f"error: the web client did not start (exit code {web.poll()}); see the messages above.", file=sys.stderr)
            return web.poll() or 1

        from server.cli import print_demo_logins

        print("\n外勤通 Field Sales is running:")
        print(f"  Web client : {web_url}   (open at phone size, e.g. 412x915)")
        print(f"  API server : {api_url}   (OpenAPI docs: {api_url}/docs)")
        if not args.no_jobs:
            print("  Jobs       : score recompute, escalation checks and alert delivery on their schedules")
        print_demo_logins()
        print("Press Ctrl-C to stop.\n", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):
            stop(process)


def _raise_keyboard_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
