"""What a reload costs the streams of a servable that did not change: the gaps between their chunks.

    .venv/bin/python -m benchmarks.reload_pause [--workers 2] [--streams 2]

A server (the default model) streams chats back to back on `--streams` connections while a servable is
added by POST /v1/config/reload, twice: one of the same model file (the workers take it in place: its
tokenizer is already loaded) and one of a copy of the file (a model no worker has loaded: fresh workers
take it, server/worker_roll.py). For each, the largest gap between two chunks of a stream, the median gap,
how long the reload took to answer, and whether any stream failed. Not a test: the numbers depend on the
machine.
"""

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from openai import OpenAI

from benchmarks.common import default_model_path
from ovserve.server.launcher import LaunchedServer

REPO = Path(__file__).resolve().parents[1]
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


class GapWatch:
    """Streaming chats back to back on its own connection, recording every gap between chunks."""

    def __init__(self, base):
        self.client = OpenAI(base_url=base + "/v3", api_key="unused", max_retries=0, timeout=120)
        self.gaps, self.errors, self.completed = [], [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                stream = self.client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": "Tell me a long story about a lighthouse."}],
                    max_tokens=128,
                    stream=True,
                )
                last = None
                for _ in stream:
                    now = time.monotonic()
                    if last is not None:
                        self.gaps.append(now - last)
                    last = now
                self.completed += 1
            except Exception as exc:  # noqa: BLE001 (every failure is the finding)
                self.errors.append(repr(exc))

    def stop(self):
        self._stop.set()
        self._thread.join(180)


def graph(models_path):
    return {
        "input": "request",
        "output": "llm",
        "nodes": [{"name": "llm", "type": "llm_continuous_batching", "options": {"models_path": models_path}}],
    }


def measure(server, folder, config, name, models_path, streams):
    servable_folder = folder / name
    servable_folder.mkdir()
    (servable_folder / "graph.json").write_text(json.dumps(graph(models_path)))
    watches = [GapWatch(server.base) for _ in range(streams)]
    time.sleep(5)  # the streams run before the change
    config["servables"].append({"name": name, "base_path": str(servable_folder)})
    (folder / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    answer = requests.post(server.base + "/v1/config/reload", timeout=600)
    answered = time.monotonic() - started
    time.sleep(5)  # and after it
    for watch in watches:
        watch.stop()
    gaps = [gap for watch in watches for gap in watch.gaps]
    errors = [error for watch in watches for error in watch.errors]
    print(
        f"{name}: reload {answer.status_code} in {answered:.1f} s; chunk gaps max {max(gaps):.2f} s, "
        f"p50 {statistics.median(gaps) * 1000:.0f} ms over {len(gaps)} gaps, "
        f"{sum(w.completed for w in watches)} streams completed, {len(errors)} failed {errors[:2]}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--streams", type=int, default=2)
    args = parser.parse_args()
    gguf = Path(default_model_path())
    folder = Path(tempfile.mkdtemp(prefix="ovserve-reload-"))
    copy = folder / "copy" / gguf.name
    copy.parent.mkdir()
    shutil.copyfile(gguf, copy)
    config = {"servables": [{"name": MODEL, "base_path": str(REPO / "servables" / "smollm2")}]}
    (folder / "config.json").write_text(json.dumps(config))
    server = LaunchedServer(folder / "config.json", "--workers", str(args.workers), log_path=folder / "server.log")
    try:
        server.wait_ready()
        measure(server, folder, config, "same-model-file", str(gguf), args.streams)
        measure(server, folder, config, "new-model-file", str(copy), args.streams)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
