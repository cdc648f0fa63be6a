"""The raw side: the same workload on the engine alone, without HTTP, workers or a wire between them.

Each raw run is a child process of its own (`python -m ovserve.bench.raw SPEC.json`), so the
benchmark process never loads OpenVINO and the engine's threads don't share a process with the
HTTP client. The child builds the server's own engine object (`ContinuousBatchingEngine`) from the
LLM node's engine options, so the `openvino_genai.ContinuousBatchingPipeline`, its SchedulerConfig
(from `scheduler_config`), plugin properties, prompt-lookup settings and warm-up are exactly the
server's, whatever options the node gains. Then it does what the server's engine host does, minus
everything around it: submit requests and call `step()` in a loop. After every step, every request
with new tokens gets one chunk stamped with the time the step ended, which is what a streaming
client of a server with no overhead would see. Prompts are chat-templated and tokenized as the
server does.

Arrivals follow the server side's schedule: a closed loop of C requests in flight (the next one is
added between two steps as soon as one finishes), or the same Poisson offsets, a request being added
before the first step that starts after its arrival; its send time is its arrival time, so time spent
waiting for that step counts in its TTFT, as it would on a server.
"""

import collections
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

from ovserve.nodes.llm.messages import GenerationRequest, GenerationSettings


class RawFailed(RuntimeError):
    """The raw child exited with an error; the message carries its log's tail."""


# --- parent side ----------------------------------------------------------------------------------


def run_raw(spec, workdir):
    """Run one raw run (see `child_main` for the spec) in a child process; return its result dict."""
    spec_path = Path(workdir) / "raw-spec.json"
    out_path = Path(workdir) / "raw-result.json"
    log_path = Path(workdir) / "raw-child.log"
    out_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps(dict(spec, out=str(out_path))))
    with open(log_path, "wb") as child_log:
        code = subprocess.call(
            [sys.executable, "-m", "ovserve.bench.raw", str(spec_path)],
            stdout=child_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if code != 0 or not out_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RawFailed(f"the raw engine child failed (exit code {code}); its log:\n{tail}")
    return json.loads(out_path.read_text())


# --- child side -----------------------------------------------------------------------------------


def step_loop(engine, prompt_ids, generation, keys, concurrency=None, offsets=None):
    """Run every prompt through the engine, closed loop (`concurrency`) or at `offsets` (s).

    Returns (records in prompt order, start time, wall time).
    """
    pending = collections.deque(range(len(prompt_ids)))
    records = [None] * len(prompt_ids)
    live = {}  # engine key -> prompt index
    start = time.perf_counter()

    def due(now):
        if offsets is None:
            return len(live) < concurrency
        return start + offsets[pending[0]] <= now

    while pending or live:
        now = time.perf_counter()
        while pending and due(now):
            index, key = pending.popleft(), next(keys)
            send = now if offsets is None else start + offsets[index]
            records[index] = {
                "send": send,
                "chunks": [],
                "end": None,
                "tokens": 0,
                "usage": True,
                "prompt_tokens": len(prompt_ids[index]),
                "error": None,
            }
            engine.submit(key, GenerationRequest(tuple(prompt_ids[index]), generation))
            live[key] = index
        if not live:  # open loop, idle until the next arrival
            time.sleep(max(0.0, start + offsets[pending[0]] - time.perf_counter()))
            continue
        updates = engine.step()
        now = time.perf_counter()
        for key, update, done in updates:
            record = records[live[key]]
            new_tokens = sum(len(ids) for _, ids, _, _ in update.sequences)
            if new_tokens:
                record["chunks"].append(now)
                record["tokens"] += new_tokens
            if done:
                if update.status != "finished":
                    record["error"] = f"generation status {update.status}"
                record["end"] = now
                del live[key]
    return records, start, time.perf_counter() - start


def rebase(records, origin):
    """Make a run's timestamps relative to its start (only differences matter)."""
    for record in records:
        record["send"] -= origin
        record["chunks"] = [moment - origin for moment in record["chunks"]]
        if record.get("end") is not None:
            record["end"] -= origin
    return records


def load_engine(options):
    """The server's engine object built from the node's engine options; returns (engine, encode,
    load time in s), encode(user text) giving the prompt ids as the server makes them."""
    from ovserve.nodes.llm.engine import ContinuousBatchingEngine

    loaded = time.perf_counter()
    engine = ContinuousBatchingEngine(options)
    load_time = time.perf_counter() - loaded
    tokenizer = engine.pipeline.get_tokenizer()

    def encode(prompt):
        # Like the server: render the model's chat template, then tokenize without adding specials.
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False).input_ids.data[0].tolist()

    return engine, encode, load_time


def child_main(spec_path):
    """Load the engine, warm up, run the measured loop, write the result JSON to spec['out'].

    spec: engine (the node's engine options), prompts, warmup_prompts, max_tokens, ignore_eos, and
    concurrency or offsets.
    """
    spec = json.loads(Path(spec_path).read_text())
    engine, encode, load_time = load_engine(spec["engine"])

    # What the LLM node asks of the engine for a greedy (temperature 0) request.
    generation = GenerationSettings(max_new_tokens=spec["max_tokens"], ignore_eos=spec["ignore_eos"])
    keys = itertools.count()
    if spec["warmup_prompts"]:
        warmup = [encode(prompt) for prompt in spec["warmup_prompts"]]
        step_loop(engine, warmup, generation, keys, concurrency=len(warmup))
    records, start, wall = step_loop(
        engine,
        [encode(prompt) for prompt in spec["prompts"]],
        generation,
        keys,
        concurrency=spec.get("concurrency"),
        offsets=spec.get("offsets"),
    )
    result = {"records": rebase(records, start), "wall_time_s": wall, "load_time_s": load_time}
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
