"""Check-in screen: the live distance to the customer and the "arrived" button the geofence rule unlocks.

The screen reads a fresh fix when it opens and every [geofence] refresh_interval_s while it
is shown (and on "refresh location"), applies core.geofence.decide to it, and keeps
"arrived" disabled with the reasons shown until the rule passes. Without a fix it shows
the location state (permission, services off, timeout) with what to do about it.

"Arrived" writes one visit with the fix and the tap time to the local store. The visit id is
chosen when the screen opens, so repeated taps write one visit; the checklist opens next.
"""

import asyncio
import logging
import uuid
from datetime import datetime, timezone

import flet as ft

from core.geofence import Decision, GeofencePolicy, Reason, decide
from mobile.api import CustomerDetail
from mobile.location import LocationReading, LocationSource, LocationState, location_source
from mobile.navigation import RouteSpec
from mobile.offline import visits
from mobile.views import FORM_MAX_WIDTH, Shell, fit_view_width, is_shown, screen_body
from mobile.views.customer_detail import customer_route

log = logging.getLogger(__name__)

VISIT_TYPES = ("routine", "demo", "follow_up", "service")
NEARBY_LIMIT = 5
# The visit each open checklist belongs to, by visit id, so the checklist's back button leads to that customer.
_VISIT_CUSTOMERS: dict[str, str] = {}


def checkin_route(customer_id: uuid.UUID | str) -> str:
    return f"/customers/{customer_id}/checkin"


def checklist_route(visit_id: uuid.UUID | str) -> str:
    return f"/visits/{visit_id}/checklist"


def remember_visit_customer(visit_id: str, customer_id: str) -> None:
    _VISIT_CUSTOMERS[str(visit_id)] = str(customer_id)


def checklist_parent(params: dict[str, str]) -> str:
    """Return the customer detail under a visit's checklist, or the home screen when the visit is unknown here."""
    customer_id = _VISIT_CUSTOMERS.get(params.get("visit_id", ""))
    return customer_route(customer_id) if customer_id else "/"


async def reload_screen(shell: Shell, route: str) -> None:
    """Load the screen of `route` again if it is on the view stack (the customer detail after a visit changed)."""
    screen = shell.screen(route) if hasattr(shell, "screen") else None
    if screen is not None:
        await screen.load()


def reason_text(tr, reason: Reason, decision: Decision) -> str:
    """Return the lock reason as the check-in screen shows it, with its numbers filled in."""
    values = {
        "distance": _metres(decision.distance_m),
        "radius": _metres(decision.radius_m),
        "accuracy": _metres(decision.accuracy_m),
        "max_accuracy": _metres(decision.max_accuracy_m),
        "age": _metres(decision.fix_age_s),
        "coord_system": decision.coord_system or "",
    }
    return tr.t(f"checkin.reason.{reason.value}", **values)


def _metres(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


class CheckinScreen:
    def __init__(self, shell: Shell, customer_id: uuid.UUID, source: LocationSource | None = None) -> None:
        self._shell = shell
        self._customer_id = str(customer_id)
        self._source = source
        # One id per screen: every tap of "arrived" writes this visit.
        self._visit_id = visits.new_visit_id()
        self._site: visits.CustomerSite | None = None
        self._reading: LocationReading | None = None
        self._decision: Decision | None = None
        self._refresh_task: asyncio.Task | None = None
        self._checking_in = False
        self._checked_in = False
        # Set when the user asked for permission here and it was still denied: the platform
        # (a browser, or Android after two denials) no longer prompts, so only settings help.
        self._permission_refused = False
        tr = shell.tr

        self._build_controls(tr)
        self.body = screen_body(spacing=12)
        self.view = ft.View(
            route=checkin_route(customer_id),
            appbar=ft.AppBar(title=ft.Text(tr.t("checkin.title"))),
            controls=[self.body],
            data=FORM_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    def _build_controls(self, tr) -> None:
        self._name = ft.Text("", size=18, weight=ft.FontWeight.W_600)
        self._distance = ft.Text(tr.t("checkin.locating"), size=28, weight=ft.FontWeight.W_700)
        self._facts = ft.Text("", size=13, color=ft.Colors.ON_SURFACE_VARIANT)
        self._status_icon = ft.Icon(ft.Icons.LOCK_OUTLINE, color=ft.Colors.ERROR)
        self._status_title = ft.Text(tr.t("checkin.locked"), weight=ft.FontWeight.W_600, color=ft.Colors.ERROR)
        self._reasons = ft.Column([], spacing=4)
        self._state_body = ft.Text("", size=13, visible=False)
        self._state_action = ft.OutlinedButton("", visible=False, on_click=self._on_state_action)
        self._notice = ft.Text("", size=13, visible=False)
        self._visit_type = ft.Dropdown(
            label=tr.t("checkin.visit_type"),
            value=visits.DEFAULT_VISIT_TYPE,
            options=[ft.DropdownOption(key=code, text=tr.label("visit_type", code)) for code in VISIT_TYPES],
            expand=True,
        )
        self._arrived = ft.FilledButton(
            tr.t("checkin.arrived"), icon=ft.Icons.WHERE_TO_VOTE, disabled=True, on_click=self._on_arrived,
            height=52, expand=True,
        )
        self._refresh = ft.OutlinedButton(tr.t("checkin.refresh"), icon=ft.Icons.MY_LOCATION, on_click=self._on_refresh, height=52)
        self._nearby = ft.Column([], spacing=4)

    # ---- Loading ------------------------------------------------------------------------------

    async def load(self) -> None:
        store = self._shell.store
        tr = self._shell.tr
        self._site = await asyncio.to_thread(visits.customer_site, store, self._customer_id) if store else None
        if not is_shown(self._shell.page, self.view):
            return
        if self._site is None:
            self.body.controls = [_notice_panel(ft.Icons.CLOUD_OFF, tr.t("checkin.customer_missing"))]
            self.body.update()
            return

        self._name.value = self._site.name
        self.body.controls = self._layout()
        self.view.update()
        if self._refresh_task is None:
            if self._source is None:
                self._source = location_source(self._shell.page, self._shell.config.geofence)
            self._refresh_task = asyncio.create_task(self._refresh_while_shown())

    def _layout(self) -> list[ft.Control]:
        tr = self._shell.tr
        card = ft.Card(
            ft.Container(
                ft.Column([self._name, self._distance, self._facts], spacing=6),
                padding=16,
            ),
            margin=0,
        )
        status = ft.Container(
            ft.Column(
                [
                    ft.Row([self._status_icon, ft.Container(self._status_title, expand=True)], spacing=8),
                    self._reasons,
                    self._state_body,
                    self._state_action,
                ],
                spacing=8,
            ),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=12,
        )
        return [
            card,
            status,
            ft.Row([self._visit_type]),
            ft.Row([self._refresh, self._arrived], spacing=12),
            self._notice,
            self._nearby,
        ]

    async def _refresh_while_shown(self) -> None:
        """Read a fix now and every refresh_interval_s until the screen leaves the view stack."""
        interval = self._shell.config.geofence.refresh_interval_s
        try:
            while is_shown(self._shell.page, self.view) and not self._checked_in:
                await self._refresh_fix()
                await asyncio.sleep(interval)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed refresh must not leave the screen stuck silently
            log.exception("check-in fix refresh stopped for customer %s", self._customer_id)
        finally:
            self._refresh_task = None

    async def _refresh_fix(self) -> None:
        reading = await self._source.read()
        if not is_shown(self._shell.page, self.view):
            return
        if reading.state == LocationState.PERMISSION_DENIED and self._permission_refused:
            reading = LocationReading(LocationState.PERMISSION_DENIED_FOREVER, detail=reading.detail)
        self._reading = reading
        if reading.state != LocationState.FIX:
            log.info("check-in location state %s for customer %s: %s", reading.state.value, self._customer_id, reading.detail)
        await self._evaluate()

    async def _evaluate(self) -> None:
        """Apply the geofence rule to the latest fix and show the outcome."""
        site = self._site
        reading = self._reading
        radius = site.radius_m or self._shell.config.geofence.default_radius_m
        fix = reading.fix if reading is not None and reading.has_fix else None
        self._decision = decide(site.place, fix, datetime.now(timezone.utc), GeofencePolicy(radius_m=radius))
        nearby = []
        if fix is not None and self._shell.store is not None:
            nearby = await asyncio.to_thread(
                visits.nearby_customers, self._shell.store, fix.latitude, fix.longitude, radius, NEARBY_LIMIT + 1,
            )
        if is_shown(self._shell.page, self.view):
            self._show(nearby)

    # ---- Rendering ----------------------------------------------------------------------------

    def _show(self, nearby: list[visits.NearbyCustomer]) -> None:
        tr = self._shell.tr
        decision = self._decision
        reading = self._reading
        state = reading.state if reading is not None else LocationState.NO_FIX

        self._distance.value = (
            tr.t("checkin.distance", distance=_metres(decision.distance_m)) if decision.distance_m is not None
            else tr.t(f"checkin.state.{state.value}") if state != LocationState.FIX else tr.t("checkin.reason.no_fix")
        )
        facts = [tr.t("checkin.radius", radius=_metres(decision.radius_m))]
        if decision.accuracy_m is not None:
            facts.append(tr.t("checkin.accuracy", accuracy=_metres(decision.accuracy_m)))
        if reading is not None and reading.fix is not None and reading.fix.timestamp is not None:
            facts.append(tr.t("checkin.fix_time", time=tr.format_time(reading.fix.timestamp, with_date=False)))
        self._facts.value = " · ".join(facts)

        self._show_lock(decision, state)
        self._arrived.disabled = not decision.allowed or self._checking_in or self._checked_in
        self._show_nearby(nearby)
        self.view.update()

    def _show_lock(self, decision: Decision, state: LocationState) -> None:
        tr = self._shell.tr
        if decision.allowed:
            self._status_icon.icon, self._status_icon.color = ft.Icons.LOCK_OPEN, ft.Colors.PRIMARY
            self._status_title.value, self._status_title.color = tr.t("checkin.unlocked"), ft.Colors.PRIMARY
        else:
            self._status_icon.icon, self._status_icon.color = ft.Icons.LOCK_OUTLINE, ft.Colors.ERROR
            self._status_title.value, self._status_title.color = tr.t("checkin.locked"), ft.Colors.ERROR

        no_fix_state = state != LocationState.FIX
        if no_fix_state:
            # The location state explains the missing fix better than the rule's "no fix".
            reasons = [tr.t(f"checkin.state.{state.value}")]
        else:
            reasons = [reason_text(tr, reason, decision) for reason in decision.reasons]
        self._reasons.controls = [
            ft.Text(f"• {text}", color=ft.Colors.ERROR, size=14) for text in reasons
        ]

        body_key = f"checkin.state.{state.value}.body"
        self._state_body.visible = no_fix_state
        if no_fix_state:
            self._state_body.value = tr.t(body_key, seconds=f"{self._shell.config.geofence.fix_timeout_s:.0f}")
        action_states = (LocationState.PERMISSION_DENIED, LocationState.PERMISSION_DENIED_FOREVER, LocationState.SERVICES_OFF)
        self._state_action.visible = state in action_states
        if state in action_states:
            self._state_action.content = tr.t(f"checkin.state.{state.value}.action")
            self._state_action.data = state

    def _show_nearby(self, nearby: list[visits.NearbyCustomer]) -> None:
        tr = self._shell.tr
        others = [customer for customer in nearby if customer.id != self._customer_id][:NEARBY_LIMIT]
        if not others:
            self._nearby.controls = []
            return
        rows: list[ft.Control] = [ft.Text(tr.t("checkin.nearby"), size=14, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY)]
        for customer in others:
            rows.append(ft.ListTile(
                title=ft.Text(customer.name, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
                trailing=ft.Text(tr.t("checkin.nearby_distance", distance=_metres(customer.distance_m)), size=12),
                dense=True,
                on_click=self._open_nearby(customer.id),
            ))
        self._nearby.controls = rows

    def _open_nearby(self, customer_id: str):
        async def handler(_event: ft.Event) -> None:
            await self._shell.go(checkin_route(customer_id))

        return handler

    def _show_notice(self, text: str, color: str) -> None:
        self._notice.value = text
        self._notice.color = color
        self._notice.visible = True

    # ---- Events -------------------------------------------------------------------------------

    async def _on_refresh(self, _event: ft.Event) -> None:
        if self._source is None or self._site is None:
            return
        self._distance.value = self._shell.tr.t("checkin.locating")
        self._distance.update()
        await self._refresh_fix()

    async def _on_state_action(self, _event: ft.Event) -> None:
        state = self._state_action.data
        tr = self._shell.tr
        if state == LocationState.PERMISSION_DENIED:
            denial = await self._source.request_permission()
            self._permission_refused = denial is not None
            await self._refresh_fix()
            return
        opened = await self._source.open_settings(state)
        if not opened:
            self._show_notice(tr.t("checkin.settings_unavailable"), ft.Colors.ON_SURFACE_VARIANT)
            self.view.update()

    async def _on_arrived(self, _event: ft.Event) -> None:
        if self._checking_in:
            return
        self._checking_in = True
        self._arrived.disabled = True
        self._arrived.update()
        try:
            await self._check_in()
        finally:
            self._checking_in = False

    async def _check_in(self) -> None:
        tr = self._shell.tr
        shell = self._shell
        captured_at = datetime.now(timezone.utc)
        # The fix may have aged since it was shown: the rule decides again at the tap.
        await self._evaluate()
        if not self._decision.allowed:
            return

        visit_type = self._visit_type.value or visits.DEFAULT_VISIT_TYPE
        store = shell.store
        template = await asyncio.to_thread(visits.active_template, store, visit_type)
        written = await asyncio.to_thread(
            visits.record_checkin, store, self._visit_id, self._customer_id, str(shell.user.id), visit_type,
            self._reading.fix, captured_at, template.id if template else None,
        )
        self._checked_in = True
        log.info(
            "checked in visit=%s customer=%s distance_m=%.0f accuracy_m=%s written=%s",
            self._visit_id, self._customer_id, self._decision.distance_m, self._decision.accuracy_m, written,
        )
        self._show_notice(tr.t("checkin.saved" if written else "checkin.already"), ft.Colors.PRIMARY)
        self.view.update()
        remember_visit_customer(self._visit_id, self._customer_id)
        await shell.go(checklist_route(self._visit_id))
        await reload_screen(shell, customer_route(self._customer_id))


def _notice_panel(icon: ft.IconData, text: str) -> ft.Control:
    return ft.Container(
        ft.Column(
            [ft.Icon(icon, size=40, color=ft.Colors.ERROR), ft.Text(text, text_align=ft.TextAlign.CENTER)],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            spacing=12,
        ),
        padding=24,
        alignment=ft.Alignment.CENTER,
    )


# ---- Registration ---------------------------------------------------------------------------

def _build(shell: Shell, params: dict[str, str]) -> CheckinScreen:
    return CheckinScreen(shell, uuid.UUID(params["customer_id"]))


ROUTE = RouteSpec(checkin_route(":customer_id"), _build, parent=lambda params: customer_route(params["customer_id"]))


def customer_section(shell: Shell, customer: CustomerDetail) -> list[ft.Control]:
    """Build the customer detail's check-in button; only reps check in."""
    if shell.user is None or shell.user.role != "rep":
        return []

    async def open_checkin(_event: ft.Event) -> None:
        await shell.go(checkin_route(customer.summary.id))

    return [
        ft.FilledButton(
            shell.tr.t("checkin.start"), icon=ft.Icons.PIN_DROP, on_click=open_checkin, height=48,
        ),
    ]
