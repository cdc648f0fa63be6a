"""Prometheus metrics: what each HTTP worker records, and the text that `GET /metrics` answers.

Request counters carry OpenVINO Model Server's names and labels (`ovms_requests_success`, ...), so
its dashboards work; the LLM series OVMS lacks are `ovserve_llm_*`; beside them, vLLM's names for what
autoscalers and routers read (http/vllm_metrics.py). docs/operations.md lists them.

Several gunicorn workers serve one port, so the numbers must add up across them: the supervisor
gives gunicorn a fresh folder in PROMETHEUS_MULTIPROC_DIR, every worker writes its values to memory-
mapped files there, and a scrape, whichever worker answers it, sums the files of all of them.
prometheus_client picks that mode when it is first imported, so the variable is set before the
workers start. Recording is a dictionary look-up and a write to a memory-mapped page; it does no I/O.
"""

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from ovserve.http import audio_metrics, image_metrics, vllm_metrics

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")  # read when prometheus_client decided
# The classic text format, which generate_latest writes and every Prometheus reads. (prometheus_client
# 0.22+ names format 1.0.0, UTF-8 metric names, in its CONTENT_TYPE_LATEST; the page is not that.)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
API, INTERFACE = "V3", "REST"  # OVMS's label values for its OpenAI-compatible API over HTTP
# The `method` label, by route capability (OVMS has one method label per endpoint family).
METHODS = {
    "chat.completions": "Chat",
    "completions": "Completions",
    "embeddings": "Embeddings",
    "rerank": "Rerank",
    "images.generations": "ImageGeneration",
    "images.edits": "ImageEdit",
    "audio.transcriptions": "Transcriptions",
    "audio.translations": "Translations",
    "audio.speech": "Speech",
}
# APIs translated to a capability's input, counted under a method of their own (Api.method).
TRANSLATED_METHODS = {"chat.completions": ("Responses", "Messages")}
GENERATION_METHODS = ("Chat", "Completions", "Responses", "Messages")

# Seconds. TTFT spans a queued prefill on a busy CPU (seconds) down to a cached prompt (ms).
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30, 60)
# One engine step: ~10-50 ms per token for small models on a CPU; the tail catches stalls under load.
ITL_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
# Microseconds, four buckets per decade from 100 us to ~10 min (an embedding up to a long generation).
REQUEST_TIME_US_BUCKETS = tuple(round(10 ** (exponent / 4)) for exponent in range(8, 36))

# Counted in this process, summed over all workers at scrape time. Not in prometheus_client's global
# registry: a scrape reads either the multiprocess files or this registry, never both.
_RECORDED = CollectorRegistry(auto_describe=True)
_REQUEST_LABELS = ("api", "interface", "method", "name")
REQUESTS_SUCCESS = Counter(
    "ovms_requests_success", "Number of successful requests to a servable.", _REQUEST_LABELS, registry=_RECORDED
)
REQUESTS_FAIL = Counter(
    "ovms_requests_fail",
    "Number of failed requests to a servable (4xx or 5xx answered, or a stream that ended with an error).",
    _REQUEST_LABELS,
    registry=_RECORDED,
)
REQUEST_TIME = Histogram(
    "ovms_request_time_us",
    "Processing time of successful requests to a servable, in microseconds (generations: until the last token).",
    ("interface", "name"),
    buckets=REQUEST_TIME_US_BUCKETS,
    registry=_RECORDED,
)
# Each worker adds its own requests in flight; a worker that exits takes its count with it (livesum).
CURRENT_REQUESTS = Gauge(
    "ovms_current_requests",
    "Number of requests being currently processed by the server.",
    ("name",),
    multiprocess_mode="livesum",
    registry=_RECORDED,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "ovserve_llm_time_to_first_token_seconds",
    "Seconds from the request's arrival until its first generated token reached the HTTP worker.",
    ("name",),
    buckets=TTFT_BUCKETS,
    registry=_RECORDED,
)
INTER_TOKEN_LATENCY = Histogram(
    "ovserve_llm_inter_token_latency_seconds",
    "Seconds between two successive arrivals of new tokens of one request at the HTTP worker (one per engine step).",
    ("name",),
    buckets=ITL_BUCKETS,
    registry=_RECORDED,
)
REQUEST_LATENCY = Histogram(
    "ovserve_llm_request_latency_seconds",
    "Seconds from the request's arrival until its last token, for generations that finished successfully.",
    ("name",),
    buckets=LATENCY_BUCKETS,
    registry=_RECORDED,
)
PROMPT_TOKENS = Counter(
    "ovserve_llm_prompt_tokens", "Prompt tokens of the generations sent to the engine.", ("name",), registry=_RECORDED
)
GENERATED_TOKENS = Counter(
    "ovserve_llm_generated_tokens",
    "Tokens generated (usage completion_tokens), whatever the request's outcome.",
    ("name",),
    registry=_RECORDED,
)
# OVMS's counters keep their names without prometheus_client's `_total` suffix (see render()).
_OVMS_COUNTERS = frozenset({"ovms_requests_success", "ovms_requests_fail"})


_CHILDREN = {}


def _child(series, *labels):
    """series.labels(*labels), remembered: labels() takes a lock and checks every value on each call."""
    key = (series, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = series.labels(*labels)
    return child


def prepare(servables):
    """Create every series of the served models at zero, so they are scraped before the first request
    (rate() needs the zero) and no label set is created, and its file grown, on a request's path."""
    for servable in servables:
        capabilities = getattr(servable, "capabilities", ())
        methods = [METHODS[c] for c in capabilities if c in METHODS]
        methods += [method for c in capabilities for method in TRANSLATED_METHODS.get(c, ())]
        for method in methods:
            _child(REQUESTS_SUCCESS, API, INTERFACE, method, servable.name)
            _child(REQUESTS_FAIL, API, INTERFACE, method, servable.name)
        if methods:
            _child(REQUEST_TIME, INTERFACE, servable.name)
            _child(CURRENT_REQUESTS, servable.name)
        if any(method in GENERATION_METHODS for method in methods):
            for series in (TIME_TO_FIRST_TOKEN, INTER_TOKEN_LATENCY, REQUEST_LATENCY, PROMPT_TOKENS, GENERATED_TOKENS):
                _child(series, servable.name)
            vllm_metrics.prepare(servable.name)


class RequestRecord:
    """Everything the metrics learn of one API request, recorded by the request pipeline (http/pipeline.py).

    It counts once the body names a served model (an unknown name must not create a label), and is
    finished exactly once, as a success or a failure. A generation's tokens are seen where they arrive
    (each step is one engine update), so TTFT and inter-token latency include the engine, the socket hop
    and detokenization, not the client's network.
    """

    def __init__(self, method, started, served_names):
        self.method = method
        self.started = started  # time.monotonic() at arrival
        self._served_names = served_names
        self.name = None
        self.finished = False
        self._tokens_seen = 0
        self._last_arrival = None
        self._finish_reasons = set()  # of the choices, as their last deltas gave them

    def model(self, body):
        """Note the request body's model if it is served; the request counts from now on."""
        name = body.get("model") if isinstance(body, dict) else None
        if self.name is None and isinstance(name, str) and name in self._served_names:
            self.name = name
            _child(CURRENT_REQUESTS, name).inc()

    def arrived(self, completion_tokens, now, deltas=()):
        """A generation's step reached this worker: its completion tokens counted so far, its deltas."""
        self._finish_reasons.update(delta.finish_reason for delta in deltas if delta.finish_reason)
        if completion_tokens <= self._tokens_seen:
            return  # no new tokens (an echoed prompt)
        vllm_metrics.generated(self.name, completion_tokens - self._tokens_seen)
        self._tokens_seen = completion_tokens
        if self._last_arrival is None:
            _child(TIME_TO_FIRST_TOKEN, self.name).observe(now - self.started)
            vllm_metrics.first_token(self.name, now - self.started)
        else:
            _child(INTER_TOKEN_LATENCY, self.name).observe(now - self._last_arrival)
            vllm_metrics.token_gap(self.name, now - self._last_arrival)
        self._last_arrival = now

    def finish(self, succeeded, generation=None):
        """The outcome; `generation` (its prompt and completion tokens) when the request generated."""
        if self.finished or self.name is None:
            return
        self.finished = True
        now = time.monotonic()
        _child(CURRENT_REQUESTS, self.name).dec()
        if generation is not None:
            _child(PROMPT_TOKENS, self.name).inc(generation.prompt_tokens)
            _child(GENERATED_TOKENS, self.name).inc(generation.completion_tokens)
            if succeeded:
                _child(REQUEST_LATENCY, self.name).observe(now - self.started)
            self._vllm_ended(succeeded, generation, now)
        if succeeded:
            _child(REQUESTS_SUCCESS, API, INTERFACE, self.method, self.name).inc()
            _child(REQUEST_TIME, INTERFACE, self.name).observe((now - self.started) * 1e6)
        else:
            _child(REQUESTS_FAIL, API, INTERFACE, self.method, self.name).inc()

    def _vllm_ended(self, succeeded, generation, now):
        # Tokens the last steps brought without a delta the worker saw (no text yet) count now, so the
        # total is usage.completion_tokens, as in ovserve_llm_generated_tokens.
        if generation.completion_tokens > self._tokens_seen:
            vllm_metrics.generated(self.name, generation.completion_tokens - self._tokens_seen)
            self._tokens_seen = generation.completion_tokens
        reason = vllm_metrics.finished_reason(succeeded, self._finish_reasons)
        vllm_metrics.ended(self.name, reason, generation.prompt_tokens, now - self.started)


# --- scrape ---------------------------------------------------------------------------------------


class _Families:
    """A collector over metric families already collected (what generate_latest reads)."""

    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families


def _recorded_families():
    if MULTIPROCESS_DIR:
        return list(multiprocess.MultiProcessCollector(None, MULTIPROCESS_DIR).collect())
    return list(_RECORDED.collect()) + list(vllm_metrics.RECORDED.collect())


def engine_families(registry):
    """Gauges of the LLM engines, from the stats every engine sends every worker each second.

    Every worker holds the same numbers, so the worker answering the scrape reports them from its own
    copy: writing them to the multiprocess files would cost each worker a write per engine per second
    for numbers that are identical in all of them. A servable whose engine this worker can't hear
    (restarting) gets no gauges rather than stale ones.
    """
    gauges = [
        (
            GaugeMetricFamily(
                "ovserve_llm_requests_running", "Requests the engine scheduled in its last step.", labels=["name"]
            ),
            lambda engine: engine["scheduled_requests"],
        ),
        (
            GaugeMetricFamily(
                "ovserve_llm_requests_waiting",
                "Requests in the engine that its last step did not schedule (queued or preempted).",
                labels=["name"],
            ),
            lambda engine: max(0, engine["engine_requests"] - engine["scheduled_requests"]),
        ),
        (
            GaugeMetricFamily(
                "ovserve_llm_kv_cache_usage_ratio",
                "Fraction of the engine's KV cache blocks in use (0 to 1).",
                labels=["name"],
            ),
            lambda engine: engine["cache_usage"] / 100,
        ),  # the engine reports a percentage
        (
            GaugeMetricFamily("ovserve_llm_kv_cache_size_bytes", "Size of the engine's KV cache.", labels=["name"]),
            lambda engine: engine["kv_cache_bytes"],
        ),
    ]
    for servable in registry:
        if not servable.is_ready():
            continue
        engine = servable.terminal.stats().get("engine", {})
        for family, value in gauges:
            try:
                family.add_metric([servable.name], value(engine))
            except KeyError:  # not an LLM engine, or not heard from yet
                pass
    return [family for family, _ in gauges if family.samples]


def _plain_counter_text(family):
    """A counter in OVMS's spelling: `ovms_requests_success{...} 3`, no `_total`, no `_created`."""
    lines = [f"# HELP {family.name} {_escape_help(family.documentation)}\n", f"# TYPE {family.name} counter\n"]
    for sample in family.samples:
        if sample.name.endswith("_created"):
            continue
        labels = ",".join(f'{key}="{_escape_label(value)}"' for key, value in sorted(sample.labels.items()))
        lines.append(f"{family.name}{{{labels}}} {_number(sample.value)}\n")
    return "".join(lines)


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(registry):
    """The body of GET /metrics (Prometheus text format 0.0.4) and its content type."""
    families = _recorded_families() + engine_families(registry) + vllm_metrics.engine_families(registry)
    families += image_metrics.engine_families(registry)
    families += audio_metrics.engine_families(registry)
    ovms_counters = "".join(_plain_counter_text(f) for f in families if f.name in _OVMS_COUNTERS)
    others = generate_latest(_Families([f for f in families if f.name not in _OVMS_COUNTERS]))
    return ovms_counters.encode("utf-8") + others, CONTENT_TYPE
