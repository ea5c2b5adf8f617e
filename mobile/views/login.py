"""Sign-in screen: username or phone, password, language switch and the reason a sign-in failed."""

import flet as ft

from mobile.api import ApiError, Forbidden, Unauthorized
from mobile.i18n import LOCALES
from mobile.views import FORM_MAX_WIDTH, Shell, error_message, fit_view_width, is_shown

LOGIN_ROUTE = "/login"


class LoginScreen:
    """`notice` is shown above the form, e.g. why the user was signed out.

    `previous` is the screen this one replaces after a language switch; its typed values are kept.
    """

    def __init__(self, shell: Shell, notice: str | None = None, previous: "LoginScreen | None" = None) -> None:
        self._shell = shell
        tr = shell.tr

        self.login_field = ft.TextField(
            label=tr.t("login.login_label"),
            prefix_icon=ft.Icons.PERSON_OUTLINE,
            autofill_hints=ft.AutofillHint.USERNAME,
            on_submit=self._on_submit,
        )
        self.password_field = ft.TextField(
            label=tr.t("login.password_label"),
            prefix_icon=ft.Icons.LOCK_OUTLINE,
            password=True,
            can_reveal_password=True,
            autofill_hints=ft.AutofillHint.PASSWORD,
            on_submit=self._on_submit,
        )
        if previous is not None:
            self.login_field.value = previous.login_field.value
            self.password_field.value = previous.password_field.value
            notice = notice or previous.message.value

        self.message = ft.Text(notice or "", color=ft.Colors.ERROR, visible=bool(notice))
        self.progress = ft.ProgressRing(width=20, height=20, stroke_width=2, visible=False)
        self.submit_button = ft.FilledButton(tr.t("login.submit"), on_click=self._on_submit, height=48)
        self.language_switch = ft.SegmentedButton(
            segments=[ft.Segment(value=locale, label=segment_label(tr.t(f"language.{locale}"))) for locale in LOCALES],
            selected=[tr.locale],
            show_selected_icon=False,
            on_change=self._on_language_change,
        )

        header = ft.Column(
            [
                ft.Icon(ft.Icons.STOREFRONT_OUTLINED, size=56, color=ft.Colors.PRIMARY),
                ft.Text(tr.t("app.title"), size=28, weight=ft.FontWeight.W_600),
                ft.Text(tr.t("login.hint"), color=ft.Colors.ON_SURFACE_VARIANT),
            ],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            spacing=4,
        )
        form = ft.Column(
            [
                header,
                ft.Container(height=12),
                self.login_field,
                self.password_field,
                ft.Row([self.progress, self.message], spacing=8, wrap=True),
                self.submit_button,
                ft.Container(height=8),
                ft.Row([self.language_switch], alignment=ft.MainAxisAlignment.CENTER),
            ],
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            spacing=12,
        )
        self.view = ft.View(
            route=LOGIN_ROUTE,
            controls=[form],
            vertical_alignment=ft.MainAxisAlignment.CENTER,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            scroll=ft.ScrollMode.AUTO,
            data=FORM_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def _on_submit(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        login = (self.login_field.value or "").strip()
        password = self.password_field.value or ""
        if not login or not password:
            self._show_message(tr.t("login.missing_fields"))
            return

        self._set_busy(True)
        self._show_message(None)
        self.view.update()
        try:
            await self._shell.sign_in(login, password)
            return  # the home screen has replaced this one
        except Unauthorized:
            self._show_message(tr.t("login.wrong_credentials"))
        except Forbidden:
            self._show_message(tr.t("login.disabled"))
        except ApiError as error:
            self._show_message(error_message(tr, error))

        # Flet sends no automatic update after a handler that called update() itself.
        self._set_busy(False)
        if is_shown(self._shell.page, self.view):
            self.view.update()

    async def _on_language_change(self, event: ft.Event[ft.SegmentedButton]) -> None:
        selected = event.control.selected
        if selected:
            await self._shell.set_locale(selected[0])

    def _set_busy(self, busy: bool) -> None:
        self.progress.visible = busy
        self.submit_button.disabled = busy
        self.submit_button.content = self._shell.tr.t("login.signing_in" if busy else "login.submit")

    def _show_message(self, text: str | None) -> None:
        self.message.value = text or ""
        self.message.visible = bool(text)


def segment_label(text: str) -> ft.Control:
    # A fixed width: the segmented button measures its labels once, and in web mode the first
    # measurement can happen before the bundled font has loaded, which clipped "English".
    return ft.Container(ft.Text(text, no_wrap=True), width=72, alignment=ft.Alignment.CENTER)
