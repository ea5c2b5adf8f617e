"""Visit checklist: the synced template's items for the visit, answered on the device, then check-out.

Items are yes/no, choice, number, text or photo; required items are marked, and
"complete visit" stays disabled with the missing items named until each is answered.
Every answer is written to the local store when it is entered, so nothing depends on
the network. Photo items show the live camera (flet-camera): the picture is stored on
the device and uploaded by mobile.offline.photos after the next sync, and the item
shows its upload state. Completing patches the visit (status completed, checked_out_at)
and returns to the customer.
"""

import asyncio
import logging
import math
import uuid
from datetime import datetime, timezone

import flet as ft
import flet_camera as fc

from mobile.navigation import RouteSpec
from mobile.offline import visits
from mobile.offline.photos import PENDING, REJECTED, UPLOADED, PhotoQueue, PhotoUpload
from mobile.views import FORM_MAX_WIDTH, Shell, camera_failure, fit_view_width, is_shown, screen_body
from mobile.views.checkin import checklist_parent, checklist_route, reload_screen, remember_visit_customer
from mobile.views.customer_detail import customer_route

log = logging.getLogger(__name__)

# Seconds between refreshes of the photos' upload state while the screen is shown.
UPLOAD_STATE_POLL_S = 2.0
CAMERA_PREVIEW_HEIGHT = 240
PHOTO_PREVIEW_HEIGHT = 160


def is_answered(item: dict, answer: dict | None) -> bool:
    """Tell whether an answer counts for a required item, as the server decides it."""
    if answer is None:
        return False
    if item.get("type") == "photo":
        return answer.get("photo_id") is not None
    value = answer.get("value")
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def missing_required(items: list[dict], answers: dict[str, dict]) -> list[dict]:
    return [item for item in items if item.get("required") and not is_answered(item, answers.get(item["id"]))]


def parse_number(text: str, item: dict) -> float:
    """Parse a number answer; raise ValueError naming the value and the allowed range."""
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        raise ValueError("invalid") from None
    if not math.isfinite(value):
        raise ValueError("invalid")
    low, high = item.get("min"), item.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError("range")
    return int(value) if value.is_integer() else value


def _stored_value(item: dict, value):
    """Return an answer value as the item type expects it; SQLite stores true/false as 1/0."""
    if item.get("type") == "yes_no" and value is not None:
        return bool(value)
    return value


class ChecklistScreen:
    def __init__(self, shell: Shell, visit_id: uuid.UUID) -> None:
        self._shell = shell
        self._visit_id = str(visit_id)
        self._visit: dict | None = None
        self._items: list[dict] = []
        self._answers: dict[str, dict] = {}
        self._photos: PhotoQueue | None = None
        # Item id to its controls that change after an answer.
        self._fields: dict[str, ft.TextField] = {}
        self._photo_parts: dict[str, "_PhotoItem"] = {}
        self._poll_task: asyncio.Task | None = None
        self._completing = False
        tr = shell.tr

        self._subtitle = ft.Text("", size=12, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS, visible=False)
        self._title = ft.Column(
            [ft.Text(tr.t("checklist.title"), no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS), self._subtitle], spacing=0, tight=True,
        )
        self._missing = ft.Text("", size=13)
        self._complete = ft.FilledButton(
            tr.t("checklist.complete"), icon=ft.Icons.TASK_ALT, disabled=True, on_click=self._on_complete, height=52,
        )
        self.body = screen_body(spacing=12)
        self.view = ft.View(
            route=checklist_route(visit_id),
            appbar=ft.AppBar(title=self._title),
            controls=[self.body],
            data=FORM_MAX_WIDTH,
        )
        fit_view_width(self.view, shell.page.width)

    # ---- Loading ------------------------------------------------------------------------------

    async def load(self) -> None:
        store = self._shell.store
        tr = self._shell.tr
        if store is None:
            return
        self._photos = self._photos or await asyncio.to_thread(PhotoQueue, store)
        visit = await asyncio.to_thread(store.get_row, "visits", self._visit_id)
        if not is_shown(self._shell.page, self.view):
            return
        if visit is None:
            self.body.controls = [ft.Text(tr.t("checklist.visit_missing"))]
            self.body.update()
            return
        first_load = self._visit is None
        self._visit = visit
        remember_visit_customer(self._visit_id, visit["customer_id"])
        if not first_load:
            # A sync brought new data: the answers on screen are the device's own, so only the state lines change.
            await self._refresh_answers()
            return

        template = await asyncio.to_thread(visits.template_by_id, store, visit["template_id"])
        if template is None:
            template = await asyncio.to_thread(visits.active_template, store, visit["visit_type"] or visits.DEFAULT_VISIT_TYPE)
        customer = await asyncio.to_thread(store.get_row, "customers", visit["customer_id"])
        self._items = template.items if template else []
        self._answers = await asyncio.to_thread(visits.answers_of, store, self._visit_id)
        if customer:
            self._subtitle.value = customer["name"]
            self._subtitle.visible = True

        controls: list[ft.Control] = [ft.Text(tr.t("checklist.saved_offline"), size=12, color=ft.Colors.ON_SURFACE_VARIANT)]
        if not self._items:
            controls.append(ft.Text(tr.t("checklist.no_template"), color=ft.Colors.ON_SURFACE_VARIANT))
        for item in self._items:
            controls.append(self._item_card(item))
        controls += [self._missing, ft.Row([self._complete], alignment=ft.MainAxisAlignment.END)]
        self.body.controls = controls
        self._update_completion()
        self.view.update()

        for part in self._photo_parts.values():
            await part.start()
        if self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll_uploads())

    async def _refresh_answers(self) -> None:
        self._answers = await asyncio.to_thread(visits.answers_of, self._shell.store, self._visit_id)
        await self._show_upload_states()
        self._update_completion()
        self.view.update()

    # ---- Items --------------------------------------------------------------------------------

    def _item_card(self, item: dict) -> ft.Control:
        tr = self._shell.tr
        header: list[ft.Control] = [ft.Text(item.get("label", item["id"]), size=16, weight=ft.FontWeight.W_500, expand=True)]
        if item.get("required"):
            header.append(ft.Container(
                ft.Text(tr.t("checklist.required"), size=12, color=ft.Colors.ON_ERROR_CONTAINER),
                bgcolor=ft.Colors.ERROR_CONTAINER, border_radius=10, padding=ft.Padding.symmetric(horizontal=8, vertical=2),
            ))
        answer = self._answers.get(item["id"])
        value = _stored_value(item, answer.get("value")) if answer else None
        return ft.Container(
            ft.Column([ft.Row(header, spacing=8), self._input(item, value, answer)], spacing=8,
                      horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=12,
        )

    def _input(self, item: dict, value, answer: dict | None) -> ft.Control:
        tr = self._shell.tr
        kind = item.get("type")
        if kind == "yes_no":
            current = None
            if value is not None:
                current = "yes" if value else "no"
            return ft.RadioGroup(
                ft.Row([ft.Radio(value="yes", label=tr.t("checklist.yes")), ft.Radio(value="no", label=tr.t("checklist.no"))]),
                value=current,
                on_change=self._on_yes_no(item),
            )
        if kind == "choice":
            return ft.RadioGroup(
                ft.Row([ft.Radio(value=option, label=option) for option in item.get("options", [])], wrap=True, spacing=4, run_spacing=0),
                value=value,
                on_change=self._on_choice(item),
            )
        if kind == "number":
            helper = None
            if item.get("min") is not None and item.get("max") is not None:
                helper = tr.t("checklist.number_range", min=_plain(item["min"]), max=_plain(item["max"]))
            field = ft.TextField(
                value="" if value is None else _plain(value), label=tr.t("checklist.number_hint"), helper=helper,
                keyboard_type=ft.KeyboardType.NUMBER, on_blur=self._on_number(item), on_submit=self._on_number(item), dense=True,
            )
            self._fields[item["id"]] = field
            return field
        if kind == "text":
            field = ft.TextField(
                value=value or "", label=tr.t("checklist.text_hint"), multiline=True, min_lines=1, max_lines=4, max_length=1000,
                on_blur=self._on_text(item), on_submit=self._on_text(item), dense=True,
            )
            self._fields[item["id"]] = field
            return field
        if kind == "photo":
            part = _PhotoItem(self, item, answer.get("photo_id") if answer else None)
            self._photo_parts[item["id"]] = part
            return part.control
        return ft.Text(f"{item.get('type')!r}", color=ft.Colors.ERROR)

    def _on_yes_no(self, item: dict):
        async def handler(event: ft.Event) -> None:
            await self.save(item, event.control.value == "yes")

        return handler

    def _on_choice(self, item: dict):
        async def handler(event: ft.Event) -> None:
            await self.save(item, event.control.value)

        return handler

    def _on_number(self, item: dict):
        async def handler(_event: ft.Event) -> None:
            await self._save_number(item)

        return handler

    def _on_text(self, item: dict):
        async def handler(_event: ft.Event) -> None:
            await self._save_text(item)

        return handler

    async def _save_number(self, item: dict) -> bool:
        """Save the number field's value; show why it is not a valid answer and return False if not."""
        tr = self._shell.tr
        field = self._fields[item["id"]]
        text = (field.value or "").strip()
        field.error = None
        if not text:
            await self.save(item, None)
            field.update()
            return True
        try:
            number = parse_number(text, item)
        except ValueError as error:
            if str(error) == "range":
                field.error = tr.t("checklist.number_out_of_range", value=text, min=_plain(item.get("min")), max=_plain(item.get("max")))
            else:
                field.error = tr.t("checklist.number_invalid", value=text)
            field.update()
            return False
        await self.save(item, number)
        field.update()
        return True

    async def _save_text(self, item: dict) -> None:
        text = (self._fields[item["id"]].value or "").strip()
        current = self._answers.get(item["id"], {}).get("value")
        if text != (current or ""):
            await self.save(item, text or None)

    async def save(self, item: dict, value=None, photo_id: str | None = None) -> None:
        """Write one answer to the local store and refresh the completion state."""
        store = self._shell.store
        await asyncio.to_thread(
            visits.save_answer, store, self._visit_id, self._visit["customer_id"], item["id"], value, photo_id,
        )
        self._answers = await asyncio.to_thread(visits.answers_of, store, self._visit_id)
        if is_shown(self._shell.page, self.view):
            self._update_completion()
            self.view.update()

    # ---- Completion ---------------------------------------------------------------------------

    def _update_completion(self) -> None:
        tr = self._shell.tr
        completed = self._visit and self._visit["status"] == visits.COMPLETED
        missing = missing_required(self._items, self._answers)
        if completed:
            self._missing.value, self._missing.color = tr.t("checklist.completed"), ft.Colors.PRIMARY
        elif missing:
            names = "、".join(item.get("label", item["id"]) for item in missing)
            self._missing.value, self._missing.color = tr.t("checklist.missing", items=names), ft.Colors.ERROR
        else:
            self._missing.value, self._missing.color = tr.t("checklist.ready"), ft.Colors.PRIMARY
        self._complete.disabled = bool(missing) or bool(completed) or self._completing

    async def _on_complete(self, _event: ft.Event) -> None:
        if self._completing:
            return
        self._completing = True
        self._complete.disabled = True
        self._complete.update()
        try:
            # A field being edited has not been saved by its blur yet.
            for item in self._items:
                if item.get("type") == "text" and item["id"] in self._fields:
                    await self._save_text(item)
                elif item.get("type") == "number" and item["id"] in self._fields and not await self._save_number(item):
                    return
            if missing_required(self._items, self._answers):
                return
            store = self._shell.store
            checked_out_at = datetime.now(timezone.utc)
            await asyncio.to_thread(visits.complete_visit, store, self._visit_id, checked_out_at)
            log.info("visit completed visit=%s customer=%s", self._visit_id, self._visit["customer_id"])
            await self._stop_cameras()
            await self._shell.go(customer_route(self._visit["customer_id"]))
            await reload_screen(self._shell, customer_route(self._visit["customer_id"]))
        finally:
            self._completing = False
            if is_shown(self._shell.page, self.view):
                self._update_completion()
                self.view.update()

    # ---- Photos -------------------------------------------------------------------------------

    async def _poll_uploads(self) -> None:
        try:
            while is_shown(self._shell.page, self.view):
                await self._show_upload_states()
                await asyncio.sleep(UPLOAD_STATE_POLL_S)
        finally:
            self._poll_task = None

    async def _show_upload_states(self) -> None:
        changed = False
        for part in self._photo_parts.values():
            changed |= await part.refresh_state()
        if changed and is_shown(self._shell.page, self.view):
            self.view.update()

    async def _stop_cameras(self) -> None:
        for part in self._photo_parts.values():
            part.stop()

    async def photo_taken(self, item: dict, data: bytes) -> str:
        """Store a captured picture on the device, answer the item with it, and return the photo id."""
        photo_id = await asyncio.to_thread(self._photos.add, self._visit_id, item["id"], data)
        await self.save(item, None, photo_id)
        log.info("photo taken visit=%s item=%s photo=%s bytes=%d", self._visit_id, item["id"], photo_id, len(data))
        return photo_id


def _plain(number) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


class _PhotoItem:
    """A photo item: the live camera and "take photo", or the picture taken with its upload state."""

    def __init__(self, screen: ChecklistScreen, item: dict, photo_id: str | None) -> None:
        self._screen = screen
        self._item = item
        self.photo_id = photo_id
        self._camera: fc.Camera | None = None
        self._camera_ready = False
        tr = screen._shell.tr

        self._camera_box = ft.Container(height=CAMERA_PREVIEW_HEIGHT, border_radius=8, bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST, visible=False)
        self._preview = ft.Container(visible=False, alignment=ft.Alignment.CENTER_LEFT)
        self._message = ft.Text("", size=13, visible=False)
        self._state = ft.Text("", size=13, visible=False)
        self._take = ft.FilledButton(tr.t("checklist.photo.take"), icon=ft.Icons.PHOTO_CAMERA, on_click=self._on_take, disabled=True)
        self._retake = ft.OutlinedButton(tr.t("checklist.photo.retake"), icon=ft.Icons.REPLAY, on_click=self._on_retake, visible=False)
        self._retry = ft.OutlinedButton(tr.t("common.retry"), icon=ft.Icons.REFRESH, on_click=self._on_retry, visible=False)
        self.control = ft.Column(
            [self._camera_box, self._preview, self._message, self._state, ft.Row([self._take, self._retake, self._retry], wrap=True)],
            spacing=8,
        )
        self._last_state: tuple | None = None

    async def start(self) -> None:
        """Show the stored picture, or open the camera when the item has none."""
        if self.photo_id is not None:
            await self._show_stored()
        else:
            await self._open_camera()

    async def _show_stored(self) -> None:
        upload = await asyncio.to_thread(self._screen._photos.get, self.photo_id)
        if upload is not None and upload.path.exists():
            self._show_picture(await asyncio.to_thread(upload.path.read_bytes))
        self._take.visible = False
        self._retake.visible = True
        await self.refresh_state()
        self.control.update()

    async def _open_camera(self) -> None:
        tr = self._screen._shell.tr
        self._show_message(tr.t("checklist.photo.opening"), ft.Colors.ON_SURFACE_VARIANT)
        self._retry.visible = False
        if self._camera is None:
            self._camera = fc.Camera(expand=True, preview_enabled=True)
            self._camera_box.content = self._camera
        self._camera_box.visible = True
        self.control.update()
        try:
            cameras = await self._camera.get_available_cameras()
            if not cameras:
                self._fail(tr.t("checklist.photo.no_camera"))
                return
            back = [camera for camera in cameras if camera.lens_direction == fc.CameraLensDirection.BACK]
            await self._camera.initialize(back[0] if back else cameras[0], fc.ResolutionPreset.HIGH, enable_audio=False)
        except (RuntimeError, TimeoutError) as error:
            log.warning("camera unavailable for item %s: %s", self._item["id"], error)
            self._fail(_camera_error_text(tr, error))
            return
        self._camera_ready = True
        self._message.visible = False
        self._take.disabled = False
        self.control.update()

    def _show_picture(self, data: bytes) -> None:
        label = self._screen._shell.tr.t("checklist.photo.preview")
        self._preview.content = ft.Image(src=data, height=PHOTO_PREVIEW_HEIGHT, fit=ft.BoxFit.CONTAIN, semantics_label=label)
        self._preview.visible = True

    def _fail(self, text: str) -> None:
        self._camera_box.visible = False
        self._take.disabled = True
        self._retry.visible = True
        self._show_message(text, ft.Colors.ERROR)
        self.control.update()

    def _show_message(self, text: str, color: str) -> None:
        self._message.value = text
        self._message.color = color
        self._message.visible = True

    async def _on_take(self, _event: ft.Event) -> None:
        tr = self._screen._shell.tr
        if not self._camera_ready:
            return
        self._take.disabled = True
        self._take.update()
        try:
            data = await self._camera.take_picture()
        except (RuntimeError, TimeoutError) as error:
            log.warning("taking a picture failed for item %s: %s", self._item["id"], error)
            self._show_message(tr.t("checklist.photo.capture_failed", reason=str(error)), ft.Colors.ERROR)
            self._take.disabled = False
            self.control.update()
            return
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.photo_id = await self._screen.photo_taken(self._item, bytes(data))
        self.stop()
        self._show_picture(bytes(data))
        self._message.visible = False
        self._take.visible = False
        self._retake.visible = True
        self._last_state = None
        await self.refresh_state()
        self.control.update()

    async def _on_retake(self, _event: ft.Event) -> None:
        self._preview.visible = False
        self._retake.visible = False
        self._take.visible = True
        self._take.disabled = True
        self._state.visible = False
        await self._open_camera()

    async def _on_retry(self, _event: ft.Event) -> None:
        await self._open_camera()

    def stop(self) -> None:
        """Remove the live camera control from the item.

        NOTE: whether removing the control releases the device camera at once was not checked on a phone.
        """
        self._camera_ready = False
        self._camera_box.visible = False
        self._camera_box.content = None
        self._camera = None

    async def refresh_state(self) -> bool:
        """Show the photo's upload state; return whether it changed."""
        if self.photo_id is None:
            return False
        upload = await asyncio.to_thread(self._screen._photos.get, self.photo_id)
        key = (upload.state, upload.sent, upload.error) if upload else None
        if key == self._last_state:
            return False
        self._last_state = key
        text, color = _upload_text(self._screen._shell.tr, upload)
        self._state.value, self._state.color, self._state.visible = text, color, True
        return True


def _upload_text(tr, upload: PhotoUpload | None) -> tuple[str, str]:
    if upload is None or upload.state == PENDING and upload.sent == 0:
        return tr.t("checklist.photo.pending"), ft.Colors.TERTIARY
    if upload.state == UPLOADED:
        return tr.t("checklist.photo.uploaded"), ft.Colors.PRIMARY
    if upload.state == REJECTED:
        return tr.t("checklist.photo.rejected", reason=upload.error or ""), ft.Colors.ERROR
    percent = int(100 * upload.sent / upload.size) if upload.size else 0
    return tr.t("checklist.photo.uploading", percent=percent), ft.Colors.TERTIARY


def _camera_error_text(tr, error: BaseException) -> str:
    kind = camera_failure(error)
    if kind == "missing":
        return tr.t("checklist.photo.no_camera")
    if kind == "denied":
        return tr.t("checklist.photo.camera_denied")
    return tr.t("checklist.photo.camera_failed", reason=str(error))


# ---- Registration ---------------------------------------------------------------------------

def _build(shell: Shell, params: dict[str, str]) -> ChecklistScreen:
    return ChecklistScreen(shell, uuid.UUID(params["visit_id"]))


ROUTE = RouteSpec(checklist_route(":visit_id"), _build, parent=checklist_parent)
