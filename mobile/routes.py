"""Registers every screen's route with mobile.navigation.

Features add their screens here: one RouteSpec per screen, and a home screen
factory for a role whose home screen they provide.
"""

import uuid

from mobile.navigation import CUSTOMER_SECTIONS, HOME_ACTIONS, HOME_SCREENS, ROUTES, RouteSpec
from mobile.views.alerts import ALERTS_ROUTE, AlertDetailScreen, AlertInboxScreen, alert_customer_route, alert_route, alerts_action
from mobile.views.battle_map import BattleMapScreen
from mobile.views.content import ClauseLibraryScreen, InterventionChecklistScreen
from mobile.views.customer_detail import CustomerDetailScreen, customer_route
from mobile.views.clerk_home import ClerkHomeScreen
from mobile.views.member_profile import MemberProfileScreen
from mobile.views.member_register import MemberRegisterScreen
from mobile.views.members import MEMBER_LIST_ROUTE, MemberListScreen
from mobile.views import checkin, checklist, flags
from mobile.views.score import score_section


def _customer_detail(shell, params: dict[str, str]) -> CustomerDetailScreen:
    return CustomerDetailScreen(shell, uuid.UUID(params["customer_id"]))


def _clause_library(shell, params: dict[str, str]) -> ClauseLibraryScreen:
    return ClauseLibraryScreen(shell, uuid.UUID(params["customer_id"]))


def _intervention_checklist(shell, params: dict[str, str]) -> InterventionChecklistScreen:
    return InterventionChecklistScreen(shell, uuid.UUID(params["customer_id"]))


def _alert_customer(shell, params: dict[str, str]) -> CustomerDetailScreen:
    alert_id, customer_id = uuid.UUID(params["alert_id"]), uuid.UUID(params["customer_id"])
    return CustomerDetailScreen(shell, customer_id, route=alert_customer_route(alert_id, customer_id))


def _alert_detail(shell, params: dict[str, str]) -> AlertDetailScreen:
    return AlertDetailScreen(shell, uuid.UUID(params["alert_id"]))


def _customer_parent(params: dict[str, str]) -> str:
    return customer_route(uuid.UUID(params["customer_id"]))


def _member_profile(shell, params: dict[str, str]) -> MemberProfileScreen:
    return MemberProfileScreen(shell, str(uuid.UUID(params["member_id"])))


def _member_register(shell, params: dict[str, str]) -> MemberRegisterScreen:
    if params["source"] not in ("camera", "wedge", "typed", "list"):
        raise ValueError(f"unknown member code source {params['source']!r}")
    return MemberRegisterScreen(shell, params["member_code"], params["source"])


def register() -> None:
    """Fill the route table once; later calls change nothing."""
    if ROUTES:
        return
    ROUTES.extend([
        RouteSpec("/customers/:customer_id", _customer_detail),
        RouteSpec(MEMBER_LIST_ROUTE, lambda shell, _params: MemberListScreen(shell)),
        RouteSpec("/members/register/:member_code/:source", _member_register),
        RouteSpec("/members/:member_id", _member_profile),
        RouteSpec("/customers/:customer_id/clauses", _clause_library, parent=_customer_parent),
        RouteSpec("/customers/:customer_id/intervention", _intervention_checklist, parent=_customer_parent),
        RouteSpec(ALERTS_ROUTE, lambda shell, _params: AlertInboxScreen(shell)),
        RouteSpec(f"{ALERTS_ROUTE}/:alert_id", _alert_detail, parent=lambda _params: ALERTS_ROUTE),
        RouteSpec(
            f"{ALERTS_ROUTE}/:alert_id/customers/:customer_id",
            _alert_customer,
            parent=lambda params: alert_route(uuid.UUID(params["alert_id"])),
        ),
        checkin.ROUTE,
        checklist.ROUTE,
        flags.ROUTE,
    ])
    HOME_SCREENS.update({
        "clerk": ClerkHomeScreen,
        "store_manager": ClerkHomeScreen,
        "rep": BattleMapScreen,
    })
    # Admins receive the escalations of regions without a lead.
    for role in ("rep", "regional_lead", "admin"):
        HOME_ACTIONS.setdefault(role, []).append(alerts_action)
    CUSTOMER_SECTIONS.append(score_section)
    # First of the extra sections: the check-in button comes right after the follow-ups.
    CUSTOMER_SECTIONS.insert(0, checkin.customer_section)
    HOME_ACTIONS.setdefault("regional_lead", []).append(flags.flags_action)
