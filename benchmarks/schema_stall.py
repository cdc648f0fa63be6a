"""How long structured-output schemas stall the other streams of an LLM servable (issue 10 §2).

One client streams a long greedy answer and records the gap between its chunks, while others send
chat requests with `response_format` json_schema: the attacks (schemas the engine used to take seconds
over, or crash on) and then "heavy but allowed" schemas just within the default bounds, each one new
to the engine (its grammar is compiled once per schema). Prints the statuses and the stream's largest
gaps before, during and after the attacks.

    .venv/bin/python benchmarks/schema_stall.py --url http://127.0.0.1:8000 --model HuggingFaceTB/SmolLM2-135M-Instruct
"""

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def nested_objects(depth, tag="a"):
    schema = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {tag: schema}, "required": [tag]}
    return schema


def nested_arrays(depth):
    schema = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


def attacks():
    yield "object 300 deep", nested_objects(300)
    yield "array 800 deep", nested_arrays(800)
    yield "50,000 enum values", {"enum": [f"v{i}" for i in range(50000)]}
    yield (
        "2,000 optional properties",
        {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(2000)}},
    )
    yield "type 5", {"type": 5}
    yield "bad regex", {"type": "string", "pattern": "("}


def allowed(round_number):
    """Schemas at the default bounds, made new each round (a compiled grammar is cached by its text)."""
    tag = f"r{round_number}"
    yield "object 32 deep", nested_objects(31, tag)
    yield (
        "128 optional properties",
        {"type": "object", "properties": {f"{tag}p{i}": {"type": "string"} for i in range(128)}},
    )
    yield "2,048 enum values", {"enum": [f"{tag}v{i}" for i in range(2048)]}
    yield "minLength 256", {"type": "object", "properties": {tag: {"type": "string", "minLength": 256}}}


def post(url, model, schema, max_tokens=4):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Describe a city."}],
        "max_tokens": max_tokens,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    started = time.monotonic()
    response = requests.post(f"{url}/v3/chat/completions", json=body, timeout=300)
    return response.status_code, time.monotonic() - started


def stream_gaps(url, model, marks, stop):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Tell a very long story."}],
        "stream": True,
        "max_tokens": 4000,
        "ignore_eos": True,
        "temperature": 0,
    }
    last = None
    with requests.post(f"{url}/v3/chat/completions", json=body, stream=True, timeout=300) as response:
        for line in response.iter_lines():
            if not line:
                continue
            now = time.monotonic()
            if last is not None:
                marks.append((now, now - last))
            last = now
            if stop.is_set():
                break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of new allowed schemas")
    parser.add_argument("--concurrency", type=int, default=4, help="schema requests in flight at once")
    args = parser.parse_args()
    marks, stop = [], threading.Event()
    streamer = threading.Thread(target=stream_gaps, args=(args.url, args.model, marks, stop))
    streamer.start()
    time.sleep(3)
    phases = [("attacks", list(attacks()))] + [(f"allowed round {r}", list(allowed(r))) for r in range(args.rounds)]
    report = []
    for phase, cases in phases:
        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(lambda case: (case[0], *post(args.url, args.model, case[1])), cases))
        ended = time.monotonic()
        time.sleep(1)
        gaps = [gap for at, gap in marks if started <= at <= ended + 1]
        report.append((phase, results, max(gaps, default=0.0), len(gaps)))
    quiet = [gap for at, gap in marks[:40]]
    stop.set()
    streamer.join()
    print(f"stream before the attacks: largest gap {max(quiet, default=0) * 1000:.0f} ms over {len(quiet)} chunks")
    for phase, results, largest, count in report:
        statuses = ", ".join(f"{name}: {status} in {seconds:.2f} s" for name, status, seconds in results)
        print(f"{phase}: largest gap {largest * 1000:.0f} ms over {count} chunks; {statuses}")
    print(json.dumps({"largest_gap_ms": max(r[2] for r in report) * 1000}))


if __name__ == "__main__":
    main()
