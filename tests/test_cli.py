"""The server command fails with one clear line, not a traceback, when the database cannot be used."""

import os
import subprocess
import sys

from tests.servers import REPO_ROOT, free_port


def _run_cli(database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_unreachable_database_exits_with_one_line():
    result = _run_cli(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/fieldsales")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:")
    assert "DATABASE_URL" in result.stderr


def test_unsupported_database_url_named():
    result = _run_cli("mysql://root@127.0.0.1/fieldsales")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL is not a supported database URL" in result.stderr


def test_unparseable_database_url_named():
    result = _run_cli("not a url")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL" in result.stderr
