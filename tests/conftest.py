"""Shared fixtures: real API servers on SQLite and PostgreSQL, seeded with the demo organisation."""

import os

import httpx
import pytest

from server.seed.demo import DEMO_PASSWORD
from tests.servers import ApiServer, postgres_reachable, start_api_server, stop_api_server

IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_postgres() -> None:
    reason = postgres_reachable()
    if reason is None:
        return
    message = f"PostgreSQL test server not reachable ({reason}); set TEST_POSTGRES_URL or start PostgreSQL on 127.0.0.1:5432"
    if IN_CI:
        pytest.fail(f"{message}. PostgreSQL tests are required when CI=true.")
    pytest.skip(message)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_server(request, tmp_path_factory) -> ApiServer:
    """A running API server with the demo organisation, once per backend and test worker."""
    if request.param == "postgres":
        _require_postgres()
    server = start_api_server(request.param, tmp_path_factory.mktemp(f"api-{request.param}"))
    yield server
    stop_api_server(server)


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory) -> ApiServer:
    """A running API server on SQLite with the demo organisation (for browser tests)."""
    server = start_api_server("sqlite", tmp_path_factory.mktemp("api-e2e"))
    yield server
    stop_api_server(server)


@pytest.fixture
def client(api_server: ApiServer) -> httpx.Client:
    with httpx.Client(base_url=api_server.base_url, timeout=30) as http:
        yield http


def login(http: httpx.Client, login_name: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Sign in and return the Authorization header for the token."""
    response = http.post("/api/auth/login", json={"login": login_name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
