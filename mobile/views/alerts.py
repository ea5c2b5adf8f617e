"""The alert inbox: a lead's escalations and a rep's reactivation alerts, from the synced alerts on the device.

Marking an alert read or done is a local write (a patch of the alert) that the sync loop
sends to the server, so it also works offline. The server checks the recipient and the
state change, and rejects any other patch with a reason.
"""

import asyncio
import logging
import uuid
import weakref
from datetime import datetime

import flet as ft

from mobile.api import ApiError, NotFound
from mobile.i18n import Translator
from mobile.offline.directory import AlertItem
from mobile.views import LIST_MAX_WIDTH, Shell, error_message, error_panel, fit_view_width, is_shown, screen_body
from mobile.views.content import talk_track_cards
from mobile.views.paged_list import PagedList
from mobile.views.score import battle_data, format_number

log = logging.getLogger(__name__)

ALERTS_ROUTE = "/alerts"
ALERT_ROW_HEIGHT = 88
STATE_FILTERS = ("all", "new", "read", "done")
KIND_ICONS = {
    "reactivation": (ft.Icons.BEDTIME_OUTLINED, ft.Colors.RED_600),
    "followup_escalation": (ft.Icons.ESCALATOR_WARNING, ft.Colors.DEEP_ORANGE_600),
    "lead_unassigned": (ft.Icons.PERSON_ADD_ALT, ft.Colors.INDIGO_600),
}
# Keys of an alert's data shown under "data behind the alert", in this order.
DATA_KEYS = (
    "customer_name", "score", "band", "days_without_followup", "last_followup_at", "owner_name", "band_since",
    "company_name", "grade", "source", "minutes_waiting", "limit_minutes", "received_at",
)
_TIME_KEYS = ("last_followup_at", "band_since", "received_at")


def alert_customer_route(alert_id: uuid.UUID, customer_id: uuid.UUID) -> str:
    """Return the route of an alert's customer, opened from the alert."""
    return f"{alert_route(alert_id)}/customers/{customer_id}"


def alert_route(alert_id: uuid.UUID) -> str:
    return f"{ALERTS_ROUTE}/{alert_id}"


def alerts_action(shell: Shell) -> ft.Control:
    """Build the home app bar button that opens the alert inbox, with the number of new alerts."""
    return AlertsButton(shell).control


class AlertsButton:
    """App bar button with a badge of new alerts, refreshed after every write to the local store."""

    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        label = shell.tr.t("battle.alerts")

        async def open_inbox(_event: ft.Event) -> None:
            await shell.go(ALERTS_ROUTE)

        self._icon = ft.Icon(ft.Icons.NOTIFICATIONS_OUTLINED, semantics_label=label)
        # The control keeps this object alive for as long as the app bar shows it (the store listener is weak).
        self.control = ft.IconButton(self._icon, tooltip=label, on_click=open_inbox, data=self)
        self._show(self._count_now())
        if shell.store is not None:
            # A weak reference, so a button of a screen that was rebuilt (language switch) is not kept alive by the store.
            reference = weakref.WeakMethod(self._on_store_write)
            store = shell.store

            def listener() -> None:
                method = reference()
                if method is None:
                    store.remove_listener(listener)
                else:
                    method()

            store.add_listener(listener)

    def _count_now(self) -> int:
        store = self._shell.store
        if store is None:
            return 0
        return store.query("SELECT COUNT(*) AS n FROM alerts WHERE state = 'new'")[0]["n"]

    def _show(self, count: int) -> None:
        self.control.badge = ft.Badge(label=str(count)) if count else None

    def _on_store_write(self) -> None:
        # Called on the thread that wrote (the sync thread or the UI); the page's loop updates the control.
        page = self._shell.page
        try:
            page.run_task(self._refresh)
        except RuntimeError as error:
            log.debug("alert badge not refreshed: %r", error)

    async def _refresh(self) -> None:
        if self._shell.store is None or self.control.page is None:
            return
        count = await asyncio.to_thread(self._count_now)
        self._show(count)
        self.control.update()


def kind_label(tr: Translator, kind: str) -> str:
    return tr.label("battle.kind", kind)


def alert_title(tr: Translator, alert: AlertItem) -> str:
    return str(alert.data.get("title") or kind_label(tr, alert.kind))


def state_chip(tr: Translator, state: str) -> ft.Control:
    colors = {
        "new": (ft.Colors.ERROR_CONTAINER, ft.Colors.ON_ERROR_CONTAINER),
        "read": (ft.Colors.SECONDARY_CONTAINER, ft.Colors.ON_SECONDARY_CONTAINER),
        "done": (ft.Colors.SURFACE_CONTAINER_HIGHEST, ft.Colors.ON_SURFACE_VARIANT),
    }
    background, foreground = colors.get(state, colors["read"])
    return ft.Container(
        ft.Text(tr.label("battle.state", state), size=12, color=foreground),
        bgcolor=background,
        border_radius=12,
        padding=ft.Padding.symmetric(horizontal=8, vertical=2),
    )


class AlertInboxScreen:
    """The user's alerts, newest first, filtered by state."""

    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        tr = shell.tr
        self._state: str | None = None
        data = battle_data(shell)

        self.filter = ft.SegmentedButton(
            segments=[
                ft.Segment(value=state, label=tr.t("battle.filter_all") if state == "all" else tr.label("battle.state", state))
                for state in STATE_FILTERS
            ],
            selected=["all"],
            show_selected_icon=False,
            on_change=self._on_filter_change,
        )
        self.list = PagedList(
            shell,
            fetch=lambda query, offset: data.list_alerts(state=self._state, query=query, offset=offset),
            build_row=self._build_row,
            row_height=ALERT_ROW_HEIGHT,
            search_label=tr.t("battle.search_alerts"),
            empty_text=tr.t("battle.alerts_empty"),
        )
        self.view = ft.View(
            route=ALERTS_ROUTE,
            appbar=ft.AppBar(title=ft.Text(tr.t("battle.alerts_title"))),
            controls=[ft.Container(self.filter, padding=ft.Padding.only(top=8), alignment=ft.Alignment.CENTER), self.list.control],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        await self.list.reload()

    async def _on_filter_change(self, event: ft.Event[ft.SegmentedButton]) -> None:
        selected = (event.control.selected or ["all"])[0]
        self._state = None if selected == "all" else selected
        await self.list.reload()

    def _build_row(self, alert: AlertItem) -> ft.Control:
        tr = self._shell.tr
        icon, color = KIND_ICONS.get(alert.kind, (ft.Icons.NOTIFICATIONS_OUTLINED, ft.Colors.PRIMARY))
        unread = alert.state == "new"

        async def open_alert(_event: ft.Event) -> None:
            await self._shell.go(alert_route(alert.id))

        # The date without the year: the inbox contains recent alerts, and the row is narrow on a phone.
        created = tr.format_time(alert.created_at)[5:]
        return ft.ListTile(
            leading=ft.Icon(icon, color=color),
            title=ft.Text(
                alert_title(tr, alert), no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS,
                weight=ft.FontWeight.W_600 if unread else ft.FontWeight.NORMAL,
            ),
            subtitle=ft.Text(alert.reason, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS, size=13),
            trailing=ft.Column(
                [state_chip(tr, alert.state), ft.Text(created, size=11, color=ft.Colors.ON_SURFACE_VARIANT)],
                spacing=4,
                tight=True,
                horizontal_alignment=ft.CrossAxisAlignment.END,
            ),
            is_three_line=True,
            on_click=open_alert,
        )


class AlertDetailScreen:
    """One alert: its reason, the data behind it, the talk tracks it carries, and the actions on it."""

    def __init__(self, shell: Shell, alert_id: uuid.UUID) -> None:
        self._shell = shell
        self._alert_id = alert_id
        self.body = screen_body()
        self.view = ft.View(
            route=alert_route(alert_id),
            appbar=ft.AppBar(title=ft.Text(shell.tr.t("battle.alert_title"))),
            controls=[self.body],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)
        self._notice = ft.Text("", size=12, color=ft.Colors.PRIMARY, visible=False)

    async def load(self) -> None:
        tr = self._shell.tr
        data = battle_data(self._shell)
        try:
            alert = await data.get_alert(self._alert_id)
        except NotFound:
            self._show([ft.Text(tr.t("battle.alert_not_found"), color=ft.Colors.ON_SURFACE_VARIANT)])
            return
        except ApiError as error:
            self._show([error_panel(error_message(tr, error), tr.t("common.retry"), self._on_retry)])
            return
        customer_on_device = alert.customer_id is not None and data.store.get_row("customers", str(alert.customer_id)) is not None
        self._show([
            self._header(alert),
            *self._actions(alert, customer_on_device),
            *self._data_rows(alert),
            *self._talk_tracks(alert),
        ])

    def _show(self, controls: list[ft.Control]) -> None:
        if not is_shown(self._shell.page, self.view):
            return
        self.body.controls = controls
        self.view.update()

    def _header(self, alert: AlertItem) -> ft.Control:
        tr = self._shell.tr
        icon, color = KIND_ICONS.get(alert.kind, (ft.Icons.NOTIFICATIONS_OUTLINED, ft.Colors.PRIMARY))
        status = [state_chip(tr, alert.state)]
        if alert.pending:
            status.append(ft.Text(tr.t("battle.alert_pending"), size=12, color=ft.Colors.TERTIARY))
        # The kind is shown only where the title (from the editable templates) does not already say it.
        kind_text = kind_label(tr, alert.kind)
        kind = [] if kind_text == alert_title(tr, alert) else [ft.Text(kind_text, size=12, color=ft.Colors.ON_SURFACE_VARIANT)]
        return ft.Card(
            ft.Container(
                ft.Column(
                    [
                        ft.Row([ft.Icon(icon, color=color), ft.Text(alert_title(tr, alert), size=18, weight=ft.FontWeight.W_600, expand=True)]),
                        ft.Row([*kind, ft.Text(tr.format_time(alert.created_at), size=12, color=ft.Colors.ON_SURFACE_VARIANT), *status],
                               spacing=8, wrap=True),
                        ft.Text(alert.reason, size=15),
                    ],
                    spacing=8,
                ),
                padding=16,
            ),
            margin=0,
        )

    def _actions(self, alert: AlertItem, customer_on_device: bool) -> list[ft.Control]:
        tr = self._shell.tr
        buttons: list[ft.Control] = []
        if alert.state == "new":
            buttons.append(ft.OutlinedButton(tr.t("battle.mark_read"), icon=ft.Icons.MARK_EMAIL_READ_OUTLINED, on_click=self._mark("read")))
        if alert.state != "done":
            buttons.append(ft.FilledButton(tr.t("battle.mark_done"), icon=ft.Icons.TASK_ALT, on_click=self._mark("done")))
        if customer_on_device:
            async def open_customer(_event: ft.Event) -> None:
                # Under the alert, so going back returns to it.
                await self._shell.go(alert_customer_route(alert.id, alert.customer_id))

            buttons.append(ft.OutlinedButton(tr.t("battle.open_customer"), icon=ft.Icons.STOREFRONT_OUTLINED, on_click=open_customer))
        return [ft.Row(buttons, wrap=True, spacing=8, run_spacing=8), self._notice]

    def _mark(self, state: str):
        async def handler(_event: ft.Event) -> None:
            tr = self._shell.tr
            try:
                await battle_data(self._shell).set_alert_state(self._alert_id, state)
            except (ValueError, NotFound) as error:
                log.warning("alert %s not marked %s: %s", self._alert_id, state, error)
                self._notice.value, self._notice.color = str(error), ft.Colors.ERROR
            else:
                self._notice.value, self._notice.color = tr.t("battle.marked"), ft.Colors.PRIMARY
            self._notice.visible = True
            await self.load()
            screen_of = getattr(self._shell, "screen", None)
            inbox = screen_of(ALERTS_ROUTE) if screen_of else None
            if inbox is not None:
                self._shell.page.run_task(inbox.load)

        return handler

    def _data_rows(self, alert: AlertItem) -> list[ft.Control]:
        tr = self._shell.tr
        rows = []
        for key in DATA_KEYS:
            if key not in alert.data:
                continue
            value = self._data_value(tr, key, alert.data[key])
            if value == "":
                continue
            rows.append(ft.Row(
                [ft.Text(tr.t(f"battle.data.{key}"), width=120, color=ft.Colors.ON_SURFACE_VARIANT), ft.Text(value, expand=True)],
                vertical_alignment=ft.CrossAxisAlignment.START,
            ))
        if not rows:
            return []
        title = ft.Text(tr.t("battle.data_title"), size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY)
        box = ft.Container(ft.Column(rows, spacing=6), bgcolor=ft.Colors.SURFACE_CONTAINER_LOW, border_radius=8, padding=12)
        return [ft.Container(title, padding=ft.Padding.only(left=4, top=8)), box]

    @staticmethod
    def _data_value(tr: Translator, key: str, value) -> str:
        if key == "days_without_followup" and value is None:
            return tr.t("battle.data.never_followed_up")
        if value is None:
            return ""
        if key == "band":
            return tr.label("battle.band", str(value))
        if key == "source":
            return tr.label("battle.source", str(value))
        if key == "score" and isinstance(value, int | float):
            return format_number(float(value))
        if key in _TIME_KEYS and isinstance(value, str):
            try:
                return tr.format_time(datetime.fromisoformat(value))
            except ValueError:
                return value
        return str(value)

    def _talk_tracks(self, alert: AlertItem) -> list[ft.Control]:
        talk_tracks = alert.data.get("talk_tracks")
        scripts = talk_tracks.get("scripts") if isinstance(talk_tracks, dict) else None
        if not scripts:
            return []
        tr = self._shell.tr
        title = ft.Text(tr.t("battle.scripts_title", count=len(scripts)), size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY)
        return [ft.Container(title, padding=ft.Padding.only(left=4, top=8)), *talk_track_cards(tr, [s for s in scripts if isinstance(s, dict)])]

    async def _on_retry(self, _event: ft.Event) -> None:
        await self.load()
