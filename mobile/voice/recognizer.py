"""Speech recognition with Vosk for one-line follow-ups: model loading, PCM16 streaming, levels, limits.

This is the desktop and web-mode implementation. The vosk wheel on PyPI is glibc-only and
Flet's mobile package index has no vosk, so in a phone build the import of vosk fails.
This module still imports: `voice_unavailable_reason()` returns why, and `load_model`
raises VoiceUnavailable, so the screen can hide the microphone button instead of crashing.

Audio arrives as PCM16 little-endian chunks in the microphone's own format (in Chromium,
44.1 kHz stereo, or 48 kHz mono with noise suppression on). The caller declares the format
with AudioFormat, or lets FormatDetector work it out from the first chunks. Chunks are
downmixed to mono and KaldiRecognizer gets the true sample rate, so Vosk resamples to the
model's rate itself. Given a wrong rate, Vosk returns nonsense.

Threading: one RecognitionSession is fed by one thread at a time. Vosk's decoding takes
0.3 to 0.6 of the audio's duration (bench/voice_pipeline.py, Korean test model, 2-CPU AMD
EPYC), too long for an audio callback, so a UI uses BackgroundRecognizer: `submit(chunk)` validates the chunk, computes
its level for the meter and queues it in well under a millisecond, and a worker thread
does the decoding (vosk calls release the GIL). Its `on_partial` callback runs on the
worker thread.
"""

import array
import json
import logging
import math
import operator
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:
    import vosk
except (ImportError, OSError) as error:  # OSError: the wheel is present but libvosk.so cannot load.
    vosk = None
    _VOSK_IMPORT_ERROR: Exception | None = error
else:
    _VOSK_IMPORT_ERROR = None

log = logging.getLogger(__name__)

INTENDED_MODEL = "vosk-model-small-cn-0.22"
MODEL_DOWNLOAD_URL = "https://alphacephei.com/vosk/models"
# Files every Vosk model directory has (the zip's top-level folder contains them).
MODEL_REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")

MAX_RECORDING_SECONDS = 30.0
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
MAX_CHANNELS = 8
SAMPLE_WIDTH_BYTES = 2
# 16-bit audio spans about 96 dB, so digital silence is reported at this level.
LEVEL_FLOOR_DBFS = -96.0
# A recording whose loudest chunk stays below this contains no speech. Speech close to a
# tablet microphone measures about -35 to -15 dBFS, a quiet shop's background below -50.
# NOTE: an estimate; not yet measured on the store tablets' microphones.
SPEECH_LEVEL_DBFS = -45.0


# ---- Errors ----------------------------------------------------------------------------------


class VoiceError(Exception):
    """Speech recognition failed. The message states why and what to do."""


class VoiceUnavailable(VoiceError):
    """The vosk package is not installed or cannot load (always the case in phone builds)."""


class ModelError(VoiceError):
    """The speech model cannot be used."""


class ModelNotFound(ModelError):
    """The model directory does not exist."""


class ModelInvalid(ModelError):
    """The model directory exists but is incomplete, misplaced or corrupt."""


class AudioFormatError(VoiceError, ValueError):
    """The declared audio format or a chunk's length is invalid."""


class RecordingTooLong(VoiceError):
    """The recording passed MAX_RECORDING_SECONDS; the audio before the limit is kept."""


class EmptyRecording(VoiceError):
    """No audio arrived."""


class SilentRecording(VoiceError):
    """Audio arrived but never reached speech level."""


class NothingRecognised(VoiceError):
    """The audio was loud enough but Vosk recognised no words."""


def voice_unavailable_reason() -> str | None:
    """Return why voice input cannot work in this process, or None when vosk is importable."""
    if vosk is None:
        return (
            f"Voice input is unavailable: the vosk package could not be imported ({_VOSK_IMPORT_ERROR}). "
            "Phone builds do not include it; on a desktop or server run `pip install -e .[voice]`."
        )
    return None


def voice_available() -> bool:
    return vosk is not None


# ---- Audio format and levels ------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFormat:
    """PCM16 little-endian interleaved audio: samples per second per channel, and channels."""

    sample_rate: int
    channels: int

    def __post_init__(self) -> None:
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int):
            raise AudioFormatError(f"Sample rate must be a whole number of Hz, got {self.sample_rate!r}.")
        if self.sample_rate < MIN_SAMPLE_RATE:
            raise AudioFormatError(
                f"Sample rate {self.sample_rate} Hz is below {MIN_SAMPLE_RATE} Hz, too low for speech recognition; "
                "record at 16 kHz or more."
            )
        if self.sample_rate > MAX_SAMPLE_RATE:
            raise AudioFormatError(f"Sample rate {self.sample_rate} Hz is above {MAX_SAMPLE_RATE} Hz; check the declared format.")
        if isinstance(self.channels, bool) or not isinstance(self.channels, int) or not 1 <= self.channels <= MAX_CHANNELS:
            raise AudioFormatError(f"Channel count must be 1 to {MAX_CHANNELS}, got {self.channels!r}.")

    @property
    def bytes_per_frame(self) -> int:
        return SAMPLE_WIDTH_BYTES * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.bytes_per_frame * self.sample_rate


def to_mono(chunk: bytes, audio_format: AudioFormat) -> array.array:
    """Return the chunk's samples as native int16, downmixed to mono by averaging the channels."""
    if len(chunk) % audio_format.bytes_per_frame:
        raise AudioFormatError(
            f"A chunk of {len(chunk)} bytes is not a whole number of frames: {audio_format.channels}-channel PCM16 "
            f"frames are {audio_format.bytes_per_frame} bytes. The declared format is wrong or the chunk was cut."
        )
    samples = array.array("h")
    samples.frombytes(chunk)
    if sys.byteorder == "big":
        samples.byteswap()
    channels = audio_format.channels
    if channels == 1:
        return samples
    if channels == 2:
        return array.array("h", map(_average_pair, samples[0::2], samples[1::2]))
    columns = [samples[channel::channels] for channel in range(channels)]
    return array.array("h", (sum(frame) // channels for frame in zip(*columns)))


def _average_pair(left: int, right: int) -> int:
    return (left + right) >> 1


def level_dbfs(samples: array.array) -> float:
    """Return the RMS level of int16 samples in dBFS (0 is full scale), at least LEVEL_FLOOR_DBFS."""
    if not samples:
        return LEVEL_FLOOR_DBFS
    mean_square = sum(map(operator.mul, samples, samples)) / len(samples)
    if mean_square == 0:
        return LEVEL_FLOOR_DBFS
    return max(LEVEL_FLOOR_DBFS, 10 * math.log10(mean_square / 32768**2))


def _little_endian_bytes(samples: array.array) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


# ---- Format detection -------------------------------------------------------------------------

STANDARD_SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
# Arrival-time jitter must stay below half the gap between 44.1 and 48 kHz (8.8 %).
MAX_RATE_ERROR = 0.04


class FormatDetector:
    """Work out the channels and sample rate of a PCM16 stream whose format is not declared.

    Chromium ignores the recorder's configured format, so in web mode Python receives raw
    PCM16 with no header. Channels come from the content. In interleaved stereo the two
    samples of a frame are much closer to each other than to the next frame's, while
    consecutive mono samples differ about equally. Only chunks at speech level count, so
    the detector waits while the input is quiet. The sample rate comes from the byte
    rate over the arrival times of at least `min_seconds` of chunks, snapped to the
    nearest standard rate within MAX_RATE_ERROR.

    NOTE: the arrival-time estimate has only been checked with simulated jitter, not with a
    real browser over a network; a caller that knows the format should declare it.
    """

    def __init__(self, min_seconds: float = 1.5) -> None:
        self.min_seconds = min_seconds
        self._first_arrival: float | None = None
        self._last_arrival = 0.0
        self._bytes_after_first = 0
        self._pair_difference = 0
        self._cross_difference = 0

    def feed(self, chunk: bytes, arrival_seconds: float) -> AudioFormat | None:
        """Record one chunk and when it arrived (time.monotonic()); return the format once known."""
        if self._first_arrival is None:
            self._first_arrival = arrival_seconds
        else:
            self._bytes_after_first += len(chunk)
        self._last_arrival = arrival_seconds
        self._measure_channel_similarity(chunk)

        elapsed = self._last_arrival - self._first_arrival
        if elapsed < self.min_seconds:
            return None
        return self.estimate(self._bytes_after_first / elapsed)

    def _measure_channel_similarity(self, chunk: bytes) -> None:
        samples = array.array("h")
        samples.frombytes(chunk[: len(chunk) - len(chunk) % 4])
        if sys.byteorder == "big":
            samples.byteswap()
        # Below speech level the channels of a stereo microphone carry independent noise,
        # which looks like mono, so only loud chunks count.
        if level_dbfs(samples) < SPEECH_LEVEL_DBFS:
            return
        left, right = samples[0::2], samples[1::2]
        self._pair_difference += sum(abs(a - b) for a, b in zip(left, right))
        self._cross_difference += sum(abs(b - a) for b, a in zip(right, left[1:]))

    def estimate(self, bytes_per_second: float) -> AudioFormat | None:
        """Return the format for a measured byte rate, or None while the content is too quiet to tell."""
        if self._cross_difference == 0:
            return None
        channels = 2 if self._pair_difference < 0.5 * self._cross_difference else 1
        measured_rate = bytes_per_second / (SAMPLE_WIDTH_BYTES * channels)
        nearest = min(STANDARD_SAMPLE_RATES, key=lambda rate: abs(rate - measured_rate))
        if abs(nearest - measured_rate) > MAX_RATE_ERROR * nearest:
            raise AudioFormatError(
                f"Measured {bytes_per_second:.0f} bytes/s ({measured_rate:.0f} Hz, {channels} channel(s)), "
                f"which is no standard sample rate; declare the format instead."
            )
        return AudioFormat(nearest, channels)


# ---- Model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceModel:
    path: Path
    load_seconds: float
    # The loaded vosk.Model.
    handle: object


_model_cache: dict[Path, VoiceModel] = {}
_model_cache_lock = threading.Lock()


def load_model(path: Path | str) -> VoiceModel:
    """Load the Vosk model in directory `path`, once per process (later calls return the same model).

    Raises VoiceUnavailable without vosk, ModelNotFound when the directory is missing, and
    ModelInvalid when it is not a complete model or Vosk cannot read it. Loading takes
    seconds, so call it from a worker thread.
    """
    if vosk is None:
        raise VoiceUnavailable(voice_unavailable_reason())
    path = Path(path).resolve()
    with _model_cache_lock:
        if path in _model_cache:
            return _model_cache[path]
        _check_model_directory(path)
        vosk.SetLogLevel(-1)
        started = time.perf_counter()
        try:
            handle = vosk.Model(str(path))
            # Some damage (a truncated graph) shows only when a recognizer is built (about 60 ms).
            vosk.KaldiRecognizer(handle, 16000.0)
        except Exception as error:  # vosk raises bare Exception("Failed to create a model").
            log.error("Vosk could not load the model in %s: %s", path, error)
            raise ModelInvalid(
                f"Vosk could not load the model in {path} ({error}); its files are incomplete or corrupt. "
                f"{_install_hint(path)}"
            ) from error
        model = VoiceModel(path=path, load_seconds=time.perf_counter() - started, handle=handle)
        _model_cache[path] = model
        log.info("Vosk model loaded from %s in %.2f s", path, model.load_seconds)
        return model


def _install_hint(path: Path) -> str:
    return (
        f"Download {INTENDED_MODEL}.zip from {MODEL_DOWNLOAD_URL} and unzip it so that {path / 'am' / 'final.mdl'} "
        "exists; the directory is [voice] model_path in flet.toml."
    )


def _check_model_directory(path: Path) -> None:
    if not path.exists():
        raise ModelNotFound(f"Vosk model directory {path} not found. {_install_hint(path)}")
    if not path.is_dir():
        raise ModelInvalid(f"Vosk model path {path} is a file, not a directory. {_install_hint(path)}")
    missing = [name for name in MODEL_REQUIRED_FILES if not (path / name).is_file()]
    if not missing:
        return
    nested = [child for child in path.iterdir() if child.is_dir() and (child / MODEL_REQUIRED_FILES[0]).is_file()]
    if nested:
        raise ModelInvalid(
            f"Vosk model directory {path} contains the model one level down, in {nested[0]}: "
            "move its contents up or point [voice] model_path in flet.toml at it."
        )
    raise ModelInvalid(f"Vosk model directory {path} is incomplete: {', '.join(missing)} missing. {_install_hint(path)}")


# ---- Recognition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkResult:
    level_dbfs: float
    # Everything recognised so far, for live display; "" until the first words.
    partial_text: str
    # Seconds of audio accepted so far.
    seconds: float


@dataclass(frozen=True)
class Transcript:
    # Words separated by spaces, numbers as words, as Vosk writes them.
    text: str
    seconds: float
    peak_level_dbfs: float
    audio_format: AudioFormat
    # Wall time spent in Vosk, for the real-time factor.
    decode_seconds: float


class RecognitionSession:
    """One recording: feed chunks with accept_chunk, then call finish. Not thread-safe."""

    def __init__(self, model: VoiceModel, audio_format: AudioFormat, max_seconds: float = MAX_RECORDING_SECONDS) -> None:
        if vosk is None:
            raise VoiceUnavailable(voice_unavailable_reason())
        self.audio_format = audio_format
        self.max_frames = int(max_seconds * audio_format.sample_rate)
        self._recognizer = vosk.KaldiRecognizer(model.handle, float(audio_format.sample_rate))
        self._frames = 0
        self._peak_dbfs = LEVEL_FLOOR_DBFS
        self._limit_reached = False
        self._segments: list[str] = []
        self._partial = ""
        self._decode_seconds = 0.0
        self._finished = False

    @property
    def seconds(self) -> float:
        return self._frames / self.audio_format.sample_rate

    def accept_chunk(self, chunk: bytes) -> ChunkResult:
        """Decode one chunk; return its level and the text so far.

        Raises AudioFormatError for a chunk that is not whole frames, and RecordingTooLong
        for the chunk that would pass the maximum length (that chunk is dropped, and the
        session can still be finished).
        """
        mono, level = self._prepare(chunk)
        partial = self._decode(mono)
        return ChunkResult(level_dbfs=level, partial_text=partial, seconds=self.seconds)

    def finish(self) -> Transcript:
        """Flush Vosk and return the transcript; raise EmptyRecording, SilentRecording or NothingRecognised."""
        if self._finished:
            raise VoiceError("This recognition session is already finished; start a new one.")
        self._finished = True
        started = time.perf_counter()
        final = json.loads(self._recognizer.FinalResult()).get("text", "")
        self._decode_seconds += time.perf_counter() - started
        text = " ".join(segment for segment in (*self._segments, final) if segment)

        if self._frames == 0:
            raise EmptyRecording("No audio was received; check that the microphone is allowed and working.")
        if self._peak_dbfs < SPEECH_LEVEL_DBFS:
            raise SilentRecording(
                f"The recording ({self.seconds:.1f} s) is silent: its loudest part is {self._peak_dbfs:.0f} dBFS, "
                f"below the speech level of {SPEECH_LEVEL_DBFS:.0f} dBFS. Speak closer to the microphone."
            )
        if not text:
            raise NothingRecognised(f"No words were recognised in {self.seconds:.1f} s of audio; please say it again.")
        return Transcript(text, self.seconds, self._peak_dbfs, self.audio_format, self._decode_seconds)

    # The two halves of accept_chunk. BackgroundRecognizer runs _prepare on the caller's
    # thread and _decode on its worker, so neither touches the other's state.

    def _prepare(self, chunk: bytes) -> tuple[bytes, float]:
        if self._finished:
            raise VoiceError("This recognition session is already finished; start a new one.")
        frames = len(chunk) // self.audio_format.bytes_per_frame
        mono = to_mono(chunk, self.audio_format)
        if self._limit_reached or self._frames + frames > self.max_frames:
            self._limit_reached = True
            raise RecordingTooLong(
                f"The recording passed the maximum of {self.max_frames / self.audio_format.sample_rate:.0f} s; "
                "the audio up to the limit is kept. Stop recording and finish."
            )
        self._frames += frames
        level = level_dbfs(mono)
        self._peak_dbfs = max(self._peak_dbfs, level)
        return _little_endian_bytes(mono), level

    def _decode(self, mono: bytes) -> str:
        if not mono:
            return self._text_so_far()
        started = time.perf_counter()
        if self._recognizer.AcceptWaveform(mono):
            segment = json.loads(self._recognizer.Result()).get("text", "")
            if segment:
                self._segments.append(segment)
            self._partial = ""
        else:
            self._partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        self._decode_seconds += time.perf_counter() - started
        return self._text_so_far()

    def _text_so_far(self) -> str:
        return " ".join(piece for piece in (*self._segments, self._partial) if piece)


_STOP = object()


class BackgroundRecognizer:
    """A RecognitionSession decoded on a worker thread, for audio callbacks that must return at once.

    `submit` runs on the caller's thread: it validates the chunk, enforces the maximum length
    and returns the chunk's level in dBFS for the level meter. `on_partial(text)` runs on the
    worker thread after each decoded chunk whose text changed. `finish` waits for the queue to
    drain and returns the transcript, or raises the error of the worker or of the recording.
    """

    def __init__(
        self,
        model: VoiceModel,
        audio_format: AudioFormat,
        on_partial: Callable[[str], None] | None = None,
        max_seconds: float = MAX_RECORDING_SECONDS,
    ) -> None:
        self.session = RecognitionSession(model, audio_format, max_seconds)
        self._on_partial = on_partial
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._cancelled = False
        self._worker = threading.Thread(target=self._run, name="vosk-decoder", daemon=True)
        self._worker.start()

    def submit(self, chunk: bytes) -> float:
        """Queue a chunk for decoding and return its level in dBFS; raises like accept_chunk."""
        mono, level = self.session._prepare(chunk)
        self._queue.put(mono)
        return level

    def finish(self, timeout: float | None = None) -> Transcript:
        """Wait up to `timeout` seconds for the queued audio to be decoded and return the transcript."""
        self._queue.put(_STOP)
        self._worker.join(timeout)
        if self._worker.is_alive():
            raise VoiceError(f"Speech decoding did not finish within {timeout} s.")
        if self._error is not None:
            raise self._error
        return self.session.finish()

    def cancel(self) -> None:
        """Stop decoding and drop queued audio; the worker exits after its current chunk."""
        self._cancelled = True
        self._queue.put(_STOP)

    def _run(self) -> None:
        last_partial = ""
        while True:
            item = self._queue.get()
            if item is _STOP or self._cancelled:
                return
            if self._error is not None:
                continue
            try:
                partial = self.session._decode(item)
                if self._on_partial is not None and partial != last_partial:
                    last_partial = partial
                    self._on_partial(partial)
            except Exception as error:  # Re-raised to the caller by finish().
                log.exception("Speech decoding failed")
                self._error = error
