"""The rep's battle map (home screen): their customers coloured by health-score band, on a map and in a list.

Both read the device's local store (customers joined with their latest score snapshot), so
the screen works offline; only the map tiles need the network. On a phone the list and the
map are two views behind a toggle, the list first; from tablet width they sit side by side.
"""

import logging

import flet as ft
import flet_map as fm
import prcoords

from core.bands import GREEN, RED, UNSCORED, YELLOW, band_of_snapshot
from core.geofence import Place, to_wgs84
from mobile.api import ApiError
from mobile.offline.directory import ScoredCustomer
from mobile.views import Shell, fit_view_width, home_app_bar, is_shown
from mobile.views.content import PREFETCHED_PACKS
from mobile.views.customers import ROW_HEIGHT
from mobile.views.paged_list import PagedList
from mobile.views.score import BAND_COLORS, battle_data, format_number, score_badge, trend_icon
from mobile.views.sync_status import SyncStatusBar

log = logging.getLogger(__name__)

# Window width from which list and map are shown side by side (Material's "expanded" width class).
SIDE_BY_SIDE_MIN_WIDTH = 840
# Widest content of the screen; the side-by-side layout uses most of a tablet.
BATTLE_MAX_WIDTH = 1600
LIST_PANE_WIDTH = 440
MARKER_SIZE = 22
# Zoom limit when the camera fits the markers, so a single customer does not zoom to street level.
FIT_MAX_ZOOM = 14
LIST_TAB, MAP_TAB = "list", "map"


def map_position(place: Place, tile_coord_system: str) -> tuple[float, float]:
    """Convert a stored customer location to the coordinate system of the map tiles.

    AMap-style tiles are drawn in GCJ-02 and OpenStreetMap in WGS-84. A point in the wrong
    system lands 100-700 m off in mainland China. Outside mainland China GCJ-02 equals WGS-84.
    Raises ValueError for an unknown coordinate system.
    """
    if place.coord_system == tile_coord_system:
        return place.latitude, place.longitude
    latitude, longitude = to_wgs84(place)
    if tile_coord_system == "wgs84":
        return latitude, longitude
    point = prcoords.Coords(latitude, longitude)
    if not prcoords.sanity_in_china_p(point):
        return latitude, longitude
    converted = prcoords.wgs_gcj(point, check_china=False)
    return converted.lat, converted.lon


class BattleMapScreen:
    """Home screen of reps."""

    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        tr = shell.tr
        data = battle_data(shell)

        self.list = PagedList(
            shell,
            fetch=lambda query, offset: data.list_scored_customers(query=query, offset=offset),
            build_row=self._build_row,
            row_height=ROW_HEIGHT,
            search_label=tr.t("list.search_customers"),
            empty_text=tr.t("list.empty_customers"),
        )
        self.sync_status = SyncStatusBar(shell)
        self._tab = LIST_TAB
        self._side_by_side: bool | None = None
        self._map_status = ft.Text("", size=12, color=ft.Colors.ON_SURFACE_VARIANT)
        self._map_holder = ft.Container(expand=True, border_radius=8, clip_behavior=ft.ClipBehavior.HARD_EDGE)
        self.map_panel = ft.Column(
            [self._legend(), self._map_status, self._map_holder],
            spacing=4,
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        )
        self.toggle = ft.SegmentedButton(
            segments=[
                ft.Segment(value=LIST_TAB, label=tr.t("battle.tab_list"), icon=ft.Icons.LIST),
                ft.Segment(value=MAP_TAB, label=tr.t("battle.tab_map"), icon=ft.Icons.MAP_OUTLINED),
            ],
            selected=[LIST_TAB],
            show_selected_icon=False,
            on_change=self._on_tab_change,
        )
        self.body = ft.Container(expand=True, on_size_change=self._on_size_change)
        self.view = ft.View(
            route="/",
            appbar=home_app_bar(shell, tr.t("home.rep")),
            controls=[self.sync_status.control, self.body],
            data=BATTLE_MAX_WIDTH,
            spacing=0,
        )
        fit_view_width(self.view, shell.page.width)
        self._lay_out(shell.page.width or 0)

    async def load(self) -> None:
        await self.list.reload()
        await self._load_map()
        self._shell.page.run_task(self._prefetch_content)

    # Layout

    def _lay_out(self, width: float) -> None:
        """Choose the phone layout (toggle) or the tablet layout (side by side) for `width`."""
        side_by_side = width >= SIDE_BY_SIDE_MIN_WIDTH
        if side_by_side == self._side_by_side:
            return
        self._side_by_side = side_by_side
        if side_by_side:
            self.list.control.visible = True
            self.map_panel.visible = True
            self.body.content = ft.Row(
                [
                    ft.Container(self.list.control, width=LIST_PANE_WIDTH),
                    ft.VerticalDivider(width=1),
                    ft.Container(self.map_panel, expand=True, padding=ft.Padding.only(top=12, bottom=12)),
                ],
                spacing=12,
                vertical_alignment=ft.CrossAxisAlignment.STRETCH,
            )
        else:
            self._show_tab()
            self.body.content = ft.Column(
                [ft.Container(self.toggle, padding=ft.Padding.only(top=8), alignment=ft.Alignment.CENTER), self.list.control, self.map_panel],
                spacing=4,
                expand=True,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            )

    def _show_tab(self) -> None:
        self.list.control.visible = self._tab == LIST_TAB
        self.map_panel.visible = self._tab == MAP_TAB

    async def _on_size_change(self, event: ft.LayoutSizeChangeEvent) -> None:
        before = self._side_by_side
        # The body lies inside the view's side padding; the window is at least that much wider.
        self._lay_out(self._shell.page.width or event.width)
        if before != self._side_by_side:
            self.body.update()

    async def _on_tab_change(self, event: ft.Event[ft.SegmentedButton]) -> None:
        selected = event.control.selected or [LIST_TAB]
        self._tab = selected[0]
        self._show_tab()
        self.body.update()

    # List rows

    def _build_row(self, customer: ScoredCustomer) -> ft.Control:
        summary = customer.summary
        place = " ".join(part for part in (summary.city, summary.district) if part)
        subtitle = " · ".join(part for part in (summary.industry, place) if part)

        async def open_detail(_event: ft.Event) -> None:
            await self._shell.open_customer(summary.id)

        return ft.ListTile(
            leading=score_badge(self._shell.tr, customer.score, customer.band),
            title=ft.Text(summary.name, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            subtitle=ft.Text(subtitle, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            trailing=self._trend(customer),
            on_click=open_detail,
        )

    def _trend(self, customer: ScoredCustomer) -> ft.Control:
        trend = customer.trend
        if customer.score is None or trend is None:
            return ft.Icon(ft.Icons.CHEVRON_RIGHT)
        delta = format_number(trend)
        if trend > 0:
            delta = f"+{delta}"
        return ft.Row([trend_icon(trend), ft.Text(delta, size=12)], spacing=2, tight=True)

    # Map

    def _legend(self) -> ft.Control:
        tr = self._shell.tr
        entries = [(RED, "battle.legend_red"), (YELLOW, "battle.legend_yellow"), (GREEN, "battle.legend_green"), (UNSCORED, "battle.legend_unscored")]
        return ft.Row(
            [
                ft.Row([ft.Container(width=12, height=12, border_radius=6, bgcolor=BAND_COLORS[band]), ft.Text(tr.t(key), size=12)], spacing=4, tight=True)
                for band, key in entries
            ],
            spacing=12,
            wrap=True,
        )

    async def _load_map(self) -> None:
        map_config = self._shell.config.map
        customers, located = await battle_data(self._shell).map_customers(map_config.max_markers)
        if not is_shown(self._shell.page, self.view):
            return
        tr = self._shell.tr
        markers = [marker for marker in (self._marker(customer) for customer in customers) if marker is not None]
        if not markers:
            self._map_status.value = tr.t("battle.map_empty")
            self._map_holder.content = None
        else:
            if located > len(customers):
                self._map_status.value = tr.t("battle.map_capped", shown=len(markers), total=located)
            else:
                self._map_status.value = tr.t("battle.map_count", shown=len(markers))
            self._map_holder.content = self._map(markers)
        self.map_panel.update()

    def _map(self, markers: list[fm.Marker]) -> fm.Map:
        map_config = self._shell.config.map
        coordinates = [marker.coordinates for marker in markers]
        return fm.Map(
            expand=True,
            initial_center=coordinates[0],
            initial_zoom=11,
            initial_camera_fit=fm.CameraFit(coordinates=coordinates, padding=ft.Padding.all(32), max_zoom=FIT_MAX_ZOOM),
            max_zoom=map_config.max_zoom,
            interaction_configuration=fm.InteractionConfiguration(flags=fm.InteractionFlag.ALL & ~fm.InteractionFlag.ROTATE),
            layers=[
                fm.TileLayer(
                    url_template=map_config.tile_url,
                    subdomains=list(map_config.subdomains),
                    max_native_zoom=map_config.max_zoom,
                    user_agent_package_name="cn.fieldsales.app",
                ),
                fm.MarkerLayer(markers=markers),
                fm.SimpleAttribution(text=map_config.attribution, alignment=ft.Alignment.BOTTOM_RIGHT),
            ],
        )

    def _marker(self, customer: ScoredCustomer) -> fm.Marker | None:
        place = Place(customer.latitude, customer.longitude, customer.coord_system)
        try:
            latitude, longitude = map_position(place, self._shell.config.map.tile_coord_system)
        except ValueError as error:
            log.warning("customer %s left off the map: %s", customer.summary.id, error)
            return None
        band = band_of_snapshot(customer.band, customer.score)
        score = format_number(customer.score) if customer.score is not None else "—"
        customer_id = customer.summary.id

        async def open_detail(_event: ft.Event) -> None:
            await self._shell.open_customer(customer_id)

        dot = ft.Container(
            ft.Text("", semantics_label=self._shell.tr.t("battle.marker", score=score), size=1),
            width=MARKER_SIZE,
            height=MARKER_SIZE,
            border_radius=MARKER_SIZE / 2,
            bgcolor=BAND_COLORS[band],
            border=ft.Border.all(2, ft.Colors.WHITE),
            shadow=ft.BoxShadow(blur_radius=3, color=ft.Colors.with_opacity(0.4, ft.Colors.BLACK)),
            on_click=open_detail,
        )
        return fm.Marker(content=dot, coordinates=fm.MapLatitudeLongitude(latitude, longitude), width=MARKER_SIZE, height=MARKER_SIZE)

    async def _prefetch_content(self) -> None:
        """Fetch the content packs the score section links to, so they open offline later."""
        data = battle_data(self._shell)
        for key in PREFETCHED_PACKS:
            try:
                await data.content_pack(key)
            except ApiError as error:
                log.info("content pack %s not prefetched: %s", key, error)
                return
