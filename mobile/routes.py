"""Registers every screen's route with mobile.navigation.

Features add their screens here: one RouteSpec per screen, and a home screen
factory for a role whose home screen they provide.
"""

import uuid

from mobile.navigation import HOME_SCREENS, ROUTES, RouteSpec
from mobile.views.customer_detail import CustomerDetailScreen
from mobile.views.members import MemberListScreen


def _customer_detail(shell, params: dict[str, str]) -> CustomerDetailScreen:
    return CustomerDetailScreen(shell, uuid.UUID(params["customer_id"]))


def register() -> None:
    """Fill the route table once; later calls change nothing."""
    if ROUTES:
        return
    ROUTES.extend([
        RouteSpec("/customers/:customer_id", _customer_detail),
    ])
    HOME_SCREENS.update({
        "clerk": MemberListScreen,
        "store_manager": MemberListScreen,
    })
