"""Route table of the app: which screen a route shows and which screen lies under it.

A route names one screen. Its parent route names the screen below it on the view
stack, so the back button (and the browser's) goes from a checklist to the visit's
customer and then to the home screen. Each feature adds its screens to ROUTES and, for a
role whose home screen it provides, to HOME_SCREENS.

Screens are objects with a `view` (an ft.View whose route is the screen's route)
and an async `load()` that reads their data. The app calls `load()` once when the
screen is created, and again after a sync brings new data while it is shown.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import flet as ft

HOME_ROUTE = "/"


class Screen(Protocol):
    view: ft.View

    async def load(self) -> None: ...


@dataclass(frozen=True)
class RouteSpec:
    """One kind of screen: its route template, how to build it and what lies under it."""

    # Flet route template such as "/customers/:customer_id".
    template: str
    # Builds the screen from the shell and the route's parameters. Raises ValueError
    # for parameters it cannot use (the route then shows the home screen).
    build: Callable[..., Screen]
    # Route of the screen below this one, from the same parameters.
    parent: Callable[[dict[str, str]], str] = lambda _params: HOME_ROUTE


# Filled by mobile.routes, which imports every feature's screens.
ROUTES: list[RouteSpec] = []
# Role name to a factory of that role's home screen; other roles get the customer list.
HOME_SCREENS: dict[str, Callable[..., Screen]] = {}
# Role name to factories of extra home app bar buttons, each called with the shell.
HOME_ACTIONS: dict[str, list[Callable[..., ft.Control]]] = {}
# Factories of extra customer detail sections, each called with the shell and the
# CustomerDetail, returning controls shown under the overview card.
CUSTOMER_SECTIONS: list[Callable[..., list[ft.Control]]] = []


def match(route: str) -> tuple[RouteSpec, dict[str, str]] | None:
    """Return the route spec matching `route` (query string ignored) and its parameters."""
    path = route.split("?", 1)[0]
    for spec in ROUTES:
        template = ft.TemplateRoute(path)
        if template.match(spec.template):
            names = [part[1:] for part in spec.template.split("/") if part.startswith(":")]
            return spec, {name: getattr(template, name) for name in names}
    return None


def route_stack(route: str, max_depth: int = 8) -> list[tuple[str, RouteSpec | None, dict[str, str]]]:
    """Return the routes from the home screen up to `route`, each with its spec and parameters.

    The home route has spec None. An unknown route resolves to the home screen alone.
    """
    stack: list[tuple[str, RouteSpec | None, dict[str, str]]] = []
    current = route.split("?", 1)[0] or HOME_ROUTE
    while current != HOME_ROUTE and len(stack) < max_depth:
        found = match(current)
        if found is None:
            return [(HOME_ROUTE, None, {})]
        spec, params = found
        stack.append((current, spec, params))
        current = spec.parent(params)
    stack.append((HOME_ROUTE, None, {}))
    stack.reverse()
    return stack

