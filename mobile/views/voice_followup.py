"""The one-line follow-up form, by voice or typing: used on a shopper's profile and on a rep's customer detail.

Tap the microphone button to record and tap it again to stop. flet-audio-recorder streams
PCM16 to Python; the chunks go to a Vosk recognizer on a worker thread
(mobile.voice.recognizer) while a meter shows the input level. The transcript lands in an
editable field for correction. The text is structured (core.followup_structuring) into
baby age, life stage, products, intent and timing, which fill the form's fields. It is also
matched to the knowledge base (core.talk_tracks). The best suggestions are shown with the
terms that matched, and the first one is chosen unless the user picks another. Saving hands
a FollowupDraft to the screen, which stores it offline.

Without vosk (phone builds) or without a model, the form shows why and how to install one,
and typing still works. Errors of a recording (silent, empty, over the length limit) are
shown and logged; text already in the field is kept.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import flet as ft

from core.followup_structuring import MAX_BABY_AGE_MONTHS, Intent, LifeStage, StructuredFollowup, structure_followup
from core.talk_tracks import KnowledgeBase, KnowledgeBaseError, MemberFacts, Suggestions, TermKind, load_knowledge_base, suggest_talk_tracks
from mobile.views import Shell
from mobile.voice import recognizer as voice

log = logging.getLogger(__name__)

# Level meter range: -60 dBFS (quiet room) shows empty, 0 dBFS full.
METER_FLOOR_DBFS = -60.0
# The server rejects a promised next contact further away (server.members.fields).
MAX_FOLLOWUP_IN_DAYS = 365
# Seconds to wait for the worker to decode the queued audio after the recording stopped.
FINISH_TIMEOUT_S = 20.0
SUGGESTION_COUNT = 3

_knowledge: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    """Load the zh-CN knowledge base in assets/knowledge once per process and return it."""
    global _knowledge
    if _knowledge is None:
        _knowledge = load_knowledge_base()
    return _knowledge


@dataclass
class FollowupDraft:
    """A follow-up as the form saves it: the text and the synced structured fields (core.wire FOLLOWUP_STRUCTURE_FIELDS)."""

    text: str
    input_method: str
    baby_age_months: int | None = None
    life_stage: str | None = None
    product_ids: list[str] = field(default_factory=list)
    intent: str | None = None
    followup_in_days: int | None = None
    talk_track_id: str | None = None

    def synced_fields(self) -> dict[str, Any]:
        return {
            "text": self.text, "input_method": self.input_method, "baby_age_months": self.baby_age_months,
            "life_stage": self.life_stage, "product_ids": self.product_ids, "intent": self.intent,
            "followup_in_days": self.followup_in_days, "talk_track_id": self.talk_track_id,
        }


class _Recording:
    """One recording: detects the stream's format, then feeds a BackgroundRecognizer.

    The format detector measures the byte rate over the chunks' arrival times. The first
    chunks can arrive late (in web mode they pass the page's connection while the app is
    busy), which makes the measured rate too low. So a measurement that matches no standard
    rate starts over from the next chunk instead of failing the recording.
    """

    def __init__(
        self, model: voice.VoiceModel, on_partial: Callable[[str], None], max_seconds: float = voice.MAX_RECORDING_SECONDS,
    ) -> None:
        self.model = model
        self.on_partial = on_partial
        self.max_seconds = max_seconds
        self.detector = voice.FormatDetector()
        self.recognizer: voice.BackgroundRecognizer | None = None
        self.buffered: list[bytes] = []
        self.bytes_received = 0
        # The current measurement: arrival of its first chunk, bytes after it, last arrival.
        self.window_start: float | None = None
        self.window_bytes = 0
        self.last_arrival = 0.0
        self.error: voice.VoiceError | None = None

    def feed(self, chunk: bytes) -> float:
        """Take one chunk; return its level in dBFS. Raises VoiceError (too long, bad chunk)."""
        self.bytes_received += len(chunk)
        if self.recognizer is not None:
            return self.recognizer.submit(chunk)

        now = time.monotonic()
        self.buffered.append(chunk)
        if self.window_start is None:
            self.window_start, self.window_bytes = now, 0
        else:
            self.window_bytes += len(chunk)
        self.last_arrival = now
        try:
            audio_format = self.detector.feed(chunk, now)
        except voice.AudioFormatError as error:
            log.info("voice input rate not settled (%s); measuring again", error)
            self.detector = voice.FormatDetector()
            self.window_start = None
            audio_format = None
        if audio_format is not None:
            self._start(audio_format)
        return _raw_level(chunk)

    def finish(self) -> voice.Transcript:
        """Decode what is left and return the transcript; raises the recording's VoiceError."""
        if self.recognizer is None:
            if self.bytes_received == 0:
                raise voice.EmptyRecording("No audio was received; check that the microphone is allowed and working.")
            elapsed = self.last_arrival - self.window_start if self.window_start is not None else 0.0
            if elapsed <= 0:
                raise voice.VoiceError("The recording is too short to measure its format; speak for at least two seconds.")
            audio_format = self.detector.estimate(self.window_bytes / elapsed)
            if audio_format is None:
                raise voice.SilentRecording("The recording is silent: no part of it reached speech level. Speak closer to the microphone.")
            self._start(audio_format)
        return self.recognizer.finish(timeout=FINISH_TIMEOUT_S)

    def cancel(self) -> None:
        if self.recognizer is not None:
            self.recognizer.cancel()

    def _start(self, audio_format: voice.AudioFormat) -> None:
        log.info("voice input format detected: %d Hz, %d channel(s)", audio_format.sample_rate, audio_format.channels)
        self.recognizer = voice.BackgroundRecognizer(self.model, audio_format, on_partial=self.on_partial, max_seconds=self.max_seconds)
        buffered, self.buffered = self.buffered, []
        for chunk in buffered:
            self.recognizer.submit(chunk)


def _raw_level(chunk: bytes) -> float:
    import array

    samples = array.array("h")
    samples.frombytes(chunk[: len(chunk) - len(chunk) % 2])
    return voice.level_dbfs(samples)


class VoiceFollowupForm:
    """The form's controls (`control`) and its behaviour. `member` gives the shopper's profile facts for matching."""

    def __init__(
        self,
        shell: Shell,
        on_save: Callable[[FollowupDraft], Awaitable[None]],
        member: MemberFacts | None = None,
        show_suggestions: bool = True,
        show_baby_fields: bool = True,
        text_label: str | None = None,
        save_label: str | None = None,
        empty_message: str | None = None,
    ) -> None:
        self._shell = shell
        self._on_save = on_save
        self._member = member
        self._show_suggestions = show_suggestions
        self._show_baby_fields = show_baby_fields
        self._recorder = None
        self._recording: _Recording | None = None
        self._used_voice = False
        self._structured: StructuredFollowup | None = None
        self._suggestions: Suggestions | None = None
        tr = shell.tr
        self._empty_message = empty_message or tr.t("store.voice.empty_text")

        self.record_button = ft.FilledButton(
            tr.t("store.voice.start"), icon=ft.Icons.MIC, on_click=self._on_record_click,
        )
        self.meter = ft.ProgressBar(value=0, width=140, bar_height=8, border_radius=4, visible=False)
        self.voice_notice = ft.Text("", size=12)
        self._voice_notice_node = status_node(self.voice_notice)
        self.text_field = ft.TextField(
            label=text_label or tr.t("store.voice.text_label"), hint_text=tr.t("store.voice.text_hint"),
            multiline=True, min_lines=2, max_lines=4, max_length=2000, on_change=self._on_text_change,
        )
        self.age_field = ft.TextField(label=tr.t("store.field.age"), width=130, dense=True, keyboard_type=ft.KeyboardType.NUMBER,
                                      suffix=ft.Text(tr.t("store.field.months")))
        self.stage_field = ft.Dropdown(
            label=tr.t("store.field.life_stage"), width=150, dense=True,
            options=[ft.DropdownOption(key=stage.value, text=tr.label("store.life_stage", stage.value)) for stage in LifeStage],
        )
        self.intent_field = ft.Dropdown(
            label=tr.t("store.field.intent"), width=150, dense=True,
            options=[ft.DropdownOption(key=intent.value, text=tr.label("store.intent", intent.value)) for intent in Intent],
        )
        self.days_field = ft.TextField(label=tr.t("store.field.followup_in_days"), width=150, dense=True,
                                       keyboard_type=ft.KeyboardType.NUMBER, suffix=ft.Text(tr.t("store.field.days")))
        self.products_row = ft.Row([], wrap=True, spacing=6, run_spacing=4)
        self.suggestion_group = ft.RadioGroup(content=ft.Column([], spacing=6), on_change=self._on_suggestion_change)
        self.excluded_text = ft.Text("", size=12, color=ft.Colors.ERROR, visible=False)
        self.save_notice = ft.Text("", size=13)
        self._save_notice_node = status_node(self.save_notice)
        self.save_button = ft.FilledButton(save_label or tr.t("store.voice.save"), icon=ft.Icons.SAVE, on_click=self._on_save_click)

        self.control = ft.Column(
            [
                ft.Row([self.record_button, self.meter], spacing=12, vertical_alignment=ft.CrossAxisAlignment.CENTER, wrap=True),
                self._voice_notice_node,
                self.text_field,
                ft.Row([*([self.age_field, self.stage_field] if show_baby_fields else []), self.intent_field, self.days_field],
                       wrap=True, spacing=8, run_spacing=8),
                self.products_row,
                *([ft.Text(tr.t("store.voice.suggestions"), size=14, weight=ft.FontWeight.W_600), self.suggestion_group, self.excluded_text]
                  if show_suggestions else []),
                ft.Row([self._save_notice_node, self.save_button], alignment=ft.MainAxisAlignment.END, wrap=True),
            ],
            spacing=10,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        )
        self._show_voice_availability()
        self.restructure()

    # ---- Voice availability ------------------------------------------------------------------

    def _show_voice_availability(self) -> None:
        tr = self._shell.tr
        if not voice.voice_available():
            log.info("voice input unavailable: %s", voice.voice_unavailable_reason())
            self._notice(tr.t("store.voice.no_engine"), ft.Colors.ON_SURFACE_VARIANT)
            self.record_button.disabled = True
            return
        path = self._shell.config.voice.model_path
        if not (path / "am" / "final.mdl").is_file():
            log.warning("Vosk model missing at %s; voice input falls back to typing", path)
            self._notice(tr.t("store.voice.no_model", path=str(path), model=voice.INTENDED_MODEL, url=voice.MODEL_DOWNLOAD_URL),
                         ft.Colors.ON_SURFACE_VARIANT)
            self.record_button.disabled = True

    def _notice(self, text: str, color: str) -> None:
        self.voice_notice.value = text
        self.voice_notice.color = color
        self._voice_notice_node.visible = bool(text)

    # ---- Recording ---------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._recording is not None

    async def toggle_recording(self) -> None:
        if self._recording is None:
            await self._start_recording()
        else:
            await self._stop_recording()

    async def _on_record_click(self, _event: ft.Event) -> None:
        await self.toggle_recording()

    async def _start_recording(self) -> None:
        import flet_audio_recorder as far

        tr = self._shell.tr
        self._notice(tr.t("store.voice.loading_model"), ft.Colors.ON_SURFACE_VARIANT)
        self.control.update()
        try:
            model = await asyncio.to_thread(voice.load_model, self._shell.config.voice.model_path)
        except voice.VoiceError as error:
            log.warning("voice input unavailable: %s", error)
            self._notice(tr.t("store.voice.model_error", detail=str(error)), ft.Colors.ERROR)
            self.record_button.disabled = True
            self.control.update()
            return

        if self._recorder is None:
            self._recorder = far.AudioRecorder(on_stream=self._on_chunk, on_state_change=self._on_state_change)
        self._recording = _Recording(model, self._on_partial)
        configuration = far.AudioRecorderConfiguration(encoder=far.AudioEncoder.PCM16BITS, sample_rate=16000, channels=1)
        try:
            started = await self._recorder.start_recording(configuration=configuration)
        except Exception as error:  # The platform raises its own types for a denied or missing microphone.
            started = False
            log.warning("microphone could not start: %r", error)
        if not started:
            self._recording = None
            self._notice(tr.t("store.voice.mic_error"), ft.Colors.ERROR)
            self.control.update()
            return

        self.record_button.content = tr.t("store.voice.stop")
        self.record_button.icon = ft.Icons.STOP
        self.meter.visible = True
        self.meter.value = 0
        self._notice(tr.t("store.voice.listening", seconds=int(voice.MAX_RECORDING_SECONDS)), ft.Colors.PRIMARY)
        self.control.update()

    def _on_chunk(self, event) -> None:
        """Called on the event loop for every PCM16 chunk: queue it and move the meter; decoding runs elsewhere."""
        recording = self._recording
        if recording is None or recording.error is not None:
            return
        try:
            level = recording.feed(event.chunk)
        except voice.VoiceError as error:
            recording.error = error
            log.warning("voice recording stopped: %s", error)
            self._shell.page.run_task(self._stop_recording)
            return
        self.meter.value = max(0.0, min(1.0, (level - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))
        self.meter.update()

    def _on_state_change(self, event) -> None:
        # flet-audio-recorder 1.0.5 puts the state in e.data, not e.state.
        log.debug("audio recorder state: %s", getattr(event, "data", None))

    def _on_partial(self, text: str) -> None:
        """Called on the decoding thread with the text so far."""
        self._shell.page.run_task(self._show_partial, text)

    async def _show_partial(self, text: str) -> None:
        if self._recording is None or not text:
            return
        self._notice(self._shell.tr.t("store.voice.partial", text=text), ft.Colors.PRIMARY)
        self._voice_notice_node.update()

    async def _stop_recording(self) -> None:
        recording = self._recording
        if recording is None:
            return
        self._recording = None
        tr = self._shell.tr
        try:
            await self._recorder.stop_recording()
        except Exception as error:  # Stopping a recorder the platform already stopped.
            log.info("stopping the recorder failed: %r", error)
        self.record_button.content = tr.t("store.voice.start")
        self.record_button.icon = ft.Icons.MIC
        self.meter.visible = False
        self._notice(tr.t("store.voice.recognising"), ft.Colors.PRIMARY)
        self.control.update()

        started = time.perf_counter()
        try:
            if recording.error is not None and not isinstance(recording.error, voice.RecordingTooLong):
                raise recording.error
            transcript = await asyncio.to_thread(recording.finish)
        except voice.VoiceError as error:
            recording.cancel()
            self._show_recording_error(error)
            return
        if isinstance(recording.error, voice.RecordingTooLong):
            self._notice(tr.t("store.voice.too_long", seconds=int(voice.MAX_RECORDING_SECONDS)), ft.Colors.ERROR)
        else:
            self._notice(tr.t("store.voice.recognised", seconds=f"{transcript.seconds:.1f}"), ft.Colors.PRIMARY)
        log.info("voice follow-up recognised: %.1f s of audio, decoded in %.2f s", transcript.seconds, transcript.decode_seconds)
        self._used_voice = True
        self._apply_transcript(transcript.text)
        log.info("end of speech to suggestions: %.0f ms", (time.perf_counter() - started) * 1000)

    def _show_recording_error(self, error: voice.VoiceError) -> None:
        tr = self._shell.tr
        if isinstance(error, voice.EmptyRecording):
            key = "store.voice.empty"
        elif isinstance(error, voice.SilentRecording):
            key = "store.voice.silent"
        elif isinstance(error, voice.NothingRecognised):
            key = "store.voice.nothing"
        else:
            key = "store.voice.failed"
        log.warning("voice follow-up not recognised: %s", error)
        self._notice(tr.t(key, detail=str(error)), ft.Colors.ERROR)
        self.control.update()

    def _apply_transcript(self, transcript: str) -> None:
        """Put the recognised text after what the field already has, then structure it."""
        existing = (self.text_field.value or "").strip()
        self.text_field.value = f"{existing} {transcript}".strip() if existing else transcript
        self.restructure()
        self.control.update()

    # ---- Structuring and suggestions ---------------------------------------------------------

    def _on_text_change(self, _event: ft.Event) -> None:
        self.restructure()
        self.control.update()

    def restructure(self) -> None:
        """Structure the field's text and refill the fields and the suggestions."""
        text = (self.text_field.value or "").strip()
        try:
            knowledge = knowledge_base()
        except KnowledgeBaseError as error:
            log.error("knowledge base unusable: %s", error)
            self._notice(str(error), ft.Colors.ERROR)
            return
        if not text:
            self._structured, self._suggestions = None, None
            self._fill_fields(None)
            self._fill_suggestions(None)
            return
        structured = structure_followup(text, knowledge.products, today=date.today())
        self._structured = structured
        self._fill_fields(structured)
        if self._show_suggestions:
            self._suggestions = suggest_talk_tracks(structured, knowledge, self._member, limit=SUGGESTION_COUNT)
            self._fill_suggestions(self._suggestions)

    def _fill_fields(self, structured: StructuredFollowup | None) -> None:
        tr = self._shell.tr
        age = structured.baby_age_months if structured else None
        self.age_field.value = "" if age is None else str(age)
        self.stage_field.value = structured.life_stage.value if structured and structured.life_stage else None
        self.intent_field.value = structured.intent.value if structured and structured.intent else None
        days = structured.followup_in_days if structured else None
        self.days_field.value = "" if days is None else str(days)
        products = structured.products if structured else ()
        self.products_row.controls = [
            ft.Text(tr.t("store.field.products"), size=13, color=ft.Colors.ON_SURFACE_VARIANT),
            *(_chip(mention.name + (f" {mention.variant}" if mention.variant else "")) for mention in products),
        ] if products else []

    def _fill_suggestions(self, suggestions: Suggestions | None) -> None:
        tr = self._shell.tr
        column: ft.Column = self.suggestion_group.content
        if suggestions is None or not suggestions.matches:
            hint = "store.voice.no_suggestions" if self._show_baby_fields else "store.voice.no_suggestions_general"
            column.controls = [ft.Text(tr.t(hint), size=13, color=ft.Colors.ON_SURFACE_VARIANT)]
            self.suggestion_group.value = None
        else:
            column.controls = [self._suggestion_tile(match) for match in suggestions.matches]
            chosen = self.suggestion_group.value
            if chosen not in {match.track.id for match in suggestions.matches}:
                self.suggestion_group.value = suggestions.matches[0].track.id
        excluded = [item for item in (suggestions.excluded if suggestions else ()) if item.reason.value == "allergen"]
        self.excluded_text.value = tr.t("store.voice.excluded", tracks="；".join(f"{item.track.title}（{item.detail}）" for item in excluded))
        self.excluded_text.visible = bool(excluded)

    def _suggestion_tile(self, match) -> ft.Control:
        tr = self._shell.tr
        terms = "、".join(f"{_term_text(tr, term)}（{tr.label('store.term_kind', term.kind.value)}）" for term in match.matched_terms)
        return ft.Container(
            ft.Row(
                [
                    ft.Radio(value=match.track.id),
                    ft.Column(
                        [
                            ft.Text(match.track.title, weight=ft.FontWeight.W_600),
                            ft.Text(tr.t("store.voice.matched", terms=terms, score=f"{match.score:g}"), size=12,
                                    color=ft.Colors.ON_SURFACE_VARIANT),
                            ft.Text(match.track.script, size=13, max_lines=3, overflow=ft.TextOverflow.ELLIPSIS),
                        ],
                        spacing=2, expand=True,
                    ),
                ],
                vertical_alignment=ft.CrossAxisAlignment.START,
            ),
            bgcolor=ft.Colors.SURFACE_CONTAINER_LOW,
            border_radius=8,
            padding=ft.Padding.only(right=10, top=6, bottom=6),
        )

    def _on_suggestion_change(self, _event: ft.Event) -> None:
        log.debug("talk track chosen: %s", self.suggestion_group.value)

    # ---- Saving ------------------------------------------------------------------------------

    def draft(self) -> FollowupDraft:
        """Return the form's content as a draft; raises ValueError naming a field that is not a whole number."""
        tr = self._shell.tr
        text = (self.text_field.value or "").strip()
        return FollowupDraft(
            text=text,
            input_method="voice" if self._used_voice else "typed",
            baby_age_months=_whole_number(tr, self.age_field.value, tr.t("store.field.age"), 0, MAX_BABY_AGE_MONTHS)
            if self._show_baby_fields else None,
            life_stage=(self.stage_field.value or None) if self._show_baby_fields else None,
            product_ids=list(self._structured.product_ids) if self._structured else [],
            intent=self.intent_field.value or None,
            followup_in_days=_whole_number(tr, self.days_field.value, tr.t("store.field.followup_in_days"), 0, MAX_FOLLOWUP_IN_DAYS),
            talk_track_id=self.suggestion_group.value if self._show_suggestions else None,
        )

    async def _on_save_click(self, _event: ft.Event) -> None:
        tr = self._shell.tr
        if self._recording is not None:
            await self._stop_recording()
        if not (self.text_field.value or "").strip():
            self._show_save_notice(self._empty_message, ft.Colors.ERROR)
            return
        try:
            draft = self.draft()
        except ValueError as error:
            self._show_save_notice(str(error), ft.Colors.ERROR)
            return
        await self._on_save(draft)

    def _show_save_notice(self, text: str, color: str) -> None:
        self.save_notice.value = text
        self.save_notice.color = color
        self._save_notice_node.visible = True
        self._save_notice_node.update()

    def reset(self, saved_message: str) -> None:
        """Clear the form after a save and show `saved_message`."""
        self.text_field.value = ""
        self._used_voice = False
        self.restructure()
        if not self.record_button.disabled:
            self._notice("", ft.Colors.PRIMARY)
        self.save_notice.value = saved_message
        self.save_notice.color = ft.Colors.PRIMARY
        self._save_notice_node.visible = True

    def dispose(self) -> None:
        """Stop a recording in progress when the screen goes away."""
        if self._recording is not None:
            self._recording.cancel()
            self._recording = None


def _whole_number(tr, value: str | None, label: str, low: int, high: int) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(tr.t("store.field.invalid_number", field=label, value=text, low=low, high=high))
    return int(text)


def status_node(notice: ft.Text) -> ft.Semantics:
    """Give a status text its own accessibility node, announced when it changes, instead of merging it into the form's.

    The node is hidden while the text is empty: Flet shows an error in a Semantics whose content is hidden.
    """
    return ft.Semantics(content=notice, container=True, live_region=True, visible=False)


def _term_text(tr, term) -> str:
    if term.kind is TermKind.AGE:
        return tr.t("store.term.age_months", months=term.term)
    if term.kind in (TermKind.INTENT, TermKind.LIFE_STAGE):
        return tr.label(f"store.{term.kind.value}", term.term)
    return term.term


def _chip(text: str) -> ft.Control:
    return ft.Container(
        ft.Text(text, size=12, color=ft.Colors.ON_SECONDARY_CONTAINER),
        bgcolor=ft.Colors.SECONDARY_CONTAINER,
        border_radius=12,
        padding=ft.Padding.symmetric(horizontal=10, vertical=4),
    )
