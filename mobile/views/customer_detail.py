"""Customer detail: address, owner, region, contacts with their decision roles, recent visits."""

import asyncio
import uuid
from datetime import datetime, timezone

import flet as ft

from mobile.api import ApiError, Contact, CustomerDetail, Unauthorized, Visit
from mobile.i18n import Translator
from mobile.navigation import CUSTOMER_SECTIONS
from mobile.offline.visits import VisitState, visit_states
from mobile.views import LIST_MAX_WIDTH, Shell, error_message, error_panel, fit_view_width, is_shown, loading_indicator, screen_body
from mobile.views.voice_followup import FollowupDraft, VoiceFollowupForm


def customer_route(customer_id: uuid.UUID) -> str:
    return f"/customers/{customer_id}"


class CustomerDetailScreen:
    def __init__(self, shell: Shell, customer_id: uuid.UUID, route: str | None = None) -> None:
        """`route` is the screen's own route when it is opened from another screen (an alert), else /customers/<id>."""
        self._shell = shell
        self._customer_id = customer_id
        self._followup_form: VoiceFollowupForm | None = None
        tr = shell.tr

        self.body = screen_body()
        self.view = ft.View(
            route=route or customer_route(customer_id),
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
        store = self._shell.store
        states = await asyncio.to_thread(visit_states, store, str(self._customer_id)) if store else {}
        if not is_shown(self._shell.page, self.view):
            return
        tr = self._shell.tr
        sections = detail_sections(tr, customer, states, self._open_checklist)
        # Under the overview: the features' sections (check-in, score), then this record's sync notices and follow-ups.
        top = [control for factory in CUSTOMER_SECTIONS for control in factory(self._shell, customer)]
        if activity is not None:
            top += [*record_banners(tr, activity), *self._followup_section(activity)]
        sections[1:1] = top
        self.body.controls = sections
        self.view.update()

    def _followup_section(self, activity) -> list[ft.Control]:
        """The one-line follow-up form (voice or typing, structured fields, talk tracks) and the follow-ups so far.

        The form is built once, so a reload after a sync keeps what the rep is typing or recording.
        """
        tr = self._shell.tr
        if self._followup_form is None:
            self._followup_form = VoiceFollowupForm(
                self._shell, self._on_save_followup, text_label=tr.t("customer.followup_label"),
                save_label=tr.t("customer.followup_save"), empty_message=tr.t("customer.followup_empty"),
                show_baby_fields=False,
            )
        rows = [followup_tile(tr, followup) for followup in activity.followups] or [empty_line(tr.t("customer.no_followups"))]
        return [section_title(tr.t("customer.followups")), self._followup_form.control, *rows]

    async def _on_save_followup(self, draft: FollowupDraft) -> None:
        """Save the follow-up with its structured fields on the device; the sync loop sends it when the server is reachable."""
        shell = self._shell
        fields = {
            "customer_id": str(self._customer_id), "author_id": str(shell.user.id),
            "captured_at": datetime.now(timezone.utc).isoformat(), **draft.synced_fields(),
        }
        await asyncio.to_thread(shell.store.put, "followups", fields)
        self._followup_form.reset(shell.tr.t("customer.followup_saved"))
        await self.load()

    async def _open_checklist(self, visit_id: uuid.UUID) -> None:
        # Imported here: the check-in views import this module.
        from mobile.views.checkin import checklist_route, remember_visit_customer

        remember_visit_customer(str(visit_id), str(self._customer_id))
        await self._shell.go(checklist_route(visit_id))

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


def detail_sections(tr: Translator, customer: CustomerDetail, states: dict[str, VisitState] | None = None,
                    open_checklist=None) -> list[ft.Control]:
    states = states or {}
    return [
        overview_card(tr, customer),
        section_title(tr.t("customer.contacts")),
        *([contact_tile(tr, contact) for contact in customer.contacts] or [empty_line(tr.t("customer.no_contacts"))]),
        section_title(tr.t("customer.visits")),
        *([visit_tile(tr, visit, states.get(str(visit.id)), open_checklist) for visit in customer.visits]
          or [empty_line(tr.t("customer.no_visits"))]),
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


def visit_tile(tr: Translator, visit: Visit, state: VisitState | None = None, open_checklist=None) -> ft.Control:
    """Build one visit row; `state` adds its status, duration, check-in flag and sync state from the device."""
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
                *visit_state_row(tr, visit, state, open_checklist),
                ft.Text(visit.summary, size=14) if visit.summary else ft.Container(),
            ],
            spacing=4,
        ),
        bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
        border_radius=8,
        padding=12,
    )


def visit_state_row(tr: Translator, visit: Visit, state: VisitState | None, open_checklist) -> list[ft.Control]:
    """Build the chips of a visit's status, duration, flag and sync state, and "continue checklist" for an open check-in."""
    if state is None:
        return []
    chips = [status_chip(tr.t(f"visit.status.{state.status}"), ft.Colors.PRIMARY if state.status == "completed" else ft.Colors.TERTIARY)]
    if state.duration_s is not None:
        chips.append(status_chip(tr.t("visit.duration", minutes=max(1, round(state.duration_s / 60))), ft.Colors.ON_SURFACE_VARIANT))
    if state.flagged:
        chips.append(status_chip(tr.t("visit.flagged"), ft.Colors.ERROR, ft.Icons.WARNING_AMBER))
    if state.pending:
        chips.append(status_chip(tr.t("visit.pending"), ft.Colors.TERTIARY, ft.Icons.CLOUD_UPLOAD_OUTLINED))
    row: list[ft.Control] = [ft.Row(chips, spacing=6, wrap=True, run_spacing=4)]
    if state.rejection:
        row.append(ft.Text(tr.t("customer.rejected", reason=state.rejection), size=12, color=ft.Colors.ERROR))
    if state.status == "open" and open_checklist is not None:
        async def open_visit(_event: ft.Event) -> None:
            await open_checklist(visit.id)

        row.append(ft.TextButton(tr.t("visit.continue"), icon=ft.Icons.CHECKLIST, on_click=open_visit))
    return row


def status_chip(text: str, color: str, icon: ft.IconData | None = None) -> ft.Control:
    parts: list[ft.Control] = [ft.Icon(icon, size=14, color=color)] if icon else []
    parts.append(ft.Text(text, size=12, color=color))
    return ft.Container(
        ft.Row(parts, spacing=4, tight=True),
        border=ft.Border.all(1, color),
        border_radius=10,
        padding=ft.Padding.symmetric(horizontal=8, vertical=2),
    )


def same_day(tr: Translator, visit: Visit) -> bool:
    if visit.checked_in_at is None or visit.checked_out_at is None:
        return False
    return tr.format_time(visit.checked_in_at)[:10] == tr.format_time(visit.checked_out_at)[:10]
