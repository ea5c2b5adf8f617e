"""Sign-in, bearer tokens and bad requests against a real server (SQLite and PostgreSQL)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlmodel import Session, select

from server.models import Role, User
from server.security import issue_token
from tests.conftest import login
from tests.servers import ApiServer


def _user(server: ApiServer, role: Role) -> User:
    with Session(server.engine) as session:
        return session.exec(select(User).where(User.role == role).order_by(User.username)).first()


def test_login_by_username_returns_token(client: httpx.Client, api_server: ApiServer):
    rep = _user(api_server, Role.REP)

    response = client.post("/api/auth/login", json={"login": rep.username, "password": "demo1234"})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == rep.username
    assert body["user"]["role"] == "rep"
    assert "password_hash" not in body["user"]


def test_login_by_phone_number(client: httpx.Client, api_server: ApiServer):
    rep = _user(api_server, Role.REP)

    headers = login(client, rep.phone)
    me = client.get("/api/auth/me", headers=headers)

    assert me.status_code == 200
    assert me.json()["id"] == str(rep.id)


def test_wrong_password_rejected(client: httpx.Client, api_server: ApiServer):
    rep = _user(api_server, Role.REP)

    response = client.post("/api/auth/login", json={"login": rep.username, "password": "wrong-password"})

    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username/phone or password."


def test_unknown_user_gets_same_answer(client: httpx.Client):
    response = client.post("/api/auth/login", json={"login": "no-such-user", "password": "demo1234"})

    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username/phone or password."


def test_expired_token_rejected(client: httpx.Client, api_server: ApiServer):
    rep = _user(api_server, Role.REP)
    with Session(api_server.engine) as session:
        token, _ = issue_token(session, rep.id, ttl=timedelta(seconds=-1))

    response = client.get("/api/customers", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_valid_until_expiry(client: httpx.Client, api_server: ApiServer):
    rep = _user(api_server, Role.REP)
    with Session(api_server.engine) as session:
        token, _ = issue_token(session, rep.id, ttl=timedelta(minutes=1))

    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200


def test_malformed_tokens_rejected(client: httpx.Client):
    for header in ("Bearer ???", "Bearer short", "Bearer " + "x" * 300):
        response = client.get("/api/customers", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "sign in" in response.json()["detail"]


def test_unknown_token_rejected(client: httpx.Client):
    response = client.get("/api/customers", headers={"Authorization": "Bearer " + "A" * 43})

    assert response.status_code == 401
    assert "Unknown" in response.json()["detail"]


def test_missing_token_rejected(client: httpx.Client):
    response = client.get("/api/customers")

    assert response.status_code == 401
    assert "Missing bearer token" in response.json()["detail"]


def test_malformed_json_is_400(client: httpx.Client):
    response = client.post("/api/auth/login", content=b'{"login": "rep01", ', headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON body")


def test_missing_field_named(client: httpx.Client):
    response = client.post("/api/auth/login", json={"login": "rep01"})

    assert response.status_code == 422
    assert "missing required field 'password'" in response.json()["detail"]


def test_unknown_field_named(client: httpx.Client):
    response = client.post("/api/auth/login", json={"login": "rep01", "password": "demo1234", "pasword": "x"})

    assert response.status_code == 422
    assert "unknown field 'pasword'" in response.json()["detail"]


def test_invalid_query_value_named(client: httpx.Client, api_server: ApiServer):
    headers = login(client, _user(api_server, Role.REP).username)

    response = client.get("/api/customers", params={"limit": 0}, headers=headers)

    assert response.status_code == 422
    assert "'query.limit'" in response.json()["detail"]


def test_invalid_customer_id_is_422(client: httpx.Client, api_server: ApiServer):
    headers = login(client, _user(api_server, Role.REP).username)

    response = client.get("/api/customers/not-a-uuid", headers=headers)

    assert response.status_code == 422
    assert "customer_id" in response.json()["detail"]


def test_openapi_docs_served(client: httpx.Client):
    assert client.get("/docs").status_code == 200
    assert "/api/auth/login" in client.get("/openapi.json").json()["paths"]


def test_concurrent_sign_ins_during_writes(api_server: ApiServer):
    """Sign-ins and sync pushes at the same time all succeed: none fails with "database is locked"."""
    reps = [f"rep{number:02d}" for number in range(1, 13)]
    writer_headers = {}
    with httpx.Client(base_url=api_server.base_url, timeout=60) as http:
        writer_headers = login(http, "rep13")

    def push_followups(round_number: int) -> int:
        with httpx.Client(base_url=api_server.base_url, timeout=60) as http:
            customers = http.get("/api/customers", params={"limit": 1}, headers=writer_headers).json()["items"]
            mutation = {
                "id": 1, "op": "put", "entity": "followups", "entity_id": str(uuid.uuid4()),
                "fields": {"customer_id": customers[0]["id"], "text": f"并发测试 {round_number}", "captured_at": "2026-12-05T09:00:00+08:00"},
            }
            response = http.post("/api/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": [mutation]}, headers=writer_headers)
            return response.status_code

    def sign_in(username: str) -> int:
        with httpx.Client(base_url=api_server.base_url, timeout=60) as http:
            return http.post("/api/auth/login", json={"login": username, "password": "demo1234"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        pushes = [pool.submit(push_followups, number) for number in range(12)]
        sign_ins = [pool.submit(sign_in, username) for username in reps]
        push_statuses = [future.result() for future in pushes]
        sign_in_statuses = [future.result() for future in sign_ins]

    assert sign_in_statuses == [200] * len(reps)
    assert push_statuses == [200] * 12
