"""Seconds per image and the engine's memory of an image-generation servable.

    python benchmarks/images.py                       # builds and exports the tiny test model first
    python benchmarks/images.py --models-dir DIR      # an `ovserve export --task text_to_image` folder

Serves the model alone (one engine process, one HTTP worker), warms it up with one request, then sends
`--requests` generations one after the other at the model's default steps and size and reports the
seconds per image (the server's wall time per request / n) and the resident memory (VmRSS) of the
servable's engine process, after loading and after the run. The tiny model's numbers say what the
server costs around a pipeline; a real model's, what its users wait.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.idle_unload import rss_mib, tree  # noqa: E402
from ovserve.server.launcher import LaunchedServer  # noqa: E402

NAME = "images"


def engine_pid(server_pid):
    """The engine process of the servable (its command line names it), below the server's supervisor."""
    for pid in tree(server_pid):
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ovserve.runtime.engine_host" in command and f"{NAME}/".encode() in b" ".join(command):
            return pid
    raise SystemExit("no engine process found for the servable")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", help="an exported diffusers folder (default: build the tiny test model)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--n", type=int, default=1, help="images per request")
    parser.add_argument("--size", help="WIDTHxHEIGHT (default: the model's)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ovserve-images-bench-"))
    config = folder / "config.json"
    if args.models_dir:
        config.write_text(
            json.dumps({"servables": [{"name": NAME, "base_path": str(Path(args.models_dir).resolve())}]})
        )
    else:
        from tests.e2e.tiny_diffusion import export_tiny_diffusion

        config.write_text(json.dumps({"servables": []}))
        export_tiny_diffusion(folder, config, NAME)
    server = LaunchedServer(config, log_path=folder / "server.log", cwd=REPO)
    try:
        server.wait_ready()
        pid = engine_pid(server.process.pid)
        loaded = rss_mib([pid])
        card = requests.get(f"{server.url}/models/{NAME}", timeout=30).json()
        body = {"model": NAME, "prompt": "a lighthouse at dusk, oil painting", "n": args.n}
        if args.size:
            body["size"] = args.size
        requests.post(server.url + "/images/generations", json=body, timeout=600).raise_for_status()  # warm-up
        seconds = []
        for _ in range(args.requests):
            started = time.monotonic()
            answer = requests.post(server.url + "/images/generations", json=body, timeout=600)
            answer.raise_for_status()
            seconds.append((time.monotonic() - started) / args.n)
        steps = answer.json()["num_inference_steps"]
        print(f"model: {args.models_dir or 'tiny random Stable Diffusion (tests/e2e/tiny_diffusion.py)'}")
        print(
            f"size {answer.json()['size']}, {steps} steps (default {card['default_num_inference_steps']}), n={args.n}"
        )
        print(
            f"seconds per image over {args.requests} requests: median {statistics.median(seconds):.3f}, "
            f"min {min(seconds):.3f}, max {max(seconds):.3f} ({statistics.median(seconds) / steps * 1000:.1f} ms a step)"
        )
        print(f"engine process RSS: {loaded:.0f} MiB loaded, {rss_mib([pid]):.0f} MiB after the run")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
