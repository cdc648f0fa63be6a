"""ovserve.http.metrics: GET /metrics over fake nodes, the request outcome rules, several processes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

from ovserve.errors import EngineFailure
from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http import metrics
from ovserve.http.app import AppOptions, create_app
from ovserve.http.exchange import Exchange, StreamBody
from ovserve.protocol.chat_completions import ChatWriter
from tests.unit.fakes import FakeGeneration, FakeGenerator, canned_steps

MODEL = "org/echo-model"
REPO = Path(__file__).resolve().parents[2]
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}


class StatsGenerator(FakeGenerator):
    """A fake LLM node whose engine reports stats the way the LLM node relays them."""

    engine_stats = {"engine_requests": 3, "scheduled_requests": 2, "cache_usage": 25.0, "kv_cache_bytes": 1024}

    def stats(self):
        return {"worker_open_requests": 0, "engine": dict(self.engine_stats)}


def fake_servable(name, node_class=StatsGenerator):
    context = NodeContext(name, "gen", Path("/fake") / name / "graph.json", "$.nodes[0].options")
    return Servable(name, [], node_class({}, context))


@pytest.fixture
def registry():
    return ServableRegistry([fake_servable(MODEL)])


@pytest.fixture
def client(registry):
    return testing.TestClient(create_app(registry, AppOptions(api_keys=("secret",))))


def scrape(client):
    """{(sample name, sorted labels): value} of GET /metrics."""
    result = client.simulate_get("/metrics")
    assert result.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(result.text)
        for sample in family.samples
    }


def value(samples, series, **labels):
    return samples.get((series, tuple(sorted(labels.items()))), 0.0)


def requests_counter(samples, outcome, method, name=MODEL):
    # The parser spells counters with `_total`; the page itself does not (see test_ovms_counter_spelling).
    return value(samples, f"ovms_requests_{outcome}_total", api="V3", interface="REST", method=method, name=name)


def post(client, path, body, **kwargs):
    return client.simulate_post(path, json=body, headers={"Authorization": "Bearer secret"}, **kwargs)


def test_open_without_api_key_in_prometheus_text_format(client):
    result = client.simulate_get("/metrics")
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert post(client, "/v3/chat/completions", CHAT).status_code == 200
    assert client.simulate_get("/v3/models").status_code == 401  # the API routes still need the key


def test_not_in_the_openapi_document(client):
    """The document describes the JSON API for clients; Prometheus reads /metrics without it."""
    document = client.simulate_get("/v3/openapi.json", headers={"Authorization": "Bearer secret"}).json
    assert "/metrics" not in document["paths"] and "/v2/health/live" in document["paths"]


def test_ovms_counter_spelling(client):
    text = client.simulate_get("/metrics").text
    assert "# TYPE ovms_requests_success counter" in text
    assert f'ovms_requests_success{{api="V3",interface="REST",method="Chat",name="{MODEL}"}} ' in text
    assert "ovms_requests_success_total" not in text and "ovms_requests_fail_total" not in text


def test_series_exist_at_zero_before_the_first_request(client):
    samples = scrape(client)
    for method in ("Chat", "Completions"):
        assert (
            "ovms_requests_success_total",
            tuple(sorted({"api": "V3", "interface": "REST", "method": method, "name": MODEL}.items())),
        ) in samples
    assert ("ovserve_llm_time_to_first_token_seconds_count", (("name", MODEL),)) in samples


def test_requests_move_the_counters_by_the_right_amounts(client):
    before = scrape(client)
    unary = post(client, "/v3/chat/completions", CHAT).json
    streamed = post(client, "/v3/chat/completions", dict(CHAT, stream=True))
    completion = post(client, "/v3/completions", {"model": MODEL, "prompt": "Hi"}).json
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    assert post(client, "/v3/chat/completions", dict(CHAT, max_tokens=-1)).status_code == 400
    assert post(client, "/v3/chat/completions", dict(CHAT, model="no-such-model")).status_code == 404
    after = scrape(client)

    def delta(series, **labels):
        return value(after, series, **labels) - value(before, series, **labels)

    assert requests_counter(after, "success", "Chat") - requests_counter(before, "success", "Chat") == 2
    assert requests_counter(after, "fail", "Chat") - requests_counter(before, "fail", "Chat") == 1
    assert requests_counter(after, "success", "Completions") - requests_counter(before, "success", "Completions") == 1
    # Each fake generation: 4 prompt tokens, 3 deltas of one token each.
    tokens = unary["usage"]["completion_tokens"] * 2 + completion["usage"]["completion_tokens"]
    assert delta("ovserve_llm_generated_tokens_total", name=MODEL) == tokens == 9
    assert delta("ovserve_llm_prompt_tokens_total", name=MODEL) == 12
    assert delta("ovserve_llm_time_to_first_token_seconds_count", name=MODEL) == 3
    assert delta("ovserve_llm_inter_token_latency_seconds_count", name=MODEL) == 6
    assert delta("ovserve_llm_request_latency_seconds_count", name=MODEL) == 3
    assert delta("ovms_request_time_us_count", interface="REST", name=MODEL) == 3
    assert value(after, "ovms_current_requests", name=MODEL) == 0
    assert not any(dict(labels).get("name") == "no-such-model" for _, labels in after)


def test_engine_gauges_come_from_the_engine_stats(client, registry):
    samples = scrape(client)
    assert value(samples, "ovserve_llm_requests_running", name=MODEL) == 2
    assert value(samples, "ovserve_llm_requests_waiting", name=MODEL) == 1
    assert value(samples, "ovserve_llm_kv_cache_usage_ratio", name=MODEL) == 0.25
    assert value(samples, "ovserve_llm_kv_cache_size_bytes", name=MODEL) == 1024
    next(iter(registry)).terminal.ready = False  # an engine this worker can't hear: no stale numbers
    assert not any(name.startswith("ovserve_llm_requests_") for name, _ in scrape(client))


def record_for(name=MODEL):
    record = metrics.RequestRecord("Chat", 0.0, {name})
    record.model({"model": name})
    return record


def streamed(record, generation):
    return StreamBody(Exchange(generation, record), ChatWriter(MODEL, 1), "request-1")


def test_a_stream_closed_before_its_end_is_a_failure_and_counts_its_tokens():
    before = scrape_recorded()
    body = streamed(record_for(), FakeGeneration(canned_steps(["a", "b", "c"]), prompt_tokens=7))
    next(body)  # the role chunk
    next(body)  # "a"
    body.close()
    body.close()
    after = scrape_recorded()
    assert changed(before, after, "ovms_requests_fail_total", method="Chat") == 1
    assert changed(before, after, "ovms_requests_success_total", method="Chat") == 0
    assert changed(before, after, "ovserve_llm_generated_tokens_total") == 1
    assert changed(before, after, "ovserve_llm_prompt_tokens_total") == 7
    assert changed(before, after, "ovserve_llm_request_latency_seconds_count") == 0


def test_a_generation_that_fails_midway_is_a_failure():
    before = scrape_recorded()
    record = record_for()
    with pytest.raises(EngineFailure):
        Exchange(FakeGeneration(canned_steps(["a"]), fail_with=EngineFailure("boom")), record).unary(
            ChatWriter(MODEL, 1)
        )
    record.finish(True)  # the outcome is already decided
    after = scrape_recorded()
    assert changed(before, after, "ovms_requests_fail_total", method="Chat") == 1
    assert changed(before, after, "ovms_requests_success_total", method="Chat") == 0
    assert changed(before, after, "ovserve_llm_time_to_first_token_seconds_count") == 1


def test_an_unknown_model_is_never_counted():
    record = metrics.RequestRecord("Chat", 0.0, {MODEL})
    for body in ({"model": "other"}, {"model": ["x"]}, ["not", "an", "object"], {}):
        record.model(body)
    assert record.name is None
    record.finish(False)
    assert not any(dict(labels).get("name") == "other" for _, labels in scrape_recorded())


def scrape_recorded():
    text, _ = metrics.render(ServableRegistry([]))
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def changed(before, after, series, **labels):
    labels = dict(labels, name=MODEL)
    if series.startswith("ovms_requests_"):
        labels.update(api="V3", interface="REST")
    return value(after, series, **labels) - value(before, series, **labels)


RECORD_IN_A_PROCESS = """
from ovserve.http import metrics
from ovserve.http.exchange import Exchange
from ovserve.protocol.chat_completions import ChatWriter
from tests.unit.fakes import FakeGeneration, canned_steps
record = metrics.RequestRecord("Chat", 0.0, {"m"})
record.model({"model": "m"})
Exchange(FakeGeneration(canned_steps(["a", "b"]), prompt_tokens=3), record).unary(ChatWriter("m", 1))
"""


def test_processes_add_up_in_the_multiprocess_folder(tmp_path):
    """What gunicorn's workers do: each records in its own files, a scrape in any of them sums them all."""
    environment = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    for _ in range(2):
        subprocess.run([sys.executable, "-c", RECORD_IN_A_PROCESS], cwd=REPO, env=environment, check=True, timeout=60)
    render = (
        "from ovserve.graph.registry import ServableRegistry\nfrom ovserve.http import metrics\n"
        "print(metrics.render(ServableRegistry([]))[0].decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", render],
        cwd=REPO,
        env=environment,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert 'ovms_requests_success{api="V3",interface="REST",method="Chat",name="m"} 2\n' in text
    assert 'ovserve_llm_generated_tokens_total{name="m"} 4.0\n' in text
    assert 'ovserve_llm_time_to_first_token_seconds_count{name="m"} 2.0\n' in text
    assert 'ovms_current_requests{name="m"} 0.0\n' in text
    # vLLM's names (a colon in them) add up the same way.
    assert 'vllm:generation_tokens_total{engine="0",model_name="m"} 4.0\n' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 2.0\n' in text
