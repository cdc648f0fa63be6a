"""vLLM's metric names, beside OVMS's, for what reads them by default: KEDA's and KServe's autoscaling
queries, llm-d's inference scheduler, vLLM's Grafana dashboards.

The names, types, label sets and histogram buckets are vLLM's (its v1 PrometheusStatLogger): every series
has `model_name` (the servable's name) and `engine` (vLLM's data-parallel engine index; a servable here is
one engine, so always "0"). The values come from what ovserve measures already: the request series from
what the HTTP worker sees of each generation (http/metrics.py records them with the OVMS ones, so they
are summed over the workers the same way), the engine gauges from the stats each engine sends every
worker. docs/operations.md says where each differs from vLLM's and what is not exported.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

ENGINE = "0"
LABELS = ("model_name", "engine")
# vLLM's FinishReason values: its counter has a label set per reason from the start.
FINISHED_REASONS = ("stop", "length", "abort")

# vLLM's buckets, seconds (so its dashboards' quantiles read the same).
TTFT_BUCKETS = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75),
    *(1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560),
)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80)
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680)

# Its own registry: a scrape outside gunicorn (no multiprocess folder) reads it beside http/metrics.py's.
RECORDED = CollectorRegistry(auto_describe=True)
PROMPT_TOKENS = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", LABELS, registry=RECORDED)
GENERATION_TOKENS = Counter(
    "vllm:generation_tokens", "Number of generation tokens processed.", LABELS, registry=RECORDED
)
REQUEST_SUCCESS = Counter(
    "vllm:request_success",
    "Count of successfully processed requests.",
    (*LABELS, "finished_reason"),
    registry=RECORDED,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    LABELS,
    buckets=TTFT_BUCKETS,
    registry=RECORDED,
)
INTER_TOKEN_LATENCY = Histogram(
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    LABELS,
    buckets=ITL_BUCKETS,
    registry=RECORDED,
)
# vLLM's name for the same observations before 0.10; dashboards and autoscaling rules written then read it.
TIME_PER_OUTPUT_TOKEN = Histogram(
    "vllm:time_per_output_token_seconds",
    "Histogram of time per output token in seconds. DEPRECATED: Use vllm:inter_token_latency_seconds instead.",
    LABELS,
    buckets=ITL_BUCKETS,
    registry=RECORDED,
)
E2E_REQUEST_LATENCY = Histogram(
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    LABELS,
    buckets=LATENCY_BUCKETS,
    registry=RECORDED,
)

_PER_SERVABLE = (
    PROMPT_TOKENS,
    GENERATION_TOKENS,
    TIME_TO_FIRST_TOKEN,
    INTER_TOKEN_LATENCY,
    TIME_PER_OUTPUT_TOKEN,
    E2E_REQUEST_LATENCY,
)
_CHILDREN = {}


def _child(series, name, *labels):
    """series.labels(name, ENGINE, *labels), remembered (labels() locks and checks every value)."""
    key = (series, name, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = series.labels(name, ENGINE, *labels)
    return child


def prepare(name):
    """Create the request series of a generating servable at zero, as http/metrics.py does its own."""
    for series in _PER_SERVABLE:
        _child(series, name)
    for reason in FINISHED_REASONS:
        _child(REQUEST_SUCCESS, name, reason)


def finished_reason(succeeded, reasons):
    """vLLM's reason for a generation that ended, from its choices' finish reasons.

    A tool call ends the engine's sequence as a stop does (vLLM has no reason of its own for it); a
    request that did not finish (the client left, the time limit passed, the engine failed) is vLLM's
    abort. One reason per request: "length" if any choice ran out of tokens.
    """
    if not succeeded:
        return "abort"
    return "length" if "length" in reasons else "stop"


def first_token(name, seconds):
    _child(TIME_TO_FIRST_TOKEN, name).observe(seconds)


def token_gap(name, seconds):
    _child(INTER_TOKEN_LATENCY, name).observe(seconds)
    _child(TIME_PER_OUTPUT_TOKEN, name).observe(seconds)


def generated(name, tokens):
    """Tokens as they arrive, so rate() follows a long generation instead of jumping at its end."""
    _child(GENERATION_TOKENS, name).inc(tokens)


def ended(name, reason, prompt_tokens, seconds):
    """A generation ended: vLLM counts every request that reached its engine, whatever the reason."""
    _child(REQUEST_SUCCESS, name, reason).inc()
    _child(PROMPT_TOKENS, name).inc(prompt_tokens)
    _child(E2E_REQUEST_LATENCY, name).observe(seconds)


# --- scrape: the engine's own numbers ------------------------------------------------------------


def _engine_gauges():
    return [
        (
            GaugeMetricFamily(
                "vllm:num_requests_running", "Number of requests in model execution batches.", labels=LABELS
            ),
            lambda engine: engine["scheduled_requests"],
        ),
        (
            # Requests in the pipeline its last step did not schedule, and those the engine holds back
            # until their grammar compiles (vLLM counts its WAITING_FOR_FSM requests as waiting too).
            GaugeMetricFamily(
                "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels=LABELS
            ),
            lambda engine: (
                max(0, engine["engine_requests"] - engine["scheduled_requests"]) + engine.get("waiting_for_grammar", 0)
            ),
        ),
        (
            GaugeMetricFamily("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels=LABELS),
            lambda engine: engine["cache_usage"] / 100,  # the engine reports a percentage
        ),
        (
            # vLLM's name for it before 0.10, still the default of some llm-d/Gateway API Inference
            # Extension schedulers (their --kv-cache-usage-percentage-metric).
            GaugeMetricFamily(
                "vllm:gpu_cache_usage_perc",
                "GPU KV-cache usage. 1 means 100 percent usage. DEPRECATED: Use vllm:kv_cache_usage_perc instead.",
                labels=LABELS,
            ),
            lambda engine: engine["cache_usage"] / 100,
        ),
    ]


def cache_config_labels(options):
    """The labels of vLLM's CacheConfig the node's options tell exactly.

    Its block_size and num_gpu_blocks are left out: OpenVINO GenAI picks the block size by device inside
    the pipeline and exposes neither it nor the block count, and a guessed number would mislead a router.
    """
    return {
        "cache_dtype": str(options.get("plugin_config", {}).get("KV_CACHE_PRECISION", "auto")),
        "enable_prefix_caching": str(bool(options["enable_prefix_caching"])),
    }


def engine_families(registry):
    """vLLM's engine gauges and its cache_config_info, from the stats every engine sends every worker (see
    http/metrics.py's engine_families: the same copy, and none for an engine this worker can't hear)."""
    gauges = _engine_gauges()
    cache_config = []
    for servable in registry:
        if not servable.is_ready():
            continue
        engine = servable.terminal.stats().get("engine", {})
        labels = [servable.name, ENGINE]
        for family, value in gauges:
            try:
                family.add_metric(labels, value(engine))
            except KeyError:  # not an LLM engine, or not heard from yet
                pass
        options = getattr(servable.terminal, "options", {})
        if "cache_usage" in engine and "enable_prefix_caching" in options:
            cache_config.append(dict(zip(LABELS, labels), **cache_config_labels(options)))
    families = [family for family, _ in gauges if family.samples]
    if cache_config:
        families.append(_info_family(cache_config))
    return families


def _info_family(label_sets):
    """vLLM's info-style gauge: 1, the information in its labels (every label set has the same keys)."""
    family = GaugeMetricFamily(
        "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", labels=sorted(label_sets[0])
    )
    for labels in label_sets:
        family.add_metric([labels[key] for key in sorted(labels)], 1)
    return family
