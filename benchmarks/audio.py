"""The audio servables' speed and memory: transcription's real-time factor, seconds per speech request, and
the resident memory (RSS) of each audio engine process.

It starts a server (ovserve serve) with a transcription and a speech servable, sends sequential requests
through the HTTP API (the time a client sees), and reads each engine's VmRSS from /proc. Models: exported
folders (`ovserve export --task automatic_speech_recognition` / `text_to_speech`), or with --tiny the random
tiny models of the tests, built and exported into a temporary folder (their numbers measure the server's
overheads, not a real model's speed).

Examples (from the repository root):

    .venv/bin/python benchmarks/audio.py --tiny
    .venv/bin/python benchmarks/audio.py --whisper models/whisper-tiny --speech models/speecht5_tts
"""

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
import requests
import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ovserve.server.launcher import LaunchedServer  # noqa: E402

WHISPER, SPEECH = "whisper", "speech"
TEXTS = ("Hello world.", "The quick brown fox jumps over the lazy dog.", "One two three four five six seven eight.")


def tone(seconds, rate=16000):
    t = numpy.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.3 * numpy.sin(2 * numpy.pi * 440 * t)).astype(numpy.float32), rate, format="WAV")
    return buffer.getvalue()


def build_tiny(root):
    script = REPO / "tests" / "e2e" / "tiny_audio_models.py"
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(script), "whisper", str(root / "src" / "whisper")], check=True, env=env)
    subprocess.run([sys.executable, str(script), "speecht5", str(root / "src")], check=True, env=env)
    export = [sys.executable, "-m", "ovserve", "export", "--weight-format", "fp16"]
    task = ["--task", "automatic_speech_recognition", "--output-dir", str(root / "whisper")]
    subprocess.run([*export, str(root / "src" / "whisper"), *task], check=True, cwd=REPO)
    speech_task = ["--task", "text_to_speech", "--vocoder", str(root / "src" / "hifigan")]
    subprocess.run(
        [*export, str(root / "src" / "speecht5"), *speech_task, "--output-dir", str(root / "speech")],
        check=True,
        cwd=REPO,
    )
    return root / "whisper", root / "speech"


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def transcription_rtf(url, seconds, repeats):
    audio = tone(seconds)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = requests.post(
            f"{url}/audio/transcriptions",
            data={"model": WHISPER, "language": "en"},
            files={"file": ("tone.wav", audio, "audio/wav")},
            timeout=600,
        )
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times) / seconds, statistics.median(times)


def speech_seconds(url, repeats):
    times, spoken = [], []
    for text in TEXTS * repeats:
        started = time.perf_counter()
        answer = requests.post(
            f"{url}/audio/speech", json={"model": SPEECH, "input": text, "voice": "default"}, timeout=600
        )
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
        info = soundfile.info(io.BytesIO(answer.content))
        spoken.append(info.frames / info.samplerate)
    return statistics.median(times), statistics.median(spoken)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--whisper", type=Path, help="an exported Whisper folder (with graph.json)")
    parser.add_argument("--speech", type=Path, help="an exported text-to-speech folder (with graph.json)")
    parser.add_argument("--tiny", action="store_true", help="build and export the tests' tiny random models")
    parser.add_argument("--durations", default="5,30,120", help="seconds of audio to transcribe, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ovserve-audio-bench-") as folder:
        root = Path(folder)
        whisper, speech = build_tiny(root) if args.tiny else (args.whisper, args.speech)
        config = root / "config.json"
        servables = [{"name": WHISPER, "base_path": str(whisper.resolve())}]
        servables.append({"name": SPEECH, "base_path": str(speech.resolve())})
        config.write_text(json.dumps({"servables": servables}))
        server = LaunchedServer(config, cwd=REPO).wait_ready()
        try:
            results = {}
            for seconds in (float(value) for value in args.durations.split(",")):
                rtf, wall = transcription_rtf(server.url, seconds, args.repeats)
                results[f"transcription {seconds:g} s: real-time factor"] = round(rtf, 4)
                results[f"transcription {seconds:g} s: seconds per request"] = round(wall, 3)
            per_request, spoken = speech_seconds(server.url, args.repeats)
            results["speech: seconds per request"] = round(per_request, 3)
            results["speech: seconds of audio per request"] = round(spoken, 3)
            results["transcription engine RSS MiB"] = round(rss_mib(server.engine_pid(f"{WHISPER}/transcription")))
            results["speech engine RSS MiB"] = round(rss_mib(server.engine_pid(f"{SPEECH}/speech")))
        finally:
            server.stop()
    for name, value in results.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
