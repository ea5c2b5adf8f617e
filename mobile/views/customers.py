"""Customer list: a rep's own customers, a regional lead's region, or all of them for an admin.

The list reads the device's local store, which sync fills with the rows the user's role
may see, so the screen differs only in its title and works offline.
"""

import flet as ft

from mobile.api import CustomerSummary
from mobile.views import LIST_MAX_WIDTH, Shell, fit_view_width, home_app_bar
from mobile.views.paged_list import PagedList
from mobile.views.sync_status import SyncStatusBar

ROW_HEIGHT = 72


class CustomerListScreen:
    """Home screen of reps, regional leads and admins."""

    def __init__(self, shell: Shell, title: str) -> None:
        self._shell = shell
        tr = shell.tr

        self.list = PagedList(
            shell,
            fetch=lambda query, offset: shell.directory.list_customers(query=query, offset=offset),
            build_row=self._build_row,
            row_height=ROW_HEIGHT,
            search_label=tr.t("list.search_customers"),
            empty_text=tr.t("list.empty_customers"),
        )
        self.sync_status = SyncStatusBar(shell)
        self.view = ft.View(
            route="/",
            appbar=home_app_bar(shell, title),
            controls=[self.sync_status.control, self.list.control],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        await self.list.reload()

    def _build_row(self, customer: CustomerSummary) -> ft.Control:
        place = " ".join(part for part in (customer.city, customer.district) if part)
        subtitle = " · ".join(part for part in (customer.industry, place) if part)

        async def open_detail(_event: ft.Event) -> None:
            await self._shell.open_customer(customer.id)

        return ft.ListTile(
            title=ft.Text(customer.name, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            subtitle=ft.Text(subtitle, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            trailing=ft.Icon(ft.Icons.CHEVRON_RIGHT),
            on_click=open_detail,
        )
