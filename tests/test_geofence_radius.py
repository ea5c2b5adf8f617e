"""Per-customer geofence radius: the admin endpoint, its bounds, sync to the rep's device, and the server's re-check.

Runs against a real server on SQLite and PostgreSQL.
"""

import math
import uuid
from datetime import datetime

import httpx
import pytest

from core.geofence import Fix, GeofencePolicy, decide
from mobile.offline.visits import customer_site
from tests.conftest import login
from tests.devices import Device, next_rep
from tests.visits import Pusher, checkin_fields, flags_of, new_customer, point_at, server_visit, tap_moment


@pytest.fixture
def rep(api_server):
    return next_rep(api_server)


@pytest.fixture
def pusher(api_server, rep) -> Pusher:
    return Pusher(api_server, rep.username)


def _patch(client: httpx.Client, headers: dict, customer_id: str, body) -> httpx.Response:
    return client.patch(f"/api/customers/{customer_id}/geofence", json=body, headers=headers)


@pytest.mark.parametrize("radius_m", [50, 5000])
def test_radius_bounds_accepted(client, pusher, radius_m):
    customer_id = new_customer(pusher)

    response = _patch(client, login(client, "admin"), customer_id, {"radius_m": radius_m})

    assert response.status_code == 200, response.text
    assert response.json()["radius_m"] == radius_m
    assert response.json()["effective_radius_m"] == radius_m


@pytest.mark.parametrize("radius_m", [49.9, 5000.1, 0, -500, "很大"])
def test_radius_out_of_bounds_rejected(client, pusher, radius_m):
    customer_id = new_customer(pusher)

    response = _patch(client, login(client, "admin"), customer_id, {"radius_m": radius_m})

    assert response.status_code == 422
    assert "radius_m" in response.text


def test_radius_missing_rejected(client, pusher):
    customer_id = new_customer(pusher)

    response = _patch(client, login(client, "admin"), customer_id, {})

    assert response.status_code == 422
    assert "radius_m" in response.text


def test_radius_nan_rejected(client, pusher):
    customer_id = new_customer(pusher)
    headers = {**login(client, "admin"), "Content-Type": "application/json"}

    response = client.patch(f"/api/customers/{customer_id}/geofence", content='{"radius_m": NaN}', headers=headers)

    assert response.status_code == 422


def test_radius_needs_admin(client, pusher, rep):
    customer_id = new_customer(pusher)

    as_rep = _patch(client, login(client, rep.username), customer_id, {"radius_m": 1000})
    as_lead = _patch(client, login(client, "lead_east"), customer_id, {"radius_m": 1000})

    assert as_rep.status_code == 403
    assert "administrator" in as_rep.json()["detail"]
    assert as_lead.status_code == 403


def test_radius_unknown_customer(client):
    missing = uuid.uuid4()

    response = _patch(client, login(client, "admin"), str(missing), {"radius_m": 1000})

    assert response.status_code == 404
    assert str(missing) in response.json()["detail"]


def test_radius_null_restores_default(client, pusher):
    customer_id = new_customer(pusher)
    headers = login(client, "admin")
    _patch(client, headers, customer_id, {"radius_m": 1200})

    response = _patch(client, headers, customer_id, {"radius_m": None})

    assert response.status_code == 200
    assert response.json()["radius_m"] is None
    assert response.json()["effective_radius_m"] == 500


def test_radius_syncs_and_applies(api_server, client, pusher, rep, tmp_path):
    customer_id = new_customer(pusher)
    device = Device(api_server, rep, tmp_path)
    device.sync()
    assert customer_site(device.store, customer_id).radius_m is None

    response = _patch(client, login(client, "admin"), customer_id, {"radius_m": 1000})
    assert response.status_code == 200, response.text
    device.sync()

    site = customer_site(device.store, customer_id)
    assert site.radius_m == 1000
    # The device's rule with the synced radius unlocks at 800 m, as the server's re-check accepts it.
    fix_position = point_at(800)
    tap = tap_moment()
    fields = checkin_fields(customer_id, fix_position, tap)
    fix = Fix(fix_position[0], fix_position[1], 20.0, datetime.fromisoformat(fields["checkin_fix_at"]))
    local = decide(site.place, fix, now=tap, policy=GeofencePolicy(radius_m=site.radius_m))
    assert local.allowed
    assert math.isclose(local.distance_m, 800, abs_tol=0.5)
    visit_id, result = pusher.put("visits", fields)
    assert result["status"] == "applied", result
    assert server_visit(api_server, visit_id).geofence["radius_m"] == 1000
    assert flags_of(api_server, visit_id) == []
