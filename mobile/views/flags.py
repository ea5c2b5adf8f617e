"""The regional lead's flagged check-ins: check-ins that failed the server's re-check, newest first.

The rows come from the device's store (checkin_flags syncs to the rep who checked in and
to the lead of the customer's region), so the list works offline. Each row names the
customer, the rep and every reason with its numbers; tapping a row opens the customer.
"""

import asyncio
import uuid

import flet as ft

from mobile.api import parse_timestamp
from mobile.navigation import RouteSpec
from mobile.offline import visits
from mobile.views import LIST_MAX_WIDTH, Shell, fit_view_width, is_shown, screen_body

FLAGS_ROUTE = "/flags"


def flag_reason_text(tr, reason: str, details: dict) -> str:
    """Return one flag reason in the UI language, with the numbers the server stored for it."""
    values = {
        "distance": _whole(details.get("distance_m")),
        "radius": _whole(details.get("radius_m")),
        "accuracy": _whole(details.get("accuracy_m")),
        "max_accuracy": _whole(details.get("max_accuracy_m")),
        "age": _whole(details.get("fix_age_s")),
        "speed": _whole(details.get("speed_kmh")),
        "skew": _whole(details.get("clock_skew_s")),
        "reason": reason,
    }
    key = f"flags.reason.{reason}"
    text = tr.t(key, **values)
    return tr.t("flags.reason.unknown", reason=reason) if text == key else text


def _whole(value) -> str:
    return "?" if value is None else f"{float(value):,.0f}"


class FlagListScreen:
    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        tr = shell.tr
        self.body = screen_body()
        self.view = ft.View(
            route=FLAGS_ROUTE,
            appbar=ft.AppBar(title=ft.Text(tr.t("flags.title"))),
            controls=[self.body],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        store = self._shell.store
        flags = await asyncio.to_thread(visits.region_flags, store) if store else []
        if not is_shown(self._shell.page, self.view):
            return
        tr = self._shell.tr
        self.body.controls = [self._row(flag) for flag in flags] or [
            ft.Container(ft.Text(tr.t("flags.empty"), color=ft.Colors.ON_SURFACE_VARIANT), padding=16)
        ]
        self.body.update()

    def _row(self, flag: visits.FlagRow) -> ft.Control:
        tr = self._shell.tr
        rep = tr.t("flags.rep", name=flag.rep_name) if flag.rep_name else tr.t("flags.rep_unknown")
        when = tr.format_time(parse_timestamp(flag.captured_at or flag.created_at))
        reasons = [
            ft.Row(
                [ft.Icon(ft.Icons.WARNING_AMBER, size=16, color=ft.Colors.ERROR),
                 ft.Text(flag_reason_text(tr, reason, flag.details), size=14, color=ft.Colors.ERROR, expand=True)],
                spacing=6,
            )
            for reason in flag.reasons
        ]

        async def open_customer(_event: ft.Event) -> None:
            await self._shell.open_customer(uuid.UUID(flag.customer_id))

        return ft.Container(
            ft.Column(
                [
                    ft.Row(
                        [ft.Text(flag.customer_name, size=16, weight=ft.FontWeight.W_600, expand=True),
                         ft.Icon(ft.Icons.CHEVRON_RIGHT)],
                    ),
                    ft.Text(f"{rep} · {tr.t('flags.time', time=when)}", size=12, color=ft.Colors.ON_SURFACE_VARIANT),
                    *reasons,
                ],
                spacing=4,
            ),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=12,
            on_click=open_customer,
            ink=True,
        )


def _build(shell: Shell, _params: dict[str, str]) -> FlagListScreen:
    return FlagListScreen(shell)


ROUTE = RouteSpec(FLAGS_ROUTE, _build)


def flags_action(shell: Shell) -> ft.Control:
    """Build the lead's home app bar button that opens the flagged check-ins."""
    label = shell.tr.t("flags.open")

    async def open_flags(_event: ft.Event) -> None:
        await shell.go(FLAGS_ROUTE)

    return ft.IconButton(ft.Icon(ft.Icons.WRONG_LOCATION_OUTLINED, semantics_label=label), tooltip=label, on_click=open_flags)
