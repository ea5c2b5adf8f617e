"""Screens of the app, one module each, and the parts they share.

Screens hold layout and event wiring only. They reach the rest of the app through
the Shell protocol (implemented by mobile.app.FieldSalesApp) and read data through
mobile.api.Directory, never through HTTP directly.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import flet as ft

from mobile.api import ApiClient, ApiError, Directory, Forbidden, NotFound, ServerError, ServerTimeout, Unauthorized, Unreachable, User
from mobile.config import ClientConfig
from mobile.i18n import LOCALES, Translator
from mobile.navigation import HOME_ACTIONS
from mobile.offline.store import LocalStore

# Widest content column in logical pixels. Wider windows (tablets, desktop browsers)
# centre the column, so rows and forms keep a readable line length.
LIST_MAX_WIDTH = 760
FORM_MAX_WIDTH = 420
# Side padding of a view on a phone.
PHONE_PADDING = 12


class Shell(Protocol):
    """Services the app provides to screens: session state, data access and navigation."""

    page: ft.Page
    tr: Translator
    config: ClientConfig
    # Online API client (sign-in, uploads); screens read data through `directory`.
    api: ApiClient
    directory: Directory
    user: User | None
    # The signed-in user's database on the device; None before sign-in.
    store: LocalStore | None

    async def go(self, route: str) -> None:
        """Show the screen of `route` (see mobile.routes) with the screens under it."""

    async def back(self) -> None:
        """Leave the top screen for the one under it."""

    async def sign_in(self, login: str, password: str) -> None:
        """Sign in and show the home screen; raises ApiError when the server rejects the login."""

    async def sign_out(self) -> None: ...

    async def session_expired(self) -> None:
        """Return to the sign-in screen after the server rejected the stored token."""

    async def set_locale(self, locale: str) -> None: ...

    async def open_customer(self, customer_id: uuid.UUID) -> None: ...

    def sync_now(self) -> None:
        """Start a sync now (the sync status bar's button)."""

    def local_rejections(self) -> list[dict]:
        """Changes from this device that the server rejected, newest first."""

    async def add_followup(self, customer_id: uuid.UUID, text: str) -> None:
        """Save a follow-up on the device; it syncs when the server is reachable."""


def error_message(tr: Translator, error: ApiError) -> str:
    """Return the localized text shown for a failed request."""
    if isinstance(error, ServerTimeout):
        return tr.t("error.timeout")
    if isinstance(error, Unreachable):
        return tr.t("error.unreachable")
    if isinstance(error, Unauthorized):
        return tr.t("error.session_expired")
    if isinstance(error, Forbidden):
        return tr.t("error.forbidden")
    if isinstance(error, NotFound):
        return tr.t("error.not_found")
    if isinstance(error, ServerError):
        return tr.t("error.server")
    return tr.t("error.request_failed", detail=error.detail or str(error))


def is_shown(page: ft.Page, control: ft.BaseControl) -> bool:
    """Return whether `control` belongs to a view still on the page's view stack.

    A load that finishes after the user left its screen (back, sign-out, language
    switch) checks this before updating controls that are no longer displayed.
    """
    node: ft.BaseControl | None = control
    while node is not None and not isinstance(node, ft.View):
        node = node.parent
    return node is not None and any(view is node for view in page.views)


def side_padding(page_width: float | None, max_width: float) -> float:
    """Horizontal padding that centres a column of at most `max_width` pixels."""
    if not page_width:
        return PHONE_PADDING
    return max(PHONE_PADDING, (page_width - max_width) / 2)


def fit_view_width(view: ft.View, page_width: float | None) -> None:
    """Set the side padding of `view` for the current window width.

    Each screen stores its maximum content width in `view.data`.
    """
    max_width = view.data if isinstance(view.data, (int, float)) else LIST_MAX_WIDTH
    view.padding = ft.Padding.symmetric(horizontal=side_padding(page_width, max_width), vertical=0)


def language_menu(shell: Shell) -> ft.PopupMenuButton:
    """Build the app bar menu that switches the UI language."""

    def choose(locale: str):
        async def handler(_event: ft.Event) -> None:
            await shell.set_locale(locale)

        return handler

    # The icon's semantics label names the button for screen readers (and browser tests); a tooltip does not.
    label = shell.tr.t("language.menu")
    return ft.PopupMenuButton(
        icon=ft.Icon(ft.Icons.TRANSLATE, semantics_label=label),
        tooltip=label,
        items=[
            ft.PopupMenuItem(
                content=shell.tr.t(f"language.{locale}"),
                checked=shell.tr.locale == locale,
                on_click=choose(locale),
            )
            for locale in LOCALES
        ],
    )


def home_app_bar(shell: Shell, title: str, subtitle: str | None = None) -> ft.AppBar:
    """Build the app bar of a home screen: title, the signed-in user's name, language switch and sign-out."""
    user = shell.user
    user_label = ft.Text(
        user.display_name if user else "",
        tooltip=shell.tr.label("role", user.role) if user else None,
        size=14,
        no_wrap=True,
        overflow=ft.TextOverflow.ELLIPSIS,
    )

    async def sign_out(_event: ft.Event) -> None:
        await shell.sign_out()

    title_text = ft.Text(title, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS)
    if subtitle:
        subtitle_text = ft.Text(subtitle, size=12, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS)
        title_control: ft.Control = ft.Column([title_text, subtitle_text], spacing=0, tight=True)
    else:
        title_control = title_text

    extra_actions = [factory(shell) for factory in HOME_ACTIONS.get(user.role, [])] if user else []
    return ft.AppBar(
        title=title_control,
        automatically_imply_leading=False,
        actions=[
            *extra_actions,
            ft.Container(user_label, padding=ft.Padding.only(left=8, right=4)),
            language_menu(shell),
            ft.IconButton(
                ft.Icon(ft.Icons.LOGOUT, semantics_label=shell.tr.t("common.sign_out")),
                tooltip=shell.tr.t("common.sign_out"),
                on_click=sign_out,
            ),
        ],
        actions_padding=ft.Padding.only(right=4),
    )


def camera_failure(error: BaseException) -> str:
    """Classify a camera plugin error as "missing" (no camera), "denied" (no permission) or "failed".

    flet-camera raises plain exceptions whose text carries the platform's code, such as
    CameraException(cameraNotFound, ...) or a NotAllowedError from the browser.
    """
    text = str(error).lower()
    if "notfound" in text or "no camera" in text:
        return "missing"
    if "denied" in text or "notallowed" in text or "permission" in text:
        return "denied"
    return "failed"


def loading_indicator() -> ft.Control:
    """Build the spinner a screen shows until its data is loaded."""
    return ft.Container(ft.ProgressRing(), alignment=ft.Alignment.CENTER, padding=48)


def screen_body(spacing: float = 8) -> ft.ListView:
    """Build the scrolling body of a detail screen, showing the loading spinner until the screen fills it."""
    return ft.ListView([loading_indicator()], expand=True, spacing=spacing, padding=ft.Padding.symmetric(vertical=12))


def error_panel(message: str, retry_label: str, on_retry: Callable[[ft.Event], Awaitable[None]]) -> ft.Control:
    """Build the panel shown when a load failed: the reason and a retry button."""
    return ft.Container(
        ft.Column(
            [
                ft.Icon(ft.Icons.CLOUD_OFF, size=40, color=ft.Colors.ERROR),
                ft.Text(message, text_align=ft.TextAlign.CENTER, color=ft.Colors.ERROR),
                ft.OutlinedButton(retry_label, icon=ft.Icons.REFRESH, on_click=on_retry),
            ],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            spacing=12,
        ),
        padding=24,
        alignment=ft.Alignment.CENTER,
    )
