"""Start screen shown while the app checks the stored session."""

import flet as ft

from mobile.i18n import Translator


def splash_view(tr: Translator) -> ft.View:
    return ft.View(
        route="/",
        controls=[
            ft.Icon(ft.Icons.STOREFRONT_OUTLINED, size=56, color=ft.Colors.PRIMARY),
            ft.Text(tr.t("app.title"), size=28, weight=ft.FontWeight.W_600),
            ft.ProgressRing(),
        ],
        vertical_alignment=ft.MainAxisAlignment.CENTER,
        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
        spacing=16,
    )
