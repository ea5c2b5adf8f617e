"""Run the scheduled jobs: health-score recompute, escalation checks, alert delivery, change-log compaction.

    python -m server.jobs run-once [--job NAME ...]   run each job (or the named ones) once now, then exit
    python -m server.jobs loop [--tick SECONDS]        run every job when it is due until SIGINT or SIGTERM
    python -m server.jobs list                         print the jobs and their last runs

Any number of runners may run against one database: each job takes a database lock before
it runs (PostgreSQL: an advisory lock held on its connection for the run, released by the
database if the runner dies; SQLite: a lease row in job_state that expires after the job's
longest expected run), so only one instance runs a given job at a time, and the schedule
(when each job last started) is shared through job_state. See server/jobs/locks.py.
"""

import argparse
import signal
import sys
import threading

from sqlmodel import Session, select

from server.cli import DatabaseUnavailable, check_database, configure_logging
from server.db import get_engine
from server.jobs.models import JobState
from server.jobs.runner import DEFAULT_JOBS, JobRunner


def main(argv: list[str] | None = None) -> int:
    names = [job.name for job in DEFAULT_JOBS]
    parser = argparse.ArgumentParser(prog="python -m server.jobs", description="外勤通 Field Sales scheduled jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    once = commands.add_parser("run-once", help="run each job once now (whatever its schedule) and exit")
    once.add_argument("--job", action="append", choices=names, help="run only this job (repeatable)")
    loop = commands.add_parser("loop", help="run every job when it is due until interrupted")
    loop.add_argument("--tick", type=float, default=1.0, help="seconds between checks for due jobs (default 1)")
    commands.add_parser("list", help="print the jobs and their last runs")
    args = parser.parse_args(argv)

    configure_logging()
    try:
        check_database()
    except DatabaseUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    runner = JobRunner(get_engine())
    if args.command == "list":
        _print_states(runner)
        return 0
    if args.command == "run-once":
        results = runner.run_once(args.job)
        for name, result in results.items():
            print(f"{name}: {result if result is not None else 'skipped (another runner holds the lock)'}")
        return 1 if any(result and result.startswith("error:") for result in results.values()) else 0

    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    runner.loop(stop, tick_seconds=args.tick)
    return 0


def _print_states(runner: JobRunner) -> None:
    with Session(runner.engine) as session:
        states = {state.name: state for state in session.exec(select(JobState)).all()}
    for name, job in runner.jobs.items():
        state = states.get(name)
        last = f"last started {state.last_started_at}, {state.last_status}: {state.last_result or state.last_error}" if state and state.last_started_at else "never run"
        print(f"{name:<22} every {job.interval}  {last}")


if __name__ == "__main__":
    sys.exit(main())
