"""Time to first token and tokens/s of chat requests with an image, alone and 8 at once, and how many
prompt tokens an image adds, on a vision-language servable.

    python benchmarks/vision.py                        # builds and exports the tiny test VLM first
    python benchmarks/vision.py --models-dir DIR       # an `ovserve export --task image_text_to_text` folder

Serves the model alone (one engine, one HTTP worker), warms it up, then for each concurrency sends
`--rounds` rounds of streaming requests, each with its own image (a PNG of `--image-size` pixels, sent
as a data URL, so decoding is part of the time), `--max-tokens` tokens with ignore_eos. Reports the
median TTFT, the median tokens/s of one stream after its first token, and the total tokens/s, beside
the same requests without their image (`_text_only`); the
image's prompt tokens are the usage of a request with the image minus the same request without it.
The tiny model's numbers say what the server costs around the pipeline (decoding, the image's trip to
the engine, the vision encoder's step); a real model's, what its users wait.
"""

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import log  # noqa: E402
from ovserve.server.launcher import LaunchedServer  # noqa: E402

NAME = "vlm"
PROMPT = "Describe the picture."


def image_url(index, size):
    image = Image.new("RGB", size, ((index * 53) % 256, (index * 97) % 256, (index * 193) % 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def messages(url=None):
    content = [{"type": "text", "text": PROMPT}]
    if url:
        content.append({"type": "image_url", "image_url": {"url": url}})
    return [{"role": "user", "content": content}]


def stream_one(api, url, max_tokens):
    """(seconds to the first token, tokens/s after it, tokens) of one streaming request."""
    body = {
        "model": NAME,
        "messages": messages(url),
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = None
    tokens = 0
    with requests.post(api + "/chat/completions", json=body, stream=True, timeout=600) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            elif first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content") is not None:
                first = time.perf_counter()
    ended = time.perf_counter()
    first = first or ended
    return first - started, (tokens - 1) / (ended - first) if ended > first else 0.0, tokens


def prompt_tokens(api, url):
    body = {"model": NAME, "messages": messages(url), "max_tokens": 1}
    return requests.post(api + "/chat/completions", json=body, timeout=120).json()["usage"]["prompt_tokens"]


def tiny_model(root):
    source, model = root / "tiny-llava", root / NAME
    subprocess.run([sys.executable, "-m", "tests.e2e.tiny_vlm", str(source)], cwd=REPO, check=True)
    subprocess.run(
        [sys.executable, "-m", "ovserve", "export", str(source), "--task", "image_text_to_text"]
        + ["--weight-format", "fp16", "--output-dir", str(model)],
        cwd=REPO,
        check=True,
    )
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", help="an exported VLM folder with its graph.json (default: the tiny test VLM)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--image-size", default="336x336", help="WIDTHxHEIGHT of each request's image")
    parser.add_argument("--concurrency", default="1,8")
    args = parser.parse_args()
    size = tuple(int(value) for value in args.image_size.split("x"))
    with tempfile.TemporaryDirectory(prefix="ovserve-vision-bench-") as folder:
        root = Path(folder)
        model = Path(args.models_dir).resolve() if args.models_dir else tiny_model(root)
        config = root / "config.json"
        config.write_text(json.dumps({"servables": [{"name": NAME, "base_path": str(model)}]}))
        server = LaunchedServer(config, "--workers", "1", log_path=root / "server.log", cwd=REPO)
        try:
            server.wait_ready()
            api = server.url
            stream_one(api, image_url(0, size), 4)  # warm-up: the first image request compiles the vision model
            added = prompt_tokens(api, image_url(1, size)) - prompt_tokens(api, None)
            results = {"model": str(model), "image_size": args.image_size, "prompt_tokens_per_image": added}
            for concurrency in [int(value) for value in args.concurrency.split(",")]:
                for with_image in (True, False):  # the same requests without their image: what the image costs
                    rows = []
                    started = time.perf_counter()
                    with ThreadPoolExecutor(concurrency) as pool:
                        for round_index in range(args.rounds):
                            urls = [
                                image_url(2 + round_index * concurrency + i, size) if with_image else None
                                for i in range(concurrency)
                            ]
                            rows += list(pool.map(lambda url: stream_one(api, url, args.max_tokens), urls))
                    elapsed = time.perf_counter() - started
                    key = f"concurrency_{concurrency}" + ("" if with_image else "_text_only")
                    results[key] = {
                        "ttft_ms_median": round(statistics.median(row[0] for row in rows) * 1000, 1),
                        "stream_tokens_per_s_median": round(statistics.median(row[1] for row in rows), 1),
                        "total_tokens_per_s": round(sum(row[2] for row in rows) / elapsed, 1),
                    }
                    log(f"{key}: {results[key]}")
            print(json.dumps(results, indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
