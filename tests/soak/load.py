"""A bounded load generator for soak tests of an ovserve server (standard library + requests).

For `seconds`, `clients` threads each issue one request after another, picking its kind at random
(seeded) from a mix of:

- good requests, checked for completeness and consistency:
  stream_chat, stream_completion (SSE to [DONE], one finish_reason, usage when asked),
  unary_chat, unary_completion (usage consistent with max_tokens and finish_reason); some use
  ignore_eos and must then end with "length" after exactly max_tokens tokens, so updates routed to
  the wrong request (cross-talk between batched streams) or lost would show;
- cancelled requests: cancel_stream (raw socket, read 1-3 SSE events, close),
  cancel_unary (raw socket, close after 0.2-1 s);
- bad requests, which must get a 4xx with OpenAI's error object: bad_json, bad_type, bad_model,
  bad_context (prompt or max_tokens over the context length).

`run_load()` returns a JSON-serialisable summary: requests by kind, answers by status, failures
with details, latency p50/p99 by kind. Run it by hand against a running server with
`python -m tests.soak.load --base-url http://127.0.0.1:8000 --seconds 30`.
"""

import argparse
import json
import random
import select
import socket
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import requests

from ovserve.bench.metrics import percentile

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
GOOD_KINDS = ("stream_chat", "stream_completion", "unary_chat", "unary_completion")
CANCEL_KINDS = ("cancel_stream", "cancel_unary")
BAD_KINDS = ("bad_json", "bad_type", "bad_model", "bad_context")
WEIGHTS = {
    "stream_chat": 26,
    "stream_completion": 6,
    "unary_chat": 16,
    "unary_completion": 12,
    "cancel_stream": 10,
    "cancel_unary": 8,
    "bad_json": 6,
    "bad_type": 8,
    "bad_model": 4,
    "bad_context": 4,
}
PROMPTS = (
    "What is the capital of France?",
    "Tell me a fact about whales.",
    "Write a haiku about the sea.",
    "Explain what a CPU cache is.",
    "Give three tips for learning to cook.",
    "Why is the sky blue?",
    "Describe a cat in two sentences.",
    "What is 12 times 7?",
    "Name a famous painter and one painting.",
    "Summarise the plot of Romeo and Juliet.",
    "How do bees make honey?",
    "Say hello in three languages.",
)
COMPLETION_PROMPTS = (
    "The capital of France is",
    "Once upon a time, in a small village,",
    "The three primary colours are",
    "A good breakfast includes",
    "def fibonacci(n):",
    "The ocean is deep and",
)
MAX_TOKENS = (16, 24, 32, 48)
FINISH_REASONS = ("stop", "length")
REQUEST_TIMEOUT = 120  # seconds: a good request that takes longer counts as a hang
MAX_FAILURE_DETAILS = 50


class Failed(Exception):
    """A check on an answer failed; the message says which and what came back."""

    def __init__(self, message, status="failed"):
        super().__init__(message)
        self.status = status


def _excerpt(value, limit=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --- checks -----------------------------------------------------------------------------------
def check_error_object(response):
    """The body must be OpenAI's error object; return it."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise Failed(
            f"{response.status_code} without an OpenAI error object: {_excerpt(response.text)}",
            status=response.status_code,
        ) from None
    if not isinstance(error, dict) or set(error) != {"message", "type", "param", "code"}:
        raise Failed(f"malformed error object: {_excerpt(error)}")
    if not error["message"] or "Traceback" in error["message"]:
        raise Failed(f"bad error message: {_excerpt(error)}")
    return error


def check_status_200(response):
    if response.status_code != 200:
        detail = _excerpt(response.text)
        raise Failed(f"status {response.status_code}: {detail}", status=response.status_code)


def check_usage(usage, max_tokens, finish_reason):
    if not isinstance(usage, dict):
        raise Failed(f"no usage: {_excerpt(usage)}")
    prompt, completion, total = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
    if not all(isinstance(value, int) for value in (prompt, completion, total)):
        raise Failed(f"usage counts are not integers: {usage}")
    if prompt <= 0 or completion < 0 or total != prompt + completion:
        raise Failed(f"inconsistent usage: {usage}")
    if completion > max_tokens:
        raise Failed(f"completion_tokens {completion} > max_tokens {max_tokens}")
    if finish_reason == "length" and completion != max_tokens:
        raise Failed(f"finish_reason length but completion_tokens {completion} != max_tokens {max_tokens}")
    if completion == 0:
        raise Failed(f"no completion tokens: {usage}")


def check_finish(body, finish_reason):
    if finish_reason not in FINISH_REASONS:
        raise Failed(f"finish_reason {finish_reason!r}")
    if body.get("ignore_eos") and finish_reason != "length":
        raise Failed(f"ignore_eos without stop strings, yet finish_reason {finish_reason!r}")


class PromptTokens:
    """The same prompt must count the same prompt_tokens every time (tokenization is deterministic)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def check(self, key, usage):
        if usage is None:
            return
        with self._lock:
            first = self._counts.setdefault(key, usage["prompt_tokens"])
        if usage["prompt_tokens"] != first:
            raise Failed(f"prompt_tokens {usage['prompt_tokens']} != {first} earlier for the same prompt {key}")


class GreedyAnswers:
    """Greedy answers by (shape, prompt, max_tokens, ignore_eos), compared with the first of each.

    Reported, not failed: batched inference on CPU is not bit-reproducible. A prompt prefilled in a
    different batch (other prompts in the same step, another dynamic-split-fuse chunking) can flip
    a near-tie argmax, and the answers part from there (measured with prefix caching off: ~2% of
    greedy repeats, e.g. "a complex story" / "a gripping story"). With prefix caching on (the default
    servable) a repeated prompt reuses its cached KV: 1 of ~700 repeats parted, ~25 tokens in. The
    node's `deterministic` option exists for batch-invariant greedy output.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._first = {}
        self.compared = 0
        self.differed = []

    def check(self, key, text):
        with self._lock:
            first = self._first.setdefault(key, text)
            self.compared += 1
            if text != first:
                self.differed.append({"key": list(key), "first": first, "this": text})


# --- the client ---------------------------------------------------------------------------------
class Client:
    def __init__(self, base_url, model, rng, greedy, prompt_tokens):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.model = model
        self.rng = rng
        self.greedy = greedy
        self.prompt_tokens = prompt_tokens
        self.session = requests.Session()

    def close(self):
        self.session.close()

    # Bodies -------------------------------------------------------------------------------------
    def sampling_params(self, body):
        """Some ignore EOS (exact token counts); half greedy (compared between repeats), half sampled."""
        if self.rng.random() < 0.3:
            body["ignore_eos"] = True
        if self.rng.random() < 0.5:
            body["temperature"] = 0
            return True
        body.update(temperature=0.8, top_p=0.95, seed=self.rng.randrange(1 << 20))
        return False

    def _chat_body(self, stream):
        max_tokens = self.rng.choice(MAX_TOKENS)
        prompt = self.rng.choice(PROMPTS)
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
        if self.rng.random() < 0.2:
            body["messages"].insert(0, {"role": "system", "content": "You are a concise assistant."})
        greedy = self.sampling_params(body)
        if stream:
            body["stream"] = True
            if self.rng.random() < 0.6:
                body["stream_options"] = {"include_usage": True}
        return body, ("chat", json.dumps(body["messages"]), max_tokens, bool(body.get("ignore_eos")), greedy)

    def _completion_body(self, stream):
        max_tokens = self.rng.choice(MAX_TOKENS)
        prompt = self.rng.choice(COMPLETION_PROMPTS)
        body = {"model": self.model, "prompt": prompt, "max_tokens": max_tokens}
        greedy = self.sampling_params(body)
        if stream:
            body["stream"] = True
            if self.rng.random() < 0.6:
                body["stream_options"] = {"include_usage": True}
        return body, ("completion", prompt, max_tokens, bool(body.get("ignore_eos")), greedy)

    # Good requests --------------------------------------------------------------------------------
    def unary(self, route, body, key, is_chat):
        response = self.session.post(self.base_url + route, json=body, timeout=REQUEST_TIMEOUT)
        check_status_200(response)
        answer = response.json()
        expected_object = "chat.completion" if is_chat else "text_completion"
        if answer.get("object") != expected_object or answer.get("model") != self.model:
            raise Failed(f"wrong object/model: {_excerpt(answer)}")
        choices = answer.get("choices") or []
        if len(choices) != 1 or choices[0].get("index") != 0:
            raise Failed(f"expected one choice: {_excerpt(answer)}")
        choice = choices[0]
        text = choice["message"].get("content") if is_chat else choice.get("text")
        if not isinstance(text, str) or not text:
            raise Failed(f"empty or missing text: {_excerpt(answer)}")
        if is_chat and choice["message"].get("role") != "assistant":
            raise Failed(f"role is not assistant: {_excerpt(answer)}")
        check_finish(body, choice.get("finish_reason"))
        check_usage(answer.get("usage"), body["max_tokens"], choice["finish_reason"])
        self._compare(key, text, answer["usage"])
        return 200

    def _compare(self, key, text, usage):
        self.prompt_tokens.check(key[:2], usage)
        if key[-1]:  # greedy
            self.greedy.check(key[:-1], text)

    def stream(self, route, body, key, is_chat):
        started = time.monotonic()
        first_token = None
        expected_object = "chat.completion.chunk" if is_chat else "text_completion"
        include_usage = bool(body.get("stream_options", {}).get("include_usage"))
        texts, finish_reasons, usage, ids, done = [], [], None, set(), False
        with self.session.post(self.base_url + route, json=body, stream=True, timeout=REQUEST_TIMEOUT) as response:
            check_status_200(response)
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise Failed(f"content type {response.headers.get('Content-Type')!r}")
            for line in response.iter_lines():
                if not line:
                    continue
                if not line.startswith(b"data: "):
                    raise Failed(f"not an SSE data line: {_excerpt(line)}")
                if done:
                    raise Failed(f"an event after [DONE]: {_excerpt(line)}")
                data = line[len(b"data: ") :]
                if data == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(data)
                if "error" in chunk:
                    raise Failed(f"error event in the stream: {_excerpt(chunk)}")
                ids.add(chunk.get("id"))
                if chunk.get("object") != expected_object or chunk.get("model") != self.model:
                    raise Failed(f"wrong chunk object/model: {_excerpt(chunk)}")
                if include_usage != ("usage" in chunk):
                    raise Failed(f"usage field present={'usage' in chunk} but include_usage={include_usage}")
                if chunk.get("usage") is not None:
                    if usage is not None or chunk["choices"]:
                        raise Failed(f"unexpected usage chunk: {_excerpt(chunk)}")
                    usage = chunk["usage"]
                    continue
                if usage is not None:
                    raise Failed("a chunk after the usage chunk")
                for choice in chunk["choices"]:
                    if choice.get("index") != 0:
                        raise Failed(f"choice index {choice.get('index')}")
                    if finish_reasons:
                        raise Failed(f"a choice after the finish_reason: {_excerpt(chunk)}")
                    text = ((choice.get("delta") or {}).get("content") if is_chat else choice.get("text")) or ""
                    if text and first_token is None:
                        first_token = time.monotonic() - started
                    texts.append(text)
                    if choice.get("finish_reason") is not None:
                        finish_reasons.append(choice["finish_reason"])
        if not done:
            raise Failed(f"stream ended without [DONE] after {len(texts)} chunks")
        if len(ids) != 1:
            raise Failed(f"chunk ids differ: {ids}")
        if len(finish_reasons) != 1:
            raise Failed(f"finish reasons {finish_reasons}")
        check_finish(body, finish_reasons[0])
        text = "".join(texts)
        if not text:
            raise Failed("empty content")
        if include_usage:
            check_usage(usage, body["max_tokens"], finish_reasons[0])
        self._compare(key, text, usage)
        return 200, first_token

    # Cancelled requests (raw sockets: the connection goes away mid-request) -----------------------
    def _raw_post(self, route, body):
        payload = json.dumps(body).encode()
        sock = socket.create_connection((self.host, self.port), timeout=REQUEST_TIMEOUT)
        sock.sendall(
            f"POST {route} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        return sock

    def _long_body(self, stream):
        body, _ = self._chat_body(stream)
        body.update(max_tokens=self.rng.randint(200, 600), ignore_eos=True)
        body.pop("stream_options", None)
        return body

    def cancel_stream(self):
        wanted = self.rng.randint(1, 3)
        sock = self._raw_post("/v3/chat/completions", self._long_body(stream=True))
        try:
            received = b""
            while received.count(b"data: ") < wanted:
                data = sock.recv(65536)
                if not data:
                    raise Failed(
                        f"server closed the stream after {received.count(b'data: ')} events: {_excerpt(received)}"
                    )
                received += data
        finally:
            sock.close()
        status_line = received.split(b"\r\n", 1)[0]
        if b" 200 " not in status_line + b" ":
            raise Failed(f"status line {status_line!r}")
        if b'"error"' in received:
            raise Failed(f"error event before the cancel: {_excerpt(received)}")
        return "cancelled"

    def cancel_unary(self):
        delay = self.rng.uniform(0.2, 1.0)
        sock = self._raw_post("/v3/chat/completions", self._long_body(stream=False))
        try:
            readable, _, _ = select.select([sock], [], [], delay)
            if readable:  # an answer before we leave: a 600-token request can't be done this soon
                data = sock.recv(65536)
                raise Failed(f"answered within {delay:.2f} s: {_excerpt(data)}")
        finally:
            sock.close()
        return "cancelled"

    # Bad requests: each must be a 4xx with OpenAI's error object ----------------------------------
    def bad(self, kind):
        route = "/v3/chat/completions"
        hello = [{"role": "user", "content": "Hello"}]
        if kind == "bad_json":
            data = self.rng.choice([b'{"model": ', b"\xff\xfe{}", b"[1, 2", b'{"model": "x" "messages": []}'])
            response = self.session.post(
                self.base_url + route, data=data, timeout=REQUEST_TIMEOUT, headers={"Content-Type": "application/json"}
            )
        elif kind == "bad_type":
            body = dict(
                self.rng.choice(
                    [
                        {"messages": "hello"},
                        {"temperature": "hot"},
                        {"max_tokens": 1.5},
                        {"stream": "yes"},
                        {"messages": [{"role": "wizard", "content": "hi"}]},
                        {"max_tokens": -3},
                        {"n": "two"},
                        {"stop": 7},
                        {"messages": []},
                    ]
                )
            )
            response = self.session.post(
                self.base_url + route, json={"model": self.model, "messages": hello, **body}, timeout=REQUEST_TIMEOUT
            )
        elif kind == "bad_model":
            response = self.session.post(
                self.base_url + route,
                timeout=REQUEST_TIMEOUT,
                json={"model": f"no-such-model-{self.rng.randrange(1000)}", "messages": hello},
            )
        else:  # bad_context: the prompt alone, or prompt + max_tokens, is over the context length
            if self.rng.random() < 0.5:
                response = self.session.post(
                    self.base_url + "/v3/completions",
                    timeout=REQUEST_TIMEOUT,
                    json={"model": self.model, "prompt": "word " * 9000, "max_tokens": 1},
                )
            else:
                response = self.session.post(
                    self.base_url + route,
                    timeout=REQUEST_TIMEOUT,
                    json={"model": self.model, "messages": hello, "max_tokens": 9000},
                )
        if not 400 <= response.status_code < 500:
            raise Failed(
                f"status {response.status_code} (expected 4xx): {_excerpt(response.text)}", status=response.status_code
            )
        check_error_object(response)
        return response.status_code

    # One request of a kind ------------------------------------------------------------------------
    def run(self, kind):
        """Return (status, time to first token or None); raise Failed or a requests/socket error."""
        if kind == "stream_chat":
            return self.stream("/v3/chat/completions", *self._chat_body(stream=True), is_chat=True)
        if kind == "stream_completion":
            return self.stream("/v3/completions", *self._completion_body(stream=True), is_chat=False)
        if kind == "unary_chat":
            return self.unary("/v3/chat/completions", *self._chat_body(stream=False), is_chat=True), None
        if kind == "unary_completion":
            return self.unary("/v3/completions", *self._completion_body(stream=False), is_chat=False), None
        if kind == "cancel_stream":
            return self.cancel_stream(), None
        if kind == "cancel_unary":
            return self.cancel_unary(), None
        return self.bad(kind), None


# --- the run ------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = Counter()
        self.statuses = defaultdict(Counter)
        self.latencies = defaultdict(list)
        self.first_tokens = defaultdict(list)
        self.failures = []

    def record(self, kind, status, latency, first_token=None, failure=None):
        with self.lock:
            self.requests[kind] += 1
            self.statuses[kind][str(status)] += 1
            self.latencies[kind].append(latency)
            if first_token is not None:
                self.first_tokens[kind].append(first_token)
            if failure:
                self.failures.append(
                    {"kind": kind, "status": str(status), "latency_s": round(latency, 3), "detail": failure}
                )


def _client_loop(client, deadline, recorder, kinds, weights):
    while time.monotonic() < deadline:
        kind = client.rng.choices(kinds, weights)[0]
        started = time.monotonic()
        status, first_token, failure = None, None, None
        try:
            status, first_token = client.run(kind)
        except Failed as exc:
            status, failure = exc.status, str(exc)
        except requests.Timeout as exc:
            status, failure = "timeout", f"{type(exc).__name__}: {exc}"
        except (requests.RequestException, OSError) as exc:
            status, failure = "connection_error", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a check that crashed on an unexpected answer is a failure too
            status, failure = "failed", f"{type(exc).__name__}: {exc}"
        recorder.record(kind, status, time.monotonic() - started, first_token, failure)


def run_load(base_url, model=DEFAULT_MODEL, seconds=60.0, clients=8, seed=20240601, weights=None):
    """Run the mix for `seconds` with `clients` concurrent clients; return the summary (a dict)."""
    weights = dict(weights or WEIGHTS)
    kinds = list(weights)
    recorder = Recorder()
    greedy = GreedyAnswers()
    prompt_tokens = PromptTokens()
    master = random.Random(seed)
    pool = [
        Client(base_url, model, random.Random(master.randrange(1 << 30)), greedy, prompt_tokens) for _ in range(clients)
    ]
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(client, deadline, recorder, kinds, list(weights.values())),
            name=f"soak-client-{index}",
            daemon=True,
        )
        for index, client in enumerate(pool)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in pool:
        client.close()
    elapsed = time.monotonic() - started
    return summarise(recorder, greedy, elapsed, seconds, clients, seed)


def summarise(recorder, greedy, elapsed, seconds, clients, seed):
    def failed_of(kinds):
        return sum(1 for failure in recorder.failures if failure["kind"] in kinds)

    total = sum(recorder.requests.values())
    latency = {}
    for kind, values in sorted(recorder.latencies.items()):
        latency[kind] = {
            "p50_ms": round(1000 * percentile(values, 50)),
            "p99_ms": round(1000 * percentile(values, 99)),
            "max_ms": round(1000 * max(values)),
        }
        if recorder.first_tokens.get(kind):
            latency[kind]["first_token_p50_ms"] = round(1000 * percentile(recorder.first_tokens[kind], 50))
            latency[kind]["first_token_p99_ms"] = round(1000 * percentile(recorder.first_tokens[kind], 99))
    bad_statuses = Counter()
    for kind in BAD_KINDS:
        bad_statuses.update(recorder.statuses.get(kind, {}))
    return {
        "seed": seed,
        "clients": clients,
        "seconds_requested": seconds,
        "seconds_elapsed": round(elapsed, 1),
        "requests_total": total,
        "requests_per_second": round(total / elapsed, 2) if elapsed else None,
        "requests": dict(sorted(recorder.requests.items())),
        "statuses": {kind: dict(counter) for kind, counter in sorted(recorder.statuses.items())},
        "good_total": sum(recorder.requests[kind] for kind in GOOD_KINDS),
        "good_failed": failed_of(GOOD_KINDS),
        "greedy_answers_compared": greedy.compared,
        "greedy_answers_differed": len(greedy.differed),
        "greedy_differences": greedy.differed[:10],
        "cancel_total": sum(recorder.requests[kind] for kind in CANCEL_KINDS),
        "cancel_failed": failed_of(CANCEL_KINDS),
        "bad_total": sum(recorder.requests[kind] for kind in BAD_KINDS),
        "bad_failed": failed_of(BAD_KINDS),
        "bad_statuses": dict(bad_statuses),
        "latency": latency,
        "failures_total": len(recorder.failures),
        "failures": recorder.failures[:MAX_FAILURE_DETAILS],
    }


# --- the server's state -------------------------------------------------------------------------------
def engine_stats(base_url, model=DEFAULT_MODEL):
    """{node: stats} of the nodes of `model` that have an engine (worker_open_requests + engine counters)."""
    nodes = requests.get(f"{base_url.rstrip('/')}/v2/models/{model}/stats", timeout=10).json()["nodes"]
    return {name: stats for name, stats in nodes.items() if "engine" in stats}


def is_idle(stats):
    return all(
        node["worker_open_requests"] == 0
        and node["engine"].get("live_requests") == 0
        and node["engine"].get("engine_requests") == 0
        for node in stats.values()
    )


def wait_idle(base_url, model=DEFAULT_MODEL, timeout=15.0):
    """Poll until nothing runs; return (idle, seconds waited, last stats). The engine reports every second."""
    started = time.monotonic()
    while True:
        stats = engine_stats(base_url, model)
        waited = time.monotonic() - started
        if is_idle(stats) or waited >= timeout:
            return is_idle(stats), round(waited, 2), stats
        time.sleep(0.2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    summary = run_load(args.base_url, args.model, args.seconds, args.clients, args.seed)
    idle, waited, stats = wait_idle(args.base_url, args.model)
    summary["idle_after"] = {"idle": idle, "seconds": waited, "stats": stats}
    print(json.dumps(summary, indent=2))
    return 0 if summary["failures_total"] == 0 and idle else 1


if __name__ == "__main__":
    raise SystemExit(main())
