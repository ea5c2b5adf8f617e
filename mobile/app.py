"""The Flet app: page setup, session restore, sign-in and sign-out, and navigation.

Navigation uses Flet's imperative views and routes; mobile.routes lists the
screens and mobile.navigation turns a route into the stack of screens under it
(for example /visits/<id>/checklist over /customers/<id> over the home screen).

Screens are created once and kept while their route stays on the stack, so going
back from a customer keeps the list's search text, loaded pages and scroll position.
"""

import asyncio
import logging
import uuid
from datetime import datetime, timezone

import flet as ft
import httpx

from mobile.api import ApiClient, ApiError, Directory, Unauthorized, User
from mobile.config import ClientConfig, load_config
from mobile.i18n import LOCALES, Translator
from mobile.offline.directory import LocalDirectory
from mobile.offline.photos import PhotoQueue, PhotoUploader
from mobile.offline.store import LocalStore
from mobile.offline.sync import SyncClient, SyncLoop, SyncReport, SyncStatus
from mobile.session import SessionStore
from mobile import routes
from mobile.navigation import HOME_ROUTE, HOME_SCREENS, Screen, route_stack
from mobile.views import fit_view_width, is_shown
from mobile.views.customer_detail import customer_route
from mobile.views.customers import CustomerListScreen
from mobile.views.login import LoginScreen
from mobile.views.splash import splash_view

log = logging.getLogger(__name__)

FONT_FAMILY = "NotoSansSC"
# Relative to the assets directory. The Simplified Chinese face of Noto Sans CJK,
# built by scripts/build_font.py: without it the web client has no CJK glyphs.
FONTS = {FONT_FAMILY: "fonts/NotoSansSC-Regular.otf"}
SEED_COLOR = "#1565C0"
LOCALE_PREFERENCE_KEY = "fieldsales.locale"
# Seconds to wait for the device's preferences store; Flet waits forever by default.
PREFERENCES_TIMEOUT_S = 10

# Message id of the home screen title for each role whose home screen is the customer list.
CUSTOMER_HOME_TITLES = {"rep": "home.rep", "regional_lead": "home.regional_lead", "admin": "home.admin"}


class FieldSalesApp:
    """One app session: in web mode each browser tab gets its own instance."""

    def __init__(self, page: ft.Page, config: ClientConfig) -> None:
        self.page = page
        self.config = config
        self.tr = Translator(config.ui.locale, config.ui.utc_offset_hours)
        self.api = ApiClient(config.api.base_url, config.api.timeout_s)
        # Replaced by the signed-in user's local store once a session starts.
        self.directory: Directory = self.api
        self.user: User | None = None
        self.store: LocalStore | None = None
        self._sync_loop: SyncLoop | None = None
        self._sync_http: httpx.AsyncClient | None = None
        self._photo_uploader: PhotoUploader | None = None
        self._connectivity: ft.Connectivity | None = None

        self._sessions = SessionStore()
        self._preferences = ft.SharedPreferences()
        self._login: LoginScreen | None = None
        # Screens on the view stack by route, the home screen under HOME_ROUTE.
        self._screens: dict[str, Screen] = {}
        routes.register()

    async def start(self) -> None:
        """Set up the page, restore the language and the stored session, and show the first screen."""
        self._configure_page()
        self.page.views.clear()
        self.page.views.append(splash_view(self.tr))
        self.page.update()

        await self._restore_locale()
        self.user = await self._restore_session()
        await self._show(self.page.route)

    # Shell protocol: called by the screens.

    async def sign_in(self, login: str, password: str) -> None:
        result = await self.api.login(login, password)
        await self._sessions.save(result.access_token, result.user)
        self.user = result.user
        self._login = None
        await self._start_offline_session(result.user, result.access_token)
        log.info("signed in user=%s role=%s", result.user.id, result.user.role)
        await self._go(HOME_ROUTE)

    async def sign_out(self) -> None:
        log.info("signed out user=%s", self.user.id if self.user else None)
        await self._end_session(notice=None)

    async def session_expired(self) -> None:
        if self.user is None:
            return
        log.info("token rejected by the server; signing out user=%s", self.user.id)
        await self._end_session(notice=self.tr.t("error.session_expired"))

    async def set_locale(self, locale: str) -> None:
        if locale == self.tr.locale:
            return
        self.tr.locale = locale
        self._apply_locale_to_page()
        try:
            await asyncio.wait_for(self._preferences.set(LOCALE_PREFERENCE_KEY, locale), PREFERENCES_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as error:
            log.warning("cannot store the language choice %s: %r", locale, error)

        # Screens build their text once, so rebuild them; the login form keeps what was typed.
        self._login = LoginScreen(self, previous=self._login) if self._login else None
        self._screens.clear()
        await self._show(self.page.route)

    async def open_customer(self, customer_id: uuid.UUID) -> None:
        await self._go(customer_route(customer_id))

    async def go(self, route: str) -> None:
        """Show the screen of `route` with the screens under it."""
        await self._go(route)

    async def back(self) -> None:
        """Leave the top screen for the one under it."""
        views = self.page.views
        await self._go(views[-2].route if len(views) > 1 else HOME_ROUTE)

    def screen(self, route: str) -> Screen | None:
        """Return the screen of `route` if it is on the view stack."""
        return self._screens.get(route)

    def sync_now(self) -> None:
        if self._sync_loop is not None:
            self._sync_loop.trigger()

    def local_rejections(self) -> list[dict]:
        return self.store.rejections() if self.store else []

    async def add_followup(self, customer_id: uuid.UUID, text: str) -> None:
        """Save a follow-up on the device; the sync loop sends it when the server is reachable."""
        fields = {"customer_id": str(customer_id), "author_id": str(self.user.id), "text": text,
                  "captured_at": datetime.now(timezone.utc).isoformat()}
        await asyncio.to_thread(self.store.put, "followups", fields)

    # Offline session: local store and sync loop

    async def _start_offline_session(self, user: User, token: str) -> None:
        """Open the user's local database and start syncing it; the screens then read it."""
        path = self.config.storage.data_dir / "users" / str(user.id) / "local.sqlite3"
        self.store = await asyncio.to_thread(LocalStore, path)
        self.directory = LocalDirectory(self.store, self.api)
        self._sync_http = httpx.AsyncClient(base_url=self.config.api.base_url, timeout=self.config.api.timeout_s)
        self._sync_loop = SyncLoop(
            SyncClient(self.store, self._sync_http, token),
            interval_s=self.config.sync.interval_s,
            on_status=self._on_sync_status,
            on_unauthorized=lambda: self.page.run_task(self.session_expired),
            on_synced=self._on_synced,
        )
        # Visit photos upload after each successful sync, which has pushed their visits first.
        self._photo_uploader = PhotoUploader(PhotoQueue(self.store), self._sync_http, token)
        self._sync_loop.start()
        self._watch_connectivity()
        log.info("offline store opened for user=%s at %s", user.id, path)

    async def _stop_offline_session(self) -> None:
        if self._photo_uploader is not None:
            await self._photo_uploader.stop()
            self._photo_uploader = None
        if self._sync_loop is not None:
            await self._sync_loop.stop()
            self._sync_loop = None
        if self._sync_http is not None:
            await self._sync_http.aclose()
            self._sync_http = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self.directory = self.api

    def _watch_connectivity(self) -> None:
        """Sync as soon as the device reports a network again."""
        if self._connectivity is not None:
            return

        def on_change(event) -> None:
            if self._sync_loop is not None and any(kind.value != "none" for kind in event.connectivity):
                self._sync_loop.trigger()

        try:
            self._connectivity = ft.Connectivity(on_change=on_change)
        except RuntimeError as error:
            log.warning("connectivity events unavailable: %r", error)

    def _on_sync_status(self, status: SyncStatus) -> None:
        for screen in list(self._screens.values()):
            bar = getattr(screen, "sync_status", None)
            if bar is not None and is_shown(self.page, screen.view):
                bar.show(status)

    def _on_synced(self, report: SyncReport) -> None:
        """Upload pending visit photos, and refresh the screens after a sync brought new data."""
        if self._photo_uploader is not None:
            self._photo_uploader.trigger()
        if report.pulled == 0:
            return
        for screen in list(self._screens.values()):
            if is_shown(self.page, screen.view):
                self.page.run_task(screen.load)

    # Page events

    async def _on_route_change(self, event: ft.RouteChangeEvent) -> None:
        await self._show(event.route)

    async def _on_view_pop(self, event: ft.ViewPopEvent) -> None:
        views = self.page.views
        if len(views) > 1:
            await self._go(views[-2].route)

    def _on_resize(self, event: ft.PageResizeEvent) -> None:
        for view in self.page.views:
            fit_view_width(view, event.width)
        self.page.update()

    async def _on_close(self, _event: ft.Event) -> None:
        await self._stop_offline_session()
        await self.api.aclose()

    # Steps

    def _configure_page(self) -> None:
        page = self.page
        page.title = self.tr.t("app.title")
        page.fonts = FONTS
        page.theme = ft.Theme(color_scheme_seed=SEED_COLOR, font_family=FONT_FAMILY)
        page.theme_mode = ft.ThemeMode.LIGHT
        self._apply_locale_to_page()
        page.on_route_change = self._on_route_change
        page.on_view_pop = self._on_view_pop
        page.on_resize = self._on_resize
        page.on_close = self._on_close

    def _apply_locale_to_page(self) -> None:
        """Tell Flutter the UI language, so its own texts (e.g. the back button's tooltip) match."""
        self.page.title = self.tr.t("app.title")
        self.page.locale_configuration = ft.LocaleConfiguration(
            supported_locales=[ft.Locale("zh", "CN"), ft.Locale("en", "US")],
            current_locale=ft.Locale("zh", "CN") if self.tr.locale == "zh-CN" else ft.Locale("en", "US"),
        )

    async def _restore_locale(self) -> None:
        try:
            stored = await asyncio.wait_for(self._preferences.get(LOCALE_PREFERENCE_KEY), PREFERENCES_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as error:
            log.warning("cannot read the stored language choice: %r", error)
            return
        if stored in LOCALES:
            self.tr.locale = stored
            self._apply_locale_to_page()

    async def _restore_session(self) -> User | None:
        """Return the user of the stored token, checked with the server when it is reachable."""
        stored = await self._sessions.load()
        if stored is None:
            return None

        self.api.token = stored.token
        try:
            user = await self.api.me()
        except Unauthorized:
            log.info("stored token rejected by the server; showing sign-in")
            await self._sessions.clear()
            self.api.token = None
            return None
        except ApiError as error:
            # Offline start: trust the cached user until the server can check the token.
            log.warning("cannot check the stored token (%s); using the cached user", error)
            user = stored.user
        else:
            await self._sessions.save_user(user)
        await self._start_offline_session(user, stored.token)
        return user

    async def _end_session(self, notice: str | None) -> None:
        await self._stop_offline_session()
        await self._sessions.clear()
        self.api.token = None
        self.user = None
        self._screens.clear()
        self._login = LoginScreen(self, notice=notice)
        await self._go(HOME_ROUTE)

    async def _go(self, route: str) -> None:
        """Navigate to `route`; the route change event then shows its screens."""
        if self.page.route == route:
            await self._show(route)
        else:
            await self.page.push_route(route)

    async def _show(self, route: str) -> None:
        """Put the screens for `route` on the view stack and start loading their data."""
        loads = []
        if self.user is None:
            self._login = self._login or LoginScreen(self)
            views = [self._login.view]
        else:
            screens: dict[str, Screen] = {}
            for screen_route, spec, params in route_stack(route):
                screen = self._screens.get(screen_route)
                if screen is None:
                    try:
                        screen = self._create_home(self.user) if spec is None else spec.build(self, params)
                    except ValueError as error:
                        log.warning("cannot show route %s: %s", screen_route, error)
                        break
                    loads.append(screen.load)
                screens[screen_route] = screen
            self._screens = screens
            views = [screen.view for screen in screens.values()]

        self.page.views.clear()
        self.page.views.extend(views)
        self.page.update()
        if loads and self._sync_loop is not None:
            # New screens (after sign-in or a language switch) start with an empty sync status bar.
            self._on_sync_status(self._sync_loop.status)
        for load in loads:
            self.page.run_task(load)

    def _create_home(self, user: User) -> Screen:
        factory = HOME_SCREENS.get(user.role)
        if factory is not None:
            return factory(self)
        title_key = CUSTOMER_HOME_TITLES.get(user.role)
        if title_key is None:
            log.warning("no home screen for role %r; showing the customer list", user.role)
            title_key = "home.customers"
        return CustomerListScreen(self, self.tr.t(title_key))


async def main(page: ft.Page) -> None:
    """Flet entry point: one call per app session."""
    app = FieldSalesApp(page, load_config())
    await app.start()
