"""The store clerk's home on the tablet: a scan area always ready, the last shoppers served, follow-ups due.

A member code comes in three ways, all to the same lookup in the store's members on the
device (so it works offline):
- the camera: the preview runs on the screen and "扫码" takes a picture that pyzbar decodes;
- a keyboard-wedge scanner: page keyboard events go to a WedgeDetector, so a scan needs no
  focused field. The handler is synchronous because Flet dispatches each key event as its
  own task and an async handler could reorder them;
- typing into the code field.
A code that is not a member code gets a message naming the problem and the value. A valid
code of no member offers to register one.

Landscape tablets (1280x800) show the scan area and the lists side by side; narrower
windows stack them.
"""

import asyncio
import logging
import time

import flet as ft

from mobile.offline.members import MemberCodeCheck, MemberCodeProblem, validate_member_code
from mobile.offline.store_members import DueFollowup, ServedShopper, store_members
from mobile.scan import camera as camera_decode
from mobile.scan.wedge import ENTER_KEYS, WedgeDetector
from mobile.views import Shell, camera_failure, fit_view_width, home_app_bar, is_shown
from mobile.views.member_profile import open_member
from mobile.views.member_register import register_route
from mobile.views.sync_status import SyncStatusBar
from mobile.views.voice_followup import status_node

log = logging.getLogger(__name__)

HOME_MAX_WIDTH = 1200
MEMBER_LIST_ROUTE = "/members"
# A scanner's Enter can also submit a focused code field: the second lookup of the same code within this window is dropped.
DUPLICATE_SCAN_WINDOW_S = 1.5
CAMERA_START_TIMEOUT_S = 20
# Key events reach Python through the page's connection, which adds jitter: keys typed 15 ms
# apart in Chromium arrived up to 60 ms apart on a loaded 2-core machine (flet 1.0.5, web mode).
# People typing stay above 100 ms between most keys, so 13 digits and Enter under it are a scanner.
WEDGE_MAX_KEY_GAP_MS = 100
CAMERA_PREVIEW_HEIGHT = 260


class ClerkHomeScreen:
    """Home screen of clerks and store managers."""

    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        self._wedge = WedgeDetector(max_gap_ms=WEDGE_MAX_KEY_GAP_MS)
        self._last_code: tuple[str, float] | None = None
        self._camera_started = False
        self._focused_field: ft.TextField | None = None
        tr = shell.tr

        self.camera = _new_camera()
        self.camera_notice = ft.Text(tr.t("store.scan.camera_starting"), size=12, color=ft.Colors.ON_SURFACE_VARIANT)
        self.capture_button = ft.FilledButton(tr.t("store.scan.capture"), icon=ft.Icons.QR_CODE_SCANNER, on_click=self._on_capture)
        self.code_field = ft.TextField(
            label=tr.t("store.scan.code_label"), hint_text=tr.t("store.scan.code_hint"), dense=True, expand=True,
            on_submit=self._on_code_submit, on_focus=self._on_field_focus, on_blur=self._on_field_blur,
        )
        self.status = ft.Text("", size=14)
        self._status_node = status_node(self.status)
        self.register_button = ft.OutlinedButton(tr.t("store.scan.register"), icon=ft.Icons.PERSON_ADD, visible=False)
        self.shoppers = ft.Column([], spacing=6)
        self.due = ft.Column([], spacing=6)
        self.sync_status = SyncStatusBar(shell)

        scan_card = ft.Card(
            ft.Container(
                ft.Column(
                    [
                        ft.Text(tr.t("store.scan.title"), size=18, weight=ft.FontWeight.W_600),
                        ft.Container(self.camera, height=CAMERA_PREVIEW_HEIGHT, border_radius=8, bgcolor=ft.Colors.BLACK,
                                     clip_behavior=ft.ClipBehavior.HARD_EDGE, alignment=ft.Alignment.CENTER),
                        ft.Row([self.capture_button, self.camera_notice], spacing=12, wrap=True,
                               vertical_alignment=ft.CrossAxisAlignment.CENTER),
                        ft.Row([self.code_field, ft.OutlinedButton(tr.t("store.scan.lookup"), icon=ft.Icons.SEARCH,
                                                                   on_click=self._on_code_submit)],
                               vertical_alignment=ft.CrossAxisAlignment.START),
                        ft.Text(tr.t("store.scan.wedge_hint"), size=12, color=ft.Colors.ON_SURFACE_VARIANT),
                        self._status_node,
                        self.register_button,
                    ],
                    spacing=10,
                ),
                padding=16,
            ),
            margin=0,
            col={"xs": 12, "md": 7},
        )
        lists = ft.Column(
            [
                _section_title(tr.t("store.home.recent_shoppers")),
                self.shoppers,
                _section_title(tr.t("store.home.due_followups")),
                self.due,
            ],
            spacing=8,
            col={"xs": 12, "md": 5},
        )
        self.view = ft.View(
            route="/",
            appbar=self._app_bar(),
            controls=[
                self.sync_status.control,
                ft.ListView([ft.ResponsiveRow([scan_card, lists], spacing=16, run_spacing=16)], expand=True,
                            padding=ft.Padding.only(bottom=16)),
            ],
            data=HOME_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)
        shell.page.on_keyboard_event = self._on_keyboard_event

    def _app_bar(self) -> ft.AppBar:
        shell = self._shell
        tr = shell.tr
        bar = home_app_bar(shell, tr.t("store.home.title"), subtitle=shell.user.store_name if shell.user else None)

        async def open_list(_event: ft.Event) -> None:
            await shell.go(MEMBER_LIST_ROUTE)

        label = tr.t("store.home.member_list")
        bar.actions.insert(0, ft.IconButton(ft.Icon(ft.Icons.PEOPLE_OUTLINE, semantics_label=label), tooltip=label, on_click=open_list))
        return bar

    async def load(self) -> None:
        await self._load_lists()
        if not self._camera_started:
            self._camera_started = True
            await self._start_camera()

    # ---- Lists -------------------------------------------------------------------------------

    async def _load_lists(self) -> None:
        shell = self._shell
        members = store_members(shell.store)
        shoppers = await asyncio.to_thread(members.recent_shoppers, str(shell.user.id))
        due = await asyncio.to_thread(members.due_followups)
        if not is_shown(shell.page, self.view):
            return
        tr = shell.tr
        self.shoppers.controls = [self._shopper_tile(item) for item in shoppers] or [_muted(tr.t("store.home.no_shoppers"))]
        self.due.controls = [self._due_tile(item) for item in due] or [_muted(tr.t("store.home.no_due"))]
        self.view.update()

    def _shopper_tile(self, shopper: ServedShopper) -> ft.Control:
        tr = self._shell.tr
        member = shopper.member
        subtitle = f"{tr.format_time(shopper.viewed_at)} · {tr.label('store.view_source', shopper.source)}"
        if member.allergens:
            subtitle += f" · {tr.t('store.home.allergy_mark')}"

        async def open_profile(_event: ft.Event) -> None:
            await open_member(self._shell, member.id, "list")

        return ft.ListTile(
            leading=ft.CircleAvatar(content=ft.Text(member.name[:1])),
            title=ft.Text(member.name, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            subtitle=ft.Text(subtitle, size=12, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS,
                             color=ft.Colors.ERROR if member.allergens else None),
            trailing=ft.Icon(ft.Icons.CHEVRON_RIGHT),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            shape=ft.RoundedRectangleBorder(radius=8),
            on_click=open_profile,
        )

    def _due_tile(self, item: DueFollowup) -> ft.Control:
        tr = self._shell.tr

        async def open_profile(_event: ft.Event) -> None:
            await open_member(self._shell, item.member.id, "list")

        return ft.ListTile(
            leading=ft.Icon(ft.Icons.EVENT_NOTE, color=ft.Colors.TERTIARY),
            title=ft.Text(f"{item.member.name} · {tr.t('store.home.due_on', date=item.due.isoformat())}",
                          no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS),
            subtitle=ft.Text(item.text, size=12, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            shape=ft.RoundedRectangleBorder(radius=8),
            on_click=open_profile,
        )

    # ---- Camera ------------------------------------------------------------------------------

    async def _start_camera(self) -> None:
        tr = self._shell.tr
        if self.camera is None:
            self._camera_failed(tr.t("store.scan.camera_missing"), "flet-camera is not installed")
            return
        import flet_camera as fc

        try:
            cameras = await asyncio.wait_for(self.camera.get_available_cameras(), CAMERA_START_TIMEOUT_S)
            if not cameras:
                self._camera_failed(tr.t("store.scan.camera_missing"), "no camera found")
                return
            back = [c for c in cameras if getattr(c, "lens_direction", None) == fc.CameraLensDirection.BACK]
            await asyncio.wait_for(
                self.camera.initialize((back or cameras)[0], fc.ResolutionPreset.HIGH, enable_audio=False), CAMERA_START_TIMEOUT_S,
            )
        except (TimeoutError, Exception) as error:  # The plugin raises its own exception types for denied access.
            missing = camera_failure(error) == "missing"
            self._camera_failed(tr.t("store.scan.camera_missing" if missing else "store.scan.camera_failed"), repr(error))
            return
        self.camera_notice.value = tr.t("store.scan.camera_ready")
        if is_shown(self._shell.page, self.view):
            self.camera_notice.update()

    def _camera_failed(self, message: str, detail: str) -> None:
        log.warning("camera unavailable on the clerk home: %s", detail)
        self.capture_button.disabled = True
        self.camera_notice.value = message
        self.camera_notice.color = ft.Colors.ERROR
        if is_shown(self._shell.page, self.view):
            self.view.update()

    async def _on_capture(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        started = time.perf_counter()
        try:
            picture = await self.camera.take_picture()
        except Exception as error:  # The plugin raises its own exception types.
            log.warning("camera picture failed: %r", error)
            self._show_status(tr.t("store.scan.capture_failed"), error=True)
            return
        try:
            codes = await asyncio.to_thread(camera_decode.decode_picture, picture)
        except camera_decode.NoCodeFound as error:
            log.info("no code in the camera picture: %s", error)
            self._show_status(tr.t("store.scan.no_code"), error=True)
            return
        except camera_decode.ScanError as error:
            log.warning("camera picture unreadable: %s", error)
            self._show_status(tr.t("store.scan.unreadable", detail=str(error)), error=True)
            return
        log.info("camera picture decoded in %.0f ms: %s", (time.perf_counter() - started) * 1000,
                 ", ".join(code.symbology for code in codes))
        valid = [code.text for code in codes if validate_member_code(code.text).valid]
        await self.open_code(valid[0] if valid else codes[0].text, "camera")

    # ---- Keyboard-wedge scanner and typing -------------------------------------------------------

    def _on_keyboard_event(self, event: ft.KeyboardEvent) -> None:
        """Feed every key to the wedge detector; kept synchronous so key order is preserved."""
        if not is_shown(self._shell.page, self.view):
            return
        pending = self._wedge.pending
        scanned = self._wedge.feed(event.key, time.monotonic() * 1000, shift=event.shift)
        if scanned is None:
            if event.key in ENTER_KEYS and len(pending) >= 4:
                log.info("Enter after %d fast keys: too short or too slow for a scanner, ignored", len(pending))
            return
        log.info("keyboard-wedge scan of %d keys in %.0f ms", scanned.key_count, scanned.enter_ms - scanned.first_key_ms)
        field = self._focused_field
        if field is not None and (field.value or "").endswith(scanned.text):
            # The scanner also typed into the focused field: take the code out again.
            field.value = field.value[: -len(scanned.text)]
            field.update()
        self._shell.page.run_task(self.open_code, scanned.text, "wedge")

    def _on_field_focus(self, event: ft.Event) -> None:
        self._focused_field = event.control

    def _on_field_blur(self, _event: ft.Event) -> None:
        self._focused_field = None

    async def _on_code_submit(self, _event: ft.Event) -> None:
        text = self.code_field.value or ""
        if text.strip():
            await self.open_code(text, "typed")

    # ---- Lookup ------------------------------------------------------------------------------

    async def open_code(self, text: str, source: str) -> None:
        """Look the code up in the store's members and open the profile, or show what is wrong with it."""
        tr = self._shell.tr
        check = validate_member_code(text)
        if not check.valid:
            log.warning("member code rejected (%s): %s", source, check.message)
            self._show_status(_problem_text(tr, check, text), error=True)
            return
        if self._is_duplicate(check.member_code):
            return

        members = store_members(self._shell.store)
        started = time.perf_counter()
        profile = await asyncio.to_thread(members.lookup, check.member_code)
        log.info("member lookup (%s) took %.1f ms, found=%s", source, (time.perf_counter() - started) * 1000, profile is not None)
        if profile is None:
            self._offer_registration(check.member_code, source)
            return

        self.code_field.value = ""
        self._hide_status()
        await open_member(self._shell, profile.id, source)

    def _is_duplicate(self, code: str) -> bool:
        now = time.monotonic()
        last = self._last_code
        self._last_code = (code, now)
        return last is not None and last[0] == code and now - last[1] < DUPLICATE_SCAN_WINDOW_S

    def _offer_registration(self, member_code: str, source: str) -> None:
        tr = self._shell.tr
        log.info("member code %s not found in this store; offering registration", member_code)

        async def register(_event: ft.Event) -> None:
            await self._shell.go(register_route(member_code, source))

        self.register_button.on_click = register
        self.register_button.visible = True
        self._show_status(tr.t("store.scan.unknown", code=member_code), error=False)

    def _show_status(self, text: str, error: bool) -> None:
        self.status.value = text
        self.status.color = ft.Colors.ERROR if error else ft.Colors.ON_SURFACE
        self._status_node.visible = True
        if error:
            self.register_button.visible = False
        if is_shown(self._shell.page, self.view):
            self.view.update()

    def _hide_status(self) -> None:
        self._status_node.visible = False
        self.register_button.visible = False


def _problem_text(tr, check: MemberCodeCheck, text: str) -> str:
    value = text.strip()[:40]
    if check.problem is MemberCodeProblem.EMPTY:
        return tr.t("store.code.empty")
    if check.problem is MemberCodeProblem.UNEXPECTED_CHARACTERS:
        return tr.t("store.code.unexpected_characters", value=value)
    if check.problem is MemberCodeProblem.WRONG_LENGTH:
        digits = sum(character.isdigit() for character in value)
        return tr.t("store.code.wrong_length", value=value, count=digits)
    if check.problem is MemberCodeProblem.BAD_CHECK_DIGIT:
        return tr.t("store.code.bad_check_digit", value=value)
    return tr.t("store.code.product_barcode", value=value)


def _new_camera():
    """Return the camera preview control, or None where flet-camera is not installed."""
    try:
        import flet_camera as fc
    except ImportError:
        return None
    return fc.Camera(preview_enabled=True, expand=True)


def _section_title(text: str) -> ft.Control:
    return ft.Container(ft.Text(text, size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY), padding=ft.Padding.only(top=4))


def _muted(text: str) -> ft.Control:
    return ft.Text(text, size=13, color=ft.Colors.ON_SURFACE_VARIANT)
