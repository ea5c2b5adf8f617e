"""Register a new member after a scanned code matched no one: name, phone, baby birth date, allergies.

The member is saved on the tablet and synced. The server sets the store, checks the code
and rejects a code that is already registered, and the rejection then shows in the sync status.
"""

import asyncio
import logging
import re
from datetime import date, timedelta

import flet as ft

from mobile.offline.members import validate_member_code
from mobile.offline.store_members import store_members
from mobile.views import FORM_MAX_WIDTH, Shell, fit_view_width
from mobile.views.member_profile import open_member
from mobile.views.voice_followup import status_node

log = logging.getLogger(__name__)

# Chinese mobile numbers: 11 digits starting with 1.
_MOBILE_NUMBER = re.compile(r"^1\d{10}$")
# The server accepts a due date up to 300 days ahead and a birth date up to 18 years back.
MAX_DUE_DAYS = 300
MAX_CHILD_AGE_DAYS = 18 * 366


def register_route(member_code: str, source: str) -> str:
    return f"/members/register/{member_code}/{source}"


class MemberRegisterScreen:
    def __init__(self, shell: Shell, member_code: str, source: str) -> None:
        check = validate_member_code(member_code)
        if not check.valid:
            raise ValueError(check.message)
        self._shell = shell
        self._member_code = check.member_code
        self._source = source
        tr = shell.tr

        self.name_field = ft.TextField(label=tr.t("store.register.name"), max_length=64, autofocus=True)
        self.phone_field = ft.TextField(label=tr.t("store.register.phone"), max_length=11, keyboard_type=ft.KeyboardType.PHONE)
        self.birth_field = ft.TextField(label=tr.t("store.register.birth_date"), hint_text="2026-06-01", max_length=10)
        self.allergen_field = ft.TextField(label=tr.t("store.register.allergens"), hint_text=tr.t("store.register.allergens_hint"),
                                           max_length=255)
        self.notice = ft.Text("", color=ft.Colors.ERROR)
        self._notice_node = status_node(self.notice)
        self.view = ft.View(
            route=register_route(self._member_code, source),
            appbar=ft.AppBar(title=ft.Text(tr.t("store.register.title"))),
            controls=[
                ft.ListView(
                    [
                        ft.Text(tr.t("store.register.code", code=self._member_code), size=15, weight=ft.FontWeight.W_500),
                        self.name_field, self.phone_field, self.birth_field, self.allergen_field, self._notice_node,
                        ft.FilledButton(tr.t("store.register.save"), icon=ft.Icons.PERSON_ADD, on_click=self._on_save),
                        ft.Text(tr.t("store.register.offline_note"), size=12, color=ft.Colors.ON_SURFACE_VARIANT),
                    ],
                    spacing=12,
                    padding=ft.Padding.symmetric(vertical=16),
                    expand=True,
                ),
            ],
            data=FORM_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    async def load(self) -> None:
        return None

    async def _on_save(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        name = (self.name_field.value or "").strip()
        phone = (self.phone_field.value or "").strip()
        birth_text = (self.birth_field.value or "").strip()
        problem = None
        birth = None
        if not name:
            problem = tr.t("store.register.name_missing")
        elif phone and not _MOBILE_NUMBER.match(phone):
            problem = tr.t("store.register.phone_invalid", value=phone)
        elif birth_text:
            birth, problem = _parse_birth_date(tr, birth_text)
        if problem:
            log.info("member registration not saved: %s", problem)
            self.notice.value = problem
            self._notice_node.visible = True
            self._notice_node.update()
            return

        members = store_members(self._shell.store)
        member_id = await asyncio.to_thread(
            members.register, self._member_code, name, phone, birth, (self.allergen_field.value or "").strip(),
        )
        log.info("member registered on the tablet member=%s", member_id)
        await open_member(self._shell, member_id, self._source)


def _parse_birth_date(tr, text: str) -> tuple[date | None, str | None]:
    try:
        birth = date.fromisoformat(text)
    except ValueError:
        return None, tr.t("store.register.birth_invalid", value=text)
    today = date.today()
    if birth > today + timedelta(days=MAX_DUE_DAYS) or birth < today - timedelta(days=MAX_CHILD_AGE_DAYS):
        return None, tr.t("store.register.birth_out_of_range", value=text)
    return birth, None
