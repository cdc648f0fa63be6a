"""vLLM's series on GET /metrics (ovserve.http.vllm_metrics) over fake nodes: names, labels, exact moves."""

from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

from ovserve.graph.messages import ChoiceDelta
from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http import metrics, vllm_metrics
from ovserve.http.app import AppOptions, create_app
from ovserve.http.exchange import Exchange, StreamBody
from ovserve.protocol.chat_completions import ChatWriter
from tests.unit.fakes import FakeGeneration, FakeGenerator, canned_steps

MODEL = "org/vllm-named-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
# The LLM node's options the cache_config_info labels come from (the rest of its options don't matter).
LLM_OPTIONS = {"enable_prefix_caching": True, "plugin_config": {"KV_CACHE_PRECISION": "u8"}}
ENGINE_STATS = {
    "engine_requests": 3,
    "scheduled_requests": 2,
    "waiting_for_grammar": 1,
    "cache_usage": 25.0,
    "kv_cache_bytes": 1024,
}


class StatsGenerator(FakeGenerator):
    """A fake LLM node whose engine reports stats the way the LLM node relays them."""

    def stats(self):
        return {"worker_open_requests": 0, "engine": dict(ENGINE_STATS)}


@pytest.fixture
def registry():
    context = NodeContext(MODEL, "llm", Path("/fake") / "graph.json", "$.nodes[0].options")
    return ServableRegistry([Servable(MODEL, [], StatsGenerator(dict(LLM_OPTIONS), context))])


@pytest.fixture
def client(registry):
    return testing.TestClient(create_app(registry, AppOptions(api_keys=("secret",))))


def samples_of(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client):
    result = client.simulate_get("/metrics")
    assert result.status_code == 200
    return samples_of(result.text)


def scrape_recorded():
    return samples_of(metrics.render(ServableRegistry([]))[0].decode())


def vllm(samples, series, name=MODEL, **labels):
    return samples.get((series, tuple(sorted(dict(labels, model_name=name, engine="0").items()))), 0.0)


def post(client, body, path="/v3/chat/completions"):
    return client.simulate_post(path, json=body, headers={"Authorization": "Bearer secret"})


def test_series_exist_at_zero_with_vllms_labels(client):
    samples = scrape(client)
    for reason in ("stop", "length", "abort"):
        assert (
            "vllm:request_success_total",
            (("engine", "0"), ("finished_reason", reason), ("model_name", MODEL)),
        ) in samples
    for series in (
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_count",
        "vllm:inter_token_latency_seconds_count",
        "vllm:time_per_output_token_seconds_count",
        "vllm:e2e_request_latency_seconds_count",
    ):
        assert (series, (("engine", "0"), ("model_name", MODEL))) in samples, series


def test_names_with_a_colon_in_the_text_format(client):
    text = client.simulate_get("/metrics").text
    assert "# TYPE vllm:request_success_total counter" in text
    assert f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="{MODEL}"}} ' in text
    assert "# TYPE vllm:time_to_first_token_seconds histogram" in text
    assert f'vllm:time_to_first_token_seconds_bucket{{engine="0",le="2560.0",model_name="{MODEL}"}} ' in text


def test_requests_move_the_vllm_series_by_exactly_what_they_did(client):
    before = scrape(client)
    usages = [post(client, CHAT).json["usage"], post(client, dict(CHAT, max_tokens=5)).json["usage"]]
    streamed = post(client, dict(CHAT, stream=True))
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    usages.append(post(client, {"model": MODEL, "prompt": "Hi"}, "/v3/completions").json["usage"])
    assert post(client, dict(CHAT, max_tokens=-1)).status_code == 400  # refused before the engine
    assert post(client, dict(CHAT, model="no-such-model")).status_code == 404
    after = scrape(client)

    def delta(series, **labels):
        return vllm(after, series, **labels) - vllm(before, series, **labels)

    # Each fake generation: 4 prompt tokens, 3 steps of one token, finished by "stop".
    assert delta("vllm:request_success_total", finished_reason="stop") == 4
    assert delta("vllm:request_success_total", finished_reason="length") == 0
    assert delta("vllm:request_success_total", finished_reason="abort") == 0
    assert delta("vllm:prompt_tokens_total") == sum(usage["prompt_tokens"] for usage in usages) + 4 == 16
    assert delta("vllm:generation_tokens_total") == sum(usage["completion_tokens"] for usage in usages) + 3 == 12
    assert delta("vllm:time_to_first_token_seconds_count") == 4
    assert delta("vllm:inter_token_latency_seconds_count") == delta("vllm:time_per_output_token_seconds_count") == 8
    assert delta("vllm:e2e_request_latency_seconds_count") == 4
    assert not any(dict(labels).get("model_name") == "no-such-model" for _, labels in after)


def test_engine_gauges_and_cache_config_come_from_the_engine_and_the_node(client, registry):
    samples = scrape(client)
    assert vllm(samples, "vllm:num_requests_running") == 2
    assert vllm(samples, "vllm:num_requests_waiting") == 1 + 1  # one not scheduled, one waiting for its grammar
    assert vllm(samples, "vllm:kv_cache_usage_perc") == vllm(samples, "vllm:gpu_cache_usage_perc") == 0.25
    info = {"cache_dtype": "u8", "enable_prefix_caching": "True"}
    assert vllm(samples, "vllm:cache_config_info", **info) == 1
    next(iter(registry)).terminal.ready = False  # an engine this worker can't hear: no stale numbers
    assert not any(name.startswith(("vllm:num_", "vllm:kv_", "vllm:gpu_", "vllm:cache_")) for name, _ in scrape(client))


def test_cache_config_labels_default_to_the_plugins_precision():
    labels = vllm_metrics.cache_config_labels({"enable_prefix_caching": False, "plugin_config": {}})
    assert labels == {"cache_dtype": "auto", "enable_prefix_caching": "False"}


@pytest.mark.parametrize(
    ("succeeded", "reasons", "expected"),
    [
        (True, {"stop"}, "stop"),
        (True, {"tool_calls"}, "stop"),  # vLLM's engine stops a tool call's sequence like any other
        (True, {"stop", "length"}, "length"),
        (False, {"stop"}, "abort"),
        (False, set(), "abort"),
    ],
)
def test_finished_reason(succeeded, reasons, expected):
    assert vllm_metrics.finished_reason(succeeded, reasons) == expected


def record_for(name=MODEL):
    record = metrics.RequestRecord("Chat", 0.0, {name})
    record.model({"model": name})
    return record


def test_a_generation_cut_by_length_counts_as_length():
    before = scrape_recorded()
    Exchange(FakeGeneration(canned_steps(["a", "b"], finish_reason="length"), prompt_tokens=6), record_for()).unary(
        ChatWriter(MODEL, 1)
    )
    after = scrape_recorded()
    assert (
        vllm(after, "vllm:request_success_total", finished_reason="length")
        - vllm(before, "vllm:request_success_total", finished_reason="length")
        == 1
    )
    assert vllm(after, "vllm:prompt_tokens_total") - vllm(before, "vllm:prompt_tokens_total") == 6


def test_a_stream_closed_early_is_an_abort_and_counts_its_tokens():
    before = scrape_recorded()
    generation = FakeGeneration(canned_steps(["a", "b", "c"]), prompt_tokens=7)
    body = StreamBody(Exchange(generation, record_for()), ChatWriter(MODEL, 1), "request-1")
    next(body)  # the role chunk
    next(body)  # "a"
    body.close()
    after = scrape_recorded()

    def delta(series, **labels):
        return vllm(after, series, **labels) - vllm(before, series, **labels)

    assert delta("vllm:request_success_total", finished_reason="abort") == 1
    assert delta("vllm:request_success_total", finished_reason="stop") == 0
    assert delta("vllm:generation_tokens_total") == 1
    assert delta("vllm:prompt_tokens_total") == 7
    assert delta("vllm:e2e_request_latency_seconds_count") == 1


def test_generated_tokens_count_as_they_arrive_and_the_rest_at_the_end():
    record = record_for()
    before = scrape_recorded()
    record.arrived(3, 0.5, [ChoiceDelta(0, "abc")])
    arrived = scrape_recorded()
    assert vllm(arrived, "vllm:generation_tokens_total") - vllm(before, "vllm:generation_tokens_total") == 3
    assert vllm(arrived, "vllm:request_success_total", finished_reason="stop") == vllm(
        before, "vllm:request_success_total", finished_reason="stop"
    )
    generation = FakeGeneration([], prompt_tokens=2)
    record.arrived(4, 0.6, [ChoiceDelta(0, "d", finish_reason="length")])
    generation.completion_tokens = 5  # a last token that made no delta the worker saw
    record.finish(True, generation)
    after = scrape_recorded()
    assert vllm(after, "vllm:generation_tokens_total") - vllm(before, "vllm:generation_tokens_total") == 5
    assert (
        vllm(after, "vllm:request_success_total", finished_reason="length")
        - vllm(before, "vllm:request_success_total", finished_reason="length")
        == 1
    )
