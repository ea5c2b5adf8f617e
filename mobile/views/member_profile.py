"""Shopper profile on the store tablet: allergies first, life stage, purchases, follow-ups and the voice follow-up form.

Everything is read from the store's members on the device (mobile.offline.store_members),
so the profile opens offline. The baby's age is computed from the birth date when the
screen opens, never stored. Every opening is recorded in the profile-view audit log by
`open_member`, with how the member code came in.
"""

import asyncio
import logging
from datetime import date

import flet as ft

from mobile.offline.members import MemberProfile
from mobile.offline.store_members import store_members
from mobile.views import Shell, fit_view_width, is_shown
from mobile.views.voice_followup import FollowupDraft, VoiceFollowupForm

log = logging.getLogger(__name__)

# Content width on a tablet: two columns side by side.
PROFILE_MAX_WIDTH = 1200


def member_route(member_id: str) -> str:
    return f"/members/{member_id}"


async def open_member(shell: Shell, member_id: str, source: str) -> None:
    """Record the profile view for the audit log, then show the member's profile."""
    members = store_members(shell.store)
    await asyncio.to_thread(members.record_view, member_id, str(shell.user.id), source)
    log.info("member profile opened member=%s via %s", member_id, source)
    shell.sync_now()
    await shell.go(member_route(member_id))


class MemberProfileScreen:
    def __init__(self, shell: Shell, member_id: str) -> None:
        self._shell = shell
        self._member_id = member_id
        self._profile: MemberProfile | None = None
        self._form: VoiceFollowupForm | None = None
        tr = shell.tr

        self.left = ft.Column([ft.ProgressRing()], spacing=12, col={"xs": 12, "md": 6},
                              horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self.right = ft.Column([], spacing=8, col={"xs": 12, "md": 6})
        self.body = ft.ListView(
            [ft.ResponsiveRow([self.left, self.right], spacing=16, run_spacing=12)],
            expand=True,
            padding=ft.Padding.symmetric(vertical=12),
        )
        self.view = ft.View(
            route=member_route(member_id),
            appbar=ft.AppBar(title=ft.Text(tr.t("store.profile.title"))),
            controls=[self.body],
            data=PROFILE_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        members = store_members(self._shell.store)
        profile = await asyncio.to_thread(members.profile, self._member_id, date.today())
        if not is_shown(self._shell.page, self.view):
            return
        tr = self._shell.tr
        if profile is None:
            self.left.controls = [ft.Text(tr.t("store.profile.not_found"), color=ft.Colors.ERROR)]
            self.right.controls = []
            self.view.update()
            return

        first_load = self._profile is None
        self._profile = profile
        self.view.appbar.title = ft.Text(profile.name)
        if first_load:
            self._form = VoiceFollowupForm(self._shell, self._save_followup, member=profile.talk_track_facts())
        self.left.controls = [
            self._header(profile),
            self._allergen_panel(profile),
            _section_title(tr.t("store.profile.followup_form")),
            self._form.control,
        ]
        self.right.controls = [
            _section_title(tr.t("store.profile.recent_followups")),
            *([self._followup_tile(item) for item in profile.recent_followups]
              or [_muted(tr.t("store.profile.no_followups"))]),
            _section_title(tr.t("store.profile.purchases")),
            *([self._purchase_tile(item) for item in profile.purchases] or [_muted(tr.t("store.profile.no_purchases"))]),
        ]
        self.view.update()

    # ---- Sections ----------------------------------------------------------------------------

    def _header(self, profile: MemberProfile) -> ft.Control:
        tr = self._shell.tr
        if profile.baby_age_months is not None:
            age = tr.t("store.profile.baby_age", months=profile.baby_age_months)
        elif profile.baby_birth_date is not None:
            age = tr.t("store.profile.due", date=profile.baby_birth_date.isoformat())
        else:
            age = tr.t("store.profile.no_birth_date")
        tags = [_tag(age, ft.Colors.PRIMARY_CONTAINER, ft.Colors.ON_PRIMARY_CONTAINER)]
        tags += [_tag(tr.label("store.life_stage", tag), ft.Colors.TERTIARY_CONTAINER, ft.Colors.ON_TERTIARY_CONTAINER)
                 for tag in profile.life_stage_tags]
        return ft.Card(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(profile.name, size=22, weight=ft.FontWeight.W_600),
                        ft.Text(tr.t("store.profile.code_phone", code=profile.member_code, phone=profile.phone_masked or "—"),
                                size=13, color=ft.Colors.ON_SURFACE_VARIANT, selectable=True),
                        ft.Row(tags, wrap=True, spacing=6, run_spacing=6),
                    ],
                    spacing=8,
                ),
                padding=16,
            ),
            margin=0,
        )

    def _allergen_panel(self, profile: MemberProfile) -> ft.Control:
        tr = self._shell.tr
        if not profile.allergens:
            return ft.Container(
                ft.Row([ft.Icon(ft.Icons.CHECK_CIRCLE_OUTLINE, size=18, color=ft.Colors.ON_SURFACE_VARIANT),
                        ft.Text(tr.t("store.profile.no_allergens"), size=13, color=ft.Colors.ON_SURFACE_VARIANT)], spacing=6),
                padding=ft.Padding.symmetric(horizontal=4),
            )
        return ft.Container(
            ft.Row(
                [
                    ft.Icon(ft.Icons.WARNING_ROUNDED, color=ft.Colors.WHITE, size=28),
                    ft.Column(
                        [
                            ft.Text(tr.t("store.profile.allergens"), size=13, color=ft.Colors.WHITE, weight=ft.FontWeight.W_600),
                            ft.Text("、".join(profile.allergens), size=18, color=ft.Colors.WHITE, weight=ft.FontWeight.W_700),
                        ],
                        spacing=2, expand=True,
                    ),
                ],
                spacing=12,
            ),
            bgcolor=ft.Colors.RED_700,
            border_radius=8,
            padding=14,
        )

    def _followup_tile(self, followup) -> ft.Control:
        tr = self._shell.tr
        who = f"{tr.format_time(followup.captured_at)} · {followup.author_name}" if followup.author_name else tr.format_time(followup.captured_at)
        return ft.Container(
            ft.Column([ft.Text(followup.text), ft.Text(who, size=12, color=ft.Colors.ON_SURFACE_VARIANT)], spacing=2),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=10,
        )

    def _purchase_tile(self, purchase) -> ft.Control:
        tr = self._shell.tr
        amount = tr.t("store.profile.amount", yuan=f"{purchase.amount_fen / 100:.2f}")
        return ft.Container(
            ft.Row(
                [
                    ft.Column(
                        [
                            ft.Text(purchase.product_name, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
                            ft.Text(tr.format_time(purchase.purchased_at), size=12, color=ft.Colors.ON_SURFACE_VARIANT),
                        ],
                        spacing=0, expand=True,
                    ),
                    ft.Text(f"×{purchase.quantity}", size=13),
                    ft.Text(amount, size=13, width=90, text_align=ft.TextAlign.RIGHT),
                ],
            ),
            border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.OUTLINE_VARIANT)),
            padding=ft.Padding.symmetric(horizontal=4, vertical=6),
        )

    # ---- Saving ------------------------------------------------------------------------------

    async def _save_followup(self, draft: FollowupDraft) -> None:
        shell = self._shell
        members = store_members(shell.store)
        await asyncio.to_thread(members.add_followup, self._member_id, str(shell.user.id), shell.user.display_name, draft.synced_fields())
        log.info("member follow-up saved member=%s talk_track=%s input=%s", self._member_id, draft.talk_track_id, draft.input_method)
        shell.sync_now()
        self._form.reset(shell.tr.t("store.voice.saved"))
        await self.load()


def _section_title(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY), padding=ft.Padding.only(top=6))


def _muted(text: str) -> ft.Control:
    return ft.Text(text, size=13, color=ft.Colors.ON_SURFACE_VARIANT)


def _tag(text: str, background: str, color: str) -> ft.Control:
    return ft.Container(
        ft.Text(text, size=13, color=color),
        bgcolor=background,
        border_radius=12,
        padding=ft.Padding.symmetric(horizontal=10, vertical=4),
    )
