"""Helpers for the health-score, lead and alert tests: customers created through sync, events, API calls."""

import uuid
from datetime import datetime, timedelta, timezone

import httpx

from tests.conftest import login


def push(http: httpx.Client, headers: dict, mutations: list[dict], client_id: str | None = None) -> dict:
    """Push mutations numbered 1, 2, ... from a new client id; every one must be applied."""
    client_id = client_id or str(uuid.uuid4())
    numbered = [{"id": number, **mutation} for number, mutation in enumerate(mutations, start=1)]
    response = http.post("/api/sync/push", json={"client_id": client_id, "mutations": numbered}, headers=headers)
    assert response.status_code == 200, response.text
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["applied"] * len(mutations), response.text
    return response.json()


def create_customer(http: httpx.Client, rep_headers: dict, name: str, industry: str = "", roles: tuple[str, ...] = ()) -> str:
    """Create a customer owned by the signed-in rep, with one contact per decision role, through a sync push."""
    customer_id = str(uuid.uuid4())
    mutations = [{"op": "put", "entity": "customers", "entity_id": customer_id, "fields": {"name": name, "industry": industry}}]
    for number, role in enumerate(roles):
        mutations.append({
            "op": "put", "entity": "contacts", "entity_id": str(uuid.uuid4()),
            "fields": {"customer_id": customer_id, "name": f"联系人{number}", "decision_role": role},
        })
    push(http, rep_headers, mutations)
    return customer_id


def event(customer_id: str, kind: str, occurred_at: datetime, **extra) -> dict:
    return {"customer_id": customer_id, "kind": kind, "occurred_at": occurred_at.isoformat(), **extra}


def record_events(http: httpx.Client, admin_headers: dict, events: list[dict]) -> dict:
    response = http.post("/api/events", json={"events": events}, headers=admin_headers)
    assert response.status_code == 200, response.text
    return response.json()


def score(http: httpx.Client, headers: dict, customer_id: str) -> dict:
    response = http.get(f"/api/scores/{customer_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def perfect_events(customer_id: str, now: datetime, downloads: int = 4) -> list[dict]:
    """Events that give every event-based indicator the value 1."""
    recent = now - timedelta(seconds=30)
    events = [event(customer_id, "document_download", recent) for _ in range(downloads)]
    events += [
        event(customer_id, "proposal_sent", now - timedelta(days=3), ref="P1"),
        event(customer_id, "proposal_open", now - timedelta(days=2), ref="P1"),
        event(customer_id, "meeting_invited", now - timedelta(days=5), ref="M1"),
        event(customer_id, "meeting_attended", now - timedelta(days=4), ref="M1"),
        event(customer_id, "requirement_confirmed", now - timedelta(days=6), value=1.0),
        event(customer_id, "competitor_sheet_submitted", now - timedelta(days=8), due_at=(now - timedelta(days=7)).isoformat()),
        event(customer_id, "objection_raised", now - timedelta(days=10), ref="O1"),
        event(customer_id, "objection_resolved", now - timedelta(days=8), ref="O1"),
    ]
    return events


def green_customer(http: httpx.Client, rep_headers: dict, admin_headers: dict, name: str) -> str:
    """A customer whose every indicator is 1: score 100, green."""
    customer_id = create_customer(http, rep_headers, name, industry="汽车零部件", roles=("technical", "purchasing", "finance"))
    response = http.put(f"/api/customer-profiles/{customer_id}", json={"purchase_band": "over_10m"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    record_events(http, admin_headers, perfect_events(customer_id, datetime.now(timezone.utc)))
    return customer_id


def headers_for(http: httpx.Client, username: str) -> dict:
    return login(http, username)
