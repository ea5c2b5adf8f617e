"""Customer detail: address, owner, region, contacts with their decision roles, recent visits."""

import uuid
import flet as ft

from mobile.api import ApiError, Contact, CustomerDetail, Unauthorized, Visit
from mobile.i18n import Translator
from mobile.navigation import CUSTOMER_SECTIONS
from mobile.views import LIST_MAX_WIDTH, Shell, error_message, error_panel, fit_view_width, is_shown


def customer_route(customer_id: uuid.UUID) -> str:
    return f"/customers/{customer_id}"


class CustomerDetailScreen:
    def __init__(self, shell: Shell, customer_id: uuid.UUID) -> None:
        self._shell = shell
        self._customer_id = customer_id
        tr = shell.tr

        self.body = ft.ListView(
            [loading_indicator()],
            expand=True,
            spacing=8,
            padding=ft.Padding.symmetric(vertical=12),
        )
        self.view = ft.View(
            route=customer_route(customer_id),
            appbar=ft.AppBar(title=ft.Text(tr.t("customer.title"))),
            controls=[self.body],
            data=LIST_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        try:
            customer = await self._shell.directory.get_customer(self._customer_id)
        except Unauthorized:
            await self._shell.session_expired()
            return
        except ApiError as error:
            if is_shown(self._shell.page, self.view):
                tr = self._shell.tr
                self.body.controls = [error_panel(error_message(tr, error), tr.t("common.retry"), self._on_retry)]
                self.body.update()
            return

        activity_of = getattr(self._shell.directory, "customer_activity", None)
        activity = await activity_of(self._customer_id) if activity_of else None
        if not is_shown(self._shell.page, self.view):
            return
        tr = self._shell.tr
        sections = detail_sections(tr, customer)
        extra = [control for factory in CUSTOMER_SECTIONS for control in factory(self._shell, customer)]
        sections[1:1] = extra
        if activity is not None:
            sections[1:1] = [*record_banners(tr, activity), *self._followup_section(activity)]
        self.body.controls = sections
        self.view.update()

    def _followup_section(self, activity) -> list[ft.Control]:
        tr = self._shell.tr
        self._followup_field = ft.TextField(
            label=tr.t("customer.followup_label"), multiline=True, min_lines=1, max_lines=3, max_length=2000,
            on_submit=self._on_save_followup,
        )
        self._followup_notice = ft.Text("", size=12, visible=False)
        form = ft.Column(
            [
                self._followup_field,
                ft.Row([self._followup_notice, ft.FilledButton(tr.t("customer.followup_save"), icon=ft.Icons.SAVE, on_click=self._on_save_followup)],
                       alignment=ft.MainAxisAlignment.END),
            ],
            spacing=4,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        )
        rows = [followup_tile(tr, followup) for followup in activity.followups] or [empty_line(tr.t("customer.no_followups"))]
        return [section_title(tr.t("customer.followups")), form, *rows]

    async def _on_save_followup(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        text = (self._followup_field.value or "").strip()
        if not text:
            self._followup_notice.value = tr.t("customer.followup_empty")
            self._followup_notice.color = ft.Colors.ERROR
            self._followup_notice.visible = True
            self._followup_notice.update()
            return
        await self._shell.add_followup(self._customer_id, text)
        await self.load()
        self._followup_notice.value = tr.t("customer.followup_saved")
        self._followup_notice.color = ft.Colors.PRIMARY
        self._followup_notice.visible = True
        self.view.update()

    async def _on_retry(self, _event: ft.Event) -> None:
        self.body.controls = [loading_indicator()]
        self.body.update()
        await self.load()


def record_banners(tr: Translator, activity) -> list[ft.Control]:
    """Build notices about this record's sync state: unsent changes, rejections, overwritten edits."""
    banners = []
    if activity.pending_changes:
        banners.append(banner(ft.Icons.CLOUD_UPLOAD_OUTLINED, tr.t("customer.pending_changes", count=activity.pending_changes), ft.Colors.TERTIARY))
    for reason in activity.rejections:
        banners.append(banner(ft.Icons.ERROR_OUTLINE, tr.t("customer.rejected", reason=reason), ft.Colors.ERROR))
    for conflict in activity.conflicts:
        text = tr.t("customer.conflict", field=tr.label("field", conflict.field), won=conflict.won, lost=conflict.lost)
        banners.append(banner(ft.Icons.MERGE_TYPE, text, ft.Colors.SECONDARY))
    return banners


def banner(icon: ft.IconData, text: str, color: str) -> ft.Control:
    return ft.Container(
        ft.Row([ft.Icon(icon, color=color, size=20), ft.Text(text, color=color, expand=True, size=13)], spacing=8),
        border=ft.Border.all(1, color),
        border_radius=8,
        padding=10,
    )


def followup_tile(tr: Translator, followup) -> ft.Control:
    when = tr.format_time(followup.captured_at)
    trailing = ft.Icon(ft.Icons.CLOUD_UPLOAD_OUTLINED, size=18, color=ft.Colors.TERTIARY) if followup.pending else None
    return ft.ListTile(
        title=ft.Text(followup.text),
        subtitle=ft.Text(when, size=12),
        trailing=trailing,
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        shape=ft.RoundedRectangleBorder(radius=8),
    )


def loading_indicator() -> ft.Control:
    return ft.Container(ft.ProgressRing(), alignment=ft.Alignment.CENTER, padding=48)


def detail_sections(tr: Translator, customer: CustomerDetail) -> list[ft.Control]:
    return [
        overview_card(tr, customer),
        section_title(tr.t("customer.contacts")),
        *([contact_tile(tr, contact) for contact in customer.contacts] or [empty_line(tr.t("customer.no_contacts"))]),
        section_title(tr.t("customer.visits")),
        *([visit_tile(tr, visit) for visit in customer.visits] or [empty_line(tr.t("customer.no_visits"))]),
    ]


def overview_card(tr: Translator, customer: CustomerDetail) -> ft.Control:
    summary = customer.summary
    unknown = tr.t("customer.unknown")
    # The street address normally starts with the province, city and district already.
    place = " ".join(part for part in (summary.province, summary.city, summary.district) if part)
    address = customer.address or place

    return ft.Card(
        ft.Container(
            ft.Column(
                [
                    ft.Text(summary.name, size=20, weight=ft.FontWeight.W_600),
                    field_row(ft.Icons.FACTORY_OUTLINED, tr.t("customer.industry"), summary.industry or unknown),
                    field_row(ft.Icons.PLACE_OUTLINED, tr.t("customer.address"), address or unknown),
                    field_row(ft.Icons.PERSON_OUTLINE, tr.t("customer.owner"), customer.owner_name or unknown),
                    field_row(ft.Icons.MAP_OUTLINED, tr.t("customer.region"), customer.region_name or unknown),
                ],
                spacing=10,
            ),
            padding=16,
        ),
        margin=0,
    )


def field_row(icon: ft.IconData, label: str, value: str) -> ft.Control:
    return ft.Row(
        [
            ft.Icon(icon, size=20, color=ft.Colors.PRIMARY),
            ft.Text(label, width=64, color=ft.Colors.ON_SURFACE_VARIANT),
            ft.Text(value, expand=True),
        ],
        vertical_alignment=ft.CrossAxisAlignment.START,
        spacing=8,
    )


def section_title(text: str) -> ft.Control:
    return ft.Container(
        ft.Text(text, size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY),
        padding=ft.Padding.only(left=4, top=12),
    )


def empty_line(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, color=ft.Colors.ON_SURFACE_VARIANT), padding=ft.Padding.only(left=4))


def contact_tile(tr: Translator, contact: Contact) -> ft.Control:
    subtitle = " · ".join(part for part in (contact.title, contact.phone) if part)
    return ft.ListTile(
        leading=ft.CircleAvatar(content=ft.Text(contact.name[:1])),
        title=ft.Text(contact.name),
        subtitle=ft.Text(subtitle) if subtitle else None,
        trailing=role_chip(tr.label("decision_role", contact.decision_role)),
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        shape=ft.RoundedRectangleBorder(radius=8),
    )


def role_chip(text: str) -> ft.Control:
    return ft.Container(
        ft.Text(text, size=12, color=ft.Colors.ON_SECONDARY_CONTAINER),
        bgcolor=ft.Colors.SECONDARY_CONTAINER,
        border_radius=12,
        padding=ft.Padding.symmetric(horizontal=10, vertical=4),
    )


def visit_tile(tr: Translator, visit: Visit) -> ft.Control:
    period = tr.format_time(visit.checked_in_at)
    if visit.checked_in_at and not visit.checked_out_at:
        period = f"{period} · {tr.t('customer.not_checked_out')}"
    elif visit.checked_out_at:
        period = f"{period} – {tr.format_time(visit.checked_out_at, with_date=not same_day(tr, visit))}"

    return ft.Container(
        ft.Column(
            [
                ft.Row(
                    [
                        ft.Text(tr.label("visit_type", visit.visit_type), weight=ft.FontWeight.W_500),
                        ft.Text(period, size=12, color=ft.Colors.ON_SURFACE_VARIANT),
                    ],
                    alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                    wrap=True,
                ),
                ft.Text(visit.summary, size=14) if visit.summary else ft.Container(),
            ],
            spacing=4,
        ),
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        border_radius=8,
        padding=12,
    )


def same_day(tr: Translator, visit: Visit) -> bool:
    if visit.checked_in_at is None or visit.checked_out_at is None:
        return False
    return tr.format_time(visit.checked_in_at)[:10] == tr.format_time(visit.checked_out_at)[:10]
