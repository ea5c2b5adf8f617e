"""A searchable list that loads pages of rows on demand; the customer and member screens use it.

A rep may own thousands of customers. Building them all as controls costs seconds of
Python time and blocks the event loop in Flet 1.0. So the list shows one page
(mobile.api.PAGE_SIZE rows) at a time, with a "load more" row at the end. Rows have a
fixed height (ListView.item_extent), which lets Flutter lay out only the visible rows.
The search box queries the data source instead of filtering controls.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import flet as ft

from mobile.api import ApiError, Page, Unauthorized
from mobile.views import Shell, error_message, error_panel, is_shown

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pause after the last keystroke before searching, so typing a name sends one request, not one per letter.
SEARCH_DELAY_S = 0.3


class PagedList(Generic[T]):
    """Search box, result count and a lazily built list of rows from `fetch`.

    `fetch(query, offset)` returns one page; `build_row(item)` returns a control exactly
    `row_height` pixels tall. `control` is the column to place in a view.
    """

    def __init__(
        self,
        shell: Shell,
        fetch: Callable[[str, int], Awaitable[Page[T]]],
        build_row: Callable[[T], ft.Control],
        row_height: int,
        search_label: str,
        empty_text: str,
    ) -> None:
        self._shell = shell
        self._fetch = fetch
        self._build_row = build_row
        self._empty_text = empty_text
        self._query = ""
        self._next_offset: int | None = None
        # Incremented by every new search; a response for an older generation is dropped.
        self._generation = 0
        self._loading = False

        tr = shell.tr
        self.search_field = ft.TextField(
            label=search_label,
            prefix_icon=ft.Icons.SEARCH,
            dense=True,
            border_radius=24,
            on_change=self._on_search_change,
            on_submit=self._on_search_submit,
        )
        self.status_text = ft.Text("", size=12, color=ft.Colors.ON_SURFACE_VARIANT, text_align=ft.TextAlign.END)
        self.progress = ft.ProgressBar(visible=False, height=2)
        self.list_view = ft.ListView(item_extent=row_height, expand=True, spacing=0)
        self.load_more_button = ft.TextButton(tr.t("common.load_more"), icon=ft.Icons.EXPAND_MORE, on_click=self._on_load_more)
        self._load_more_row = ft.Container(self.load_more_button, alignment=ft.Alignment.CENTER, height=row_height)
        self.message_area = ft.Container(visible=False, expand=True, alignment=ft.Alignment.TOP_CENTER)

        self.control = ft.Column(
            [
                ft.Container(self.search_field, padding=ft.Padding.only(top=12)),
                self.status_text,
                self.progress,
                self.list_view,
                self.message_area,
            ],
            spacing=4,
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        )

    async def reload(self) -> None:
        """Load the first page for the current search text."""
        self._generation += 1
        await self._load(offset=0, generation=self._generation)

    async def _on_search_change(self, event: ft.Event[ft.TextField]) -> None:
        self._query = (event.control.value or "").strip()
        self._generation += 1
        generation = self._generation
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation == self._generation:
            await self._load(offset=0, generation=generation)

    async def _on_search_submit(self, event: ft.Event[ft.TextField]) -> None:
        self._query = (event.control.value or "").strip()
        await self.reload()

    async def _on_load_more(self, _event: ft.Event) -> None:
        if self._next_offset is not None and not self._loading:
            await self._load(offset=self._next_offset, generation=self._generation)

    async def _on_retry(self, _event: ft.Event) -> None:
        await self.reload()

    async def _load(self, offset: int, generation: int) -> None:
        self._set_loading(True)
        self.control.update()

        try:
            loaded = await self._fetch(self._query, offset)
        except Unauthorized:
            await self._shell.session_expired()
            return
        except ApiError as error:
            if generation == self._generation and is_shown(self._shell.page, self.control):
                self._set_loading(False)
                self._show_error(error, keep_rows=offset > 0)
            return

        if generation != self._generation or not is_shown(self._shell.page, self.control):
            log.debug("dropping a page for an outdated search or a closed screen")
            return
        self._set_loading(False)
        self._show_page(loaded, append=offset > 0)

    def _set_loading(self, loading: bool) -> None:
        self._loading = loading
        self.progress.visible = loading
        self.load_more_button.disabled = loading

    def _show_page(self, loaded: Page[T], append: bool) -> None:
        rows = self.list_view.controls
        if rows and rows[-1] is self._load_more_row:
            rows.pop()
        if not append:
            rows.clear()

        rows.extend(self._build_row(item) for item in loaded.items)
        self._next_offset = loaded.next_offset
        if self._next_offset is not None:
            rows.append(self._load_more_row)

        shown_count = loaded.offset + len(loaded.items)
        self.status_text.value = self._shell.tr.t("list.count", total=loaded.total, shown=shown_count)
        self.status_text.color = ft.Colors.ON_SURFACE_VARIANT
        self._set_message(None if loaded.total else self._empty_message())
        self.control.update()

    def _show_error(self, error: ApiError, keep_rows: bool) -> None:
        """Show why a load failed: below the search box when earlier pages stay, else in place of the rows."""
        tr = self._shell.tr
        if keep_rows:
            self.status_text.value = error_message(tr, error)
            self.status_text.color = ft.Colors.ERROR
        else:
            self._set_message(error_panel(error_message(tr, error), tr.t("common.retry"), self._on_retry))
        self.control.update()

    def _empty_message(self) -> ft.Control:
        text = self._shell.tr.t("list.no_match", query=self._query) if self._query else self._empty_text
        return ft.Container(ft.Text(text, color=ft.Colors.ON_SURFACE_VARIANT), padding=24, alignment=ft.Alignment.TOP_CENTER)

    def _set_message(self, content: ft.Control | None) -> None:
        """Show `content` in place of the rows, or the rows again when it is None."""
        self.message_area.content = content
        self.message_area.visible = content is not None
        self.list_view.visible = content is None

