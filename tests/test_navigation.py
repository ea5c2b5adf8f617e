"""The route table: which screens lie under a route, so back goes where a user expects."""

import uuid

from mobile import routes
from mobile.navigation import HOME_ROUTE, route_stack

ALERT = uuid.UUID("11111111-1111-4111-8111-111111111111")
CUSTOMER = uuid.UUID("22222222-2222-4222-8222-222222222222")


def stack_of(route: str) -> list[str]:
    routes.register()
    return [screen_route for screen_route, _spec, _params in route_stack(route)]


def test_customer_under_home():
    assert stack_of(f"/customers/{CUSTOMER}") == [HOME_ROUTE, f"/customers/{CUSTOMER}"]


def test_alert_customer_under_alert():
    route = f"/alerts/{ALERT}/customers/{CUSTOMER}"

    assert stack_of(route) == [HOME_ROUTE, "/alerts", f"/alerts/{ALERT}", route]


def test_unknown_route_shows_home():
    assert stack_of("/no/such/screen") == [HOME_ROUTE]


def test_query_string_ignored():
    assert stack_of(f"/customers/{CUSTOMER}?tab=visits") == [HOME_ROUTE, f"/customers/{CUSTOMER}"]
