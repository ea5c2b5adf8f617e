"""Content screens opened from a customer's health score: the contract-clause library (green customers)
and the churn-warning intervention checklist (red customers).

The text comes from the server's content packs, which admins edit. Each pack is fetched when
the screen opens and a copy is kept on the device, so the screens also work offline once seen.
Ticks on the intervention checklist are kept on the device only.
"""

import uuid
from dataclasses import replace

import flet as ft

from mobile.api import ApiError, Unauthorized
from mobile.offline.directory import ContentPack
from mobile.views import LIST_MAX_WIDTH, Shell, error_message, error_panel, fit_view_width, is_shown, screen_body
from mobile.views.score import clauses_route, intervention_route, battle_data

# Keys of the server's content packs (server.content.service).
CONTRACT_CLAUSES = "contract_clauses"
CHURN_CHECKLIST = "churn_intervention_checklist"
REACTIVATION_TALK_TRACKS = "reactivation_talk_tracks"
# Packs the battle map prefetches, so the content screens open offline later.
PREFETCHED_PACKS = (CONTRACT_CLAUSES, CHURN_CHECKLIST)


class _PackScreen:
    """A content pack shown for one customer: a title, the customer's name, and the pack's items."""

    pack_key = ""
    title_key = ""

    def __init__(self, shell: Shell, customer_id: uuid.UUID, route: str) -> None:
        self._shell = shell
        self._customer_id = customer_id
        self.body = screen_body()
        self.view = ft.View(
            route=route,
            appbar=ft.AppBar(title=ft.Text(shell.tr.t(self.title_key))),
            controls=[self.body],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        """Show the copy on the device at once, if any, then the server's current version."""
        data = battle_data(self._shell)
        cached = await data.cached_content_pack(self.pack_key)
        if cached is not None:
            await self._show(replace(cached, from_cache=False))
        try:
            pack = await data.content_pack(self.pack_key)
        except Unauthorized:
            await self._shell.session_expired()
            return
        except ApiError as error:
            if is_shown(self._shell.page, self.view):
                tr = self._shell.tr
                self.body.controls = [error_panel(error_message(tr, error), tr.t("common.retry"), self._on_retry)]
                self.body.update()
            return
        await self._show(pack)

    async def _show(self, pack: ContentPack) -> None:
        customer = battle_data(self._shell).store.get_row("customers", str(self._customer_id))
        controls = await self._items(pack)
        if not is_shown(self._shell.page, self.view):
            return
        self.body.controls = [self._header(pack, customer["name"] if customer else ""), *controls]
        self.view.update()

    def _header(self, pack: ContentPack, customer_name: str) -> ft.Control:
        tr = self._shell.tr
        lines = [ft.Text(pack.title, size=20, weight=ft.FontWeight.W_600)]
        if customer_name:
            lines.append(ft.Text(customer_name, color=ft.Colors.ON_SURFACE_VARIANT))
        if pack.description:
            lines.append(ft.Text(pack.description, size=13))
        version_text = tr.t("battle.from_cache", version=pack.version) if pack.from_cache else tr.t("battle.content_version", version=pack.version)
        lines.append(ft.Text(version_text, size=12, color=ft.Colors.TERTIARY if pack.from_cache else ft.Colors.ON_SURFACE_VARIANT))
        return ft.Container(ft.Column(lines, spacing=4), padding=ft.Padding.only(left=4, bottom=4))

    async def _items(self, pack: ContentPack) -> list[ft.Control]:
        raise NotImplementedError

    async def _on_retry(self, _event: ft.Event) -> None:
        await self.load()


class ClauseLibraryScreen(_PackScreen):
    pack_key = CONTRACT_CLAUSES
    title_key = "battle.clauses_title"

    def __init__(self, shell: Shell, customer_id: uuid.UUID) -> None:
        super().__init__(shell, customer_id, clauses_route(customer_id))

    async def _items(self, pack: ContentPack) -> list[ft.Control]:
        return [
            ft.Container(
                ft.Column(
                    [
                        ft.Text(item.get("title", ""), weight=ft.FontWeight.W_600),
                        ft.Text(item.get("body", ""), size=14, selectable=True),
                    ],
                    spacing=6,
                ),
                bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
                border_radius=8,
                padding=12,
            )
            for item in pack.items
        ]


class InterventionChecklistScreen(_PackScreen):
    pack_key = CHURN_CHECKLIST
    title_key = "battle.intervention_title"

    def __init__(self, shell: Shell, customer_id: uuid.UUID) -> None:
        super().__init__(shell, customer_id, intervention_route(customer_id))
        self._progress = ft.Text("", size=13, weight=ft.FontWeight.W_500)
        self._ticked: set[str] = set()
        self._total = 0

    async def _items(self, pack: ContentPack) -> list[ft.Control]:
        tr = self._shell.tr
        self._ticked = await battle_data(self._shell).ticked_items(self._customer_id, self.pack_key)
        keys = [item.get("key", "") for item in pack.items]
        self._ticked &= set(keys)
        self._total = len(keys)
        self._show_progress()
        rows = [self._item_row(item) for item in pack.items]
        note = ft.Text(tr.t("battle.ticks_local"), size=12, color=ft.Colors.ON_SURFACE_VARIANT)
        return [ft.Row([self._progress, note], alignment=ft.MainAxisAlignment.SPACE_BETWEEN, wrap=True), *rows]

    def _item_row(self, item: dict) -> ft.Control:
        tr = self._shell.tr
        key = item.get("key", "")

        async def on_change(event: ft.Event[ft.Checkbox]) -> None:
            ticked = bool(event.control.value)
            await battle_data(self._shell).set_ticked(self._customer_id, self.pack_key, key, ticked)
            if ticked:
                self._ticked.add(key)
            else:
                self._ticked.discard(key)
            self._show_progress()
            self._progress.update()

        title_row = [ft.Checkbox(label=item.get("title", ""), value=key in self._ticked, on_change=on_change, expand=True)]
        if item.get("required"):
            title_row.append(ft.Container(
                ft.Text(tr.t("battle.required"), size=12, color=ft.Colors.ON_ERROR_CONTAINER),
                bgcolor=ft.Colors.ERROR_CONTAINER, border_radius=12, padding=ft.Padding.symmetric(horizontal=8, vertical=2),
            ))
        return ft.Container(
            ft.Column(
                [
                    ft.Row(title_row, vertical_alignment=ft.CrossAxisAlignment.CENTER),
                    ft.Container(ft.Text(item.get("body", ""), size=13), padding=ft.Padding.only(left=12, right=8)),
                ],
                spacing=2,
            ),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=ft.Padding.only(top=4, bottom=10, right=8),
        )

    def _show_progress(self) -> None:
        self._progress.value = self._shell.tr.t("battle.ticked", done=len(self._ticked), total=self._total)


def talk_track_cards(tr, scripts: list[dict]) -> list[ft.Control]:
    """Cards of talk-track scripts (title, scenario, body), as a reactivation alert carries them."""
    cards = []
    for script in scripts:
        lines = [ft.Text(script.get("title", ""), weight=ft.FontWeight.W_600)]
        if script.get("scenario"):
            lines.append(ft.Text(tr.t("battle.scenario", scenario=script["scenario"]), size=12, color=ft.Colors.ON_SURFACE_VARIANT))
        lines.append(ft.Text(script.get("body", ""), size=14, selectable=True))
        cards.append(ft.Container(ft.Column(lines, spacing=4), bgcolor=ft.Colors.SURFACE_CONTAINER_LOW, border_radius=8, padding=12))
    return cards
