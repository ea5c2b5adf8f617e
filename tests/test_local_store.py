"""The device's local store on its own: schema upgrades and values it must refuse."""

import math
import sqlite3

import pytest

from core.wire import SYNCED_FIELDS
from mobile.offline.store import LocalStore


def test_non_finite_number_refused(tmp_path):
    store = LocalStore(tmp_path / "local.sqlite3")

    with pytest.raises(ValueError, match="latitude"):
        store.put("customers", {"name": "坐标异常", "latitude": math.nan})

    assert store.pending_count() == 0
    assert store.query("SELECT COUNT(*) AS n FROM customers")[0]["n"] == 0


def test_older_schema_gains_columns_and_redownloads(tmp_path):
    path = tmp_path / "local.sqlite3"
    store = LocalStore(path)
    store.apply_pull_page(
        [{"seq": 1, "entity": "customers", "id": "c1", "op": "put", "row": {"id": "c1", "version": 1, "name": "旧客户"}}],
        cursor=1, last_mutation_id=None,
    )
    store.put("followups", {"customer_id": "c1", "text": "升级前的跟进"})
    store.close()
    # An older app version had no industry column.
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE customers DROP COLUMN industry")

    upgraded = LocalStore(path)

    columns = {row["name"] for row in upgraded.query("PRAGMA table_info(customers)")}
    assert set(SYNCED_FIELDS["customers"]) <= columns
    assert upgraded.cursor == 0
    assert upgraded.get_meta("needs_rebase") == "1"
    assert upgraded.pending_count() == 1
