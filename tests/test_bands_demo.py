"""The demo organisation shows every band on every rep's battle map, and gives regional leads escalations."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from server.db import build_engine
from tests.servers import REPO_ROOT


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("demo-bands")
    url = f"sqlite:///{work_dir / 'demo.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(work_dir), "LOG_LEVEL": "WARNING"}
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "server.cli", command], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    engine = build_engine(url)
    yield engine
    engine.dispose()


def test_every_rep_has_all_bands(demo_engine):
    with demo_engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT u.username, l.band, COUNT(*) FROM users u JOIN customers c ON c.owner_id = u.id"
            " JOIN latest_scores l ON l.customer_id = c.id WHERE u.role = 'rep' GROUP BY u.username, l.band"
        )).all()
    bands: dict[str, set[str]] = {}
    for username, band, _count in rows:
        bands.setdefault(username, set()).add(band)

    assert len(bands) == 37
    missing = {username: sorted({"red", "yellow", "green"} - found) for username, found in bands.items() if len(found) < 3}
    assert missing == {}


def test_leads_receive_escalations(demo_engine):
    with demo_engine.connect() as connection:
        escalated_leads = connection.execute(text(
            "SELECT COUNT(DISTINCT a.recipient_id) FROM alerts a JOIN users u ON u.id = a.recipient_id"
            " WHERE u.role = 'regional_lead' AND a.kind = 'followup_escalation'"
        )).scalar_one()
        lead_east = connection.execute(text(
            "SELECT COUNT(*) FROM alerts a JOIN users u ON u.id = a.recipient_id WHERE u.username = 'lead_east'"
        )).scalar_one()

    assert escalated_leads >= 3
    assert lead_east >= 1


def test_scores_show_trends(demo_engine):
    with demo_engine.connect() as connection:
        rising, falling = connection.execute(text("SELECT SUM(trend > 0), SUM(trend < 0) FROM latest_scores")).one()

    assert rising > 0
    assert falling > 0
