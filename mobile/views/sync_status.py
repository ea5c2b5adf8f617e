"""The sync status bar under the home screen's app bar: pending changes, last sync, offline, rejections.

It shows the first download's progress as a bar, and opens the list of rejected changes with their reasons.
"""

import json
from datetime import datetime, timezone

import flet as ft

from mobile.offline.sync import SyncStatus
from mobile.views import Shell


class SyncStatusBar:
    def __init__(self, shell: Shell) -> None:
        self._shell = shell
        tr = shell.tr
        self._icon = ft.Icon(ft.Icons.CLOUD_DONE_OUTLINED, size=18, color=ft.Colors.PRIMARY)
        self._text = ft.Text(tr.t("sync.never"), size=12, no_wrap=True, overflow=ft.TextOverflow.ELLIPSIS)
        self._pending = ft.Text("", size=12, color=ft.Colors.TERTIARY, visible=False)
        self._rejected = ft.TextButton(
            "", icon=ft.Icons.ERROR_OUTLINE, visible=False, on_click=self._show_rejections,
            style=ft.ButtonStyle(color=ft.Colors.ERROR, padding=ft.Padding.symmetric(horizontal=6)),
        )
        self._sync_now = ft.IconButton(
            ft.Icon(ft.Icons.SYNC, size=18, semantics_label=tr.t("sync.now")), tooltip=tr.t("sync.now"), on_click=self._on_sync_now,
        )
        self._download_text = ft.Text("", size=12, visible=False)
        self._download_bar = ft.ProgressBar(value=0, visible=False, height=4)
        self.control = ft.Column(
            [
                ft.Row(
                    [self._icon, ft.Container(self._text, expand=True), self._pending, self._rejected, self._sync_now],
                    spacing=6,
                    vertical_alignment=ft.CrossAxisAlignment.CENTER,
                ),
                self._download_text,
                self._download_bar,
            ],
            spacing=2,
        )

    def show(self, status: SyncStatus) -> None:
        """Render `status`; safe to call from any task of the page's event loop."""
        tr = self._shell.tr
        if status.syncing:
            self._icon.icon, self._icon.color = ft.Icons.SYNC, ft.Colors.PRIMARY
            self._text.value = tr.t("sync.syncing")
        elif not status.online:
            self._icon.icon, self._icon.color = ft.Icons.CLOUD_OFF, ft.Colors.ERROR
            self._text.value = f"{tr.t('sync.offline')} · {self._last_sync_text(status)}"
        elif status.last_error:
            self._icon.icon, self._icon.color = ft.Icons.SYNC_PROBLEM, ft.Colors.ERROR
            self._text.value = tr.t("sync.error")
        else:
            self._icon.icon, self._icon.color = ft.Icons.CLOUD_DONE_OUTLINED, ft.Colors.PRIMARY
            self._text.value = self._last_sync_text(status)

        self._pending.value = tr.t("sync.pending", count=status.pending)
        self._pending.visible = status.pending > 0
        self._rejected.content = tr.t("sync.rejected", count=status.rejected)
        self._rejected.visible = status.rejected > 0

        download = status.download
        self._download_bar.visible = self._download_text.visible = download is not None
        if download is not None:
            if download.total:
                self._download_bar.value = min(1.0, download.received / download.total)
                self._download_text.value = tr.t("sync.download", received=download.received, total=download.total)
            else:
                self._download_bar.value = None
                self._download_text.value = tr.t("sync.download_unknown", received=download.received)
        if self.control.page is not None:
            self.control.update()

    def _last_sync_text(self, status: SyncStatus) -> str:
        tr = self._shell.tr
        if status.last_success_at is None:
            return tr.t("sync.never")
        moment = datetime.fromtimestamp(status.last_success_at, tz=timezone.utc)
        return tr.t("sync.synced_at", time=tr.format_time(moment))

    async def _on_sync_now(self, _event: ft.Event) -> None:
        self._shell.sync_now()

    async def _show_rejections(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        rejections = self._shell.local_rejections()
        items = [
            ft.ListTile(
                leading=ft.Icon(ft.Icons.ERROR_OUTLINE, color=ft.Colors.ERROR),
                title=ft.Text(_describe_rejected_record(tr, rejection)),
                subtitle=ft.Text(rejection["reason"]),
            )
            for rejection in rejections
        ] or [ft.Text(tr.t("sync.rejected_none"))]
        dialog = ft.AlertDialog(
            title=ft.Text(tr.t("sync.rejected_title")),
            content=ft.Column(items, scroll=ft.ScrollMode.AUTO, tight=True, width=520),
            actions=[ft.TextButton(tr.t("common.close"), on_click=lambda _e: self._shell.page.pop_dialog())],
        )
        self._shell.page.show_dialog(dialog)


def _describe_rejected_record(tr, rejection: dict) -> str:
    fields = rejection.get("fields")
    try:
        values = json.loads(fields) if isinstance(fields, str) else (fields or {})
    except json.JSONDecodeError:
        values = {}
    name = values.get("name") or values.get("text") or rejection.get("entity_id", "")
    moment = rejection.get("created_at")
    when = tr.format_time(datetime.fromisoformat(moment)) if moment else ""
    return f"{tr.label('entity', rejection.get('entity', ''))} · {name} · {when}"
