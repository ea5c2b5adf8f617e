"""Store member list, opened from the clerk home's app bar: search the store's members on the device.

Each row shows the member's name, masked phone, member code, the baby's age in
months and, highlighted, any known allergies, because a clerk recommending formula
must see those first.
"""

from datetime import date

import flet as ft

from mobile.api import Member, Page
from mobile.views import LIST_MAX_WIDTH, Shell, fit_view_width
from mobile.views.member_profile import open_member
from mobile.views.paged_list import PagedList

ROW_HEIGHT = 88
MEMBER_LIST_ROUTE = "/members"


class MemberListScreen:
    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        tr = shell.tr

        self.list = PagedList(
            shell,
            fetch=self._fetch,
            build_row=self._build_row,
            row_height=ROW_HEIGHT,
            search_label=tr.t("list.search_members"),
            empty_text=tr.t("list.empty_members"),
        )
        self.view = ft.View(
            route=MEMBER_LIST_ROUTE,
            appbar=ft.AppBar(title=ft.Text(tr.t("home.members"))),
            controls=[self.list.control],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        await self.list.reload()

    async def _fetch(self, query: str, offset: int) -> Page[Member]:
        """Read a page of the store's members from the device; they arrive with sync."""
        return await self._shell.directory.list_members(query=query, offset=offset)

    def _build_row(self, member: Member) -> ft.Control:
        tr = self._shell.tr
        months = member.baby_age_months(date.today())
        baby = tr.t("member.baby_age", months=months) if months is not None else tr.t("member.no_birth_date")

        first_line = ft.Row(
            [
                ft.Text(member.name, size=16, weight=ft.FontWeight.W_500, expand=True, no_wrap=True,
                        overflow=ft.TextOverflow.ELLIPSIS),
                ft.Text(member.phone_masked, size=14, color=ft.Colors.ON_SURFACE_VARIANT),
            ],
        )
        second_line = ft.Text(
            f"{tr.t('member.code', code=member.member_code)} · {baby}",
            size=13,
            color=ft.Colors.ON_SURFACE_VARIANT,
            no_wrap=True,
            overflow=ft.TextOverflow.ELLIPSIS,
        )
        lines: list[ft.Control] = [first_line, second_line]
        if member.allergens:
            lines.append(allergen_badge(tr.t("member.allergens", allergens=member.allergens)))

        async def open_profile(_event: ft.Event) -> None:
            await open_member(self._shell, str(member.id), "list")

        return ft.Container(
            ft.Column(lines, spacing=2, tight=True),
            alignment=ft.Alignment.CENTER_LEFT,
            padding=ft.Padding.symmetric(horizontal=16, vertical=6),
            border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.OUTLINE_VARIANT)),
            on_click=open_profile,
        )


def allergen_badge(text: str) -> ft.Control:
    return ft.Container(
        ft.Row(
            [
                ft.Icon(ft.Icons.WARNING_AMBER_ROUNDED, size=14, color=ft.Colors.ON_ERROR_CONTAINER),
                ft.Text(text, size=12, color=ft.Colors.ON_ERROR_CONTAINER, no_wrap=True,
                        overflow=ft.TextOverflow.ELLIPSIS),
            ],
            spacing=4,
            tight=True,
        ),
        bgcolor=ft.Colors.ERROR_CONTAINER,
        border_radius=4,
        padding=ft.Padding.symmetric(horizontal=6, vertical=1),
    )
