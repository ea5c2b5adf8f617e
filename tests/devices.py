"""Simulated devices for sync tests: the real client code (local store, sync client) against a real server."""

import itertools
import json
from pathlib import Path

import httpx
from sqlmodel import Session, select

from core.wire import SYNCED_FIELDS
from mobile.offline.store import LocalStore
from mobile.offline.sync import SyncClient, SyncReport
from server.models import Role, User
from server.seed.demo import DEMO_PASSWORD
from server.sync.entities import ENTITY_MODELS, NameCache, row_to_wire
from server.sync.pull import audience_filter
from tests.servers import ApiServer, run_coroutine

_rep_numbers = itertools.count()


def sign_in(base_url: str, login_name: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/login", json={"login": login_name, "password": DEMO_PASSWORD}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def next_rep(server: ApiServer, skip: int = 0) -> User:
    """A rep no earlier test in this process used, so tests on a shared server do not interfere."""
    with Session(server.engine) as session:
        reps = session.exec(select(User).where(User.role == Role.REP).order_by(User.username)).all()
    return reps[next(_rep_numbers) % len(reps)]


class Device:
    """One installation of the app: its own local database and client id."""

    def __init__(self, server: ApiServer, user: User, directory: Path, base_url: str | None = None) -> None:
        self.server = server
        self.user = user
        self.base_url = base_url or server.base_url
        self.path = directory / f"{user.username}-{id(self)}.sqlite3"
        self.store = LocalStore(self.path)
        self.token = sign_in(server.base_url, user.username)
        self.before_page_commit = None

    def sync(self, pull_limit: int = 2000) -> SyncReport:
        async def run() -> SyncReport:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
                client = SyncClient(self.store, http, self.token, pull_limit=pull_limit)
                client.before_page_commit = self.before_page_commit
                return await client.sync_once()

        return run_coroutine(run)

    def restart(self) -> None:
        """Simulate the app being killed and started again on the same local database."""
        self.store.close()
        self.store = LocalStore(self.path)

    def rows(self, entity: str) -> dict[str, dict]:
        return {row["id"]: row for row in (dict(r) for r in self.store.query(f"SELECT * FROM {entity}"))}


def server_rows_in_scope(server: ApiServer, user: User, entity: str) -> dict[str, dict]:
    """The live rows of `entity` the server sends `user`, as the wire has them."""
    from server.models import SyncChange

    model = ENTITY_MODELS[entity]
    with Session(server.engine) as session:
        ids = session.exec(
            select(SyncChange.entity_id).where(SyncChange.entity == entity, SyncChange.op == "put", audience_filter(user))
        ).all()
        rows = {}
        for start in range(0, len(ids), 500):
            for row in session.exec(select(model).where(model.id.in_(ids[start:start + 500]))).all():
                if not row.deleted:
                    rows[str(row.id)] = row_to_wire(entity, row, NameCache(session))
    return rows


def assert_device_matches_server(device: Device, entities=("customers", "contacts", "visits", "followups")) -> None:
    """Every synced row on the device equals the server's, and the device has every row in its scope."""
    for entity in entities:
        server_rows = server_rows_in_scope(device.server, device.user, entity)
        local_rows = device.rows(entity)
        assert set(local_rows) == set(server_rows), f"{entity}: device and server hold different rows"
        for row_id, server_row in server_rows.items():
            local = local_rows[row_id]
            assert local["version"] == server_row["version"], f"{entity} {row_id}: version differs"
            for name in SYNCED_FIELDS[entity]:
                assert _same(local[name], server_row[name]), f"{entity} {row_id}.{name}: {local[name]!r} != {server_row[name]!r}"


def _same(local, remote) -> bool:
    if isinstance(remote, float) and local is not None:
        return abs(float(local) - remote) < 1e-9
    if isinstance(remote, dict | list) and isinstance(local, str):
        # The local store keeps JSON objects and lists as JSON text.
        return json.loads(local) == remote
    return local == remote
