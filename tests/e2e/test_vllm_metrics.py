"""vLLM's series on a real server's GET /metrics: moved by exactly what real requests did, the engine's
running and waiting requests read while requests are held in flight."""

import json
import time
from contextlib import ExitStack

import requests

from tests.e2e.conftest import DEFAULT_MODEL, LIMITED_MODEL
from tests.e2e.test_metrics import MESSAGES, scrape, value

HELD = 3  # what the limited servable takes at once: max_num_seqs 2 + max_queued_requests 1


def vllm(samples, series, name=DEFAULT_MODEL, **labels):
    return value(samples, series, model_name=name, engine="0", **labels)


def wait_for(base_url, condition, what, timeout=60):
    """The first scrape that meets the condition (the engine gauges lag its stats by up to a second)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(base_url)
        if condition(samples):
            return samples
        assert time.monotonic() < deadline, f"{what}: never seen"
        time.sleep(0.2)


def idle(name):
    return lambda samples: value(samples, "ovms_current_requests", name=name) == 0


def streamed_usage(base_url, body):
    """A streamed chat's (usage, finish reason), the usage asked for in the last chunk."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    with requests.post(base_url + "/v3/chat/completions", json=body, stream=True, timeout=120) as response:
        assert response.status_code == 200, response.text
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: {")]
    reasons = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    return chunks[-1]["usage"], reasons[0]


def test_vllm_series_move_by_exactly_what_the_requests_did(base_url, client):
    before = wait_for(base_url, idle(DEFAULT_MODEL), "no request of the default model in flight")
    ended = []  # (usage, finish reason)
    for max_tokens in (6, 3):
        reply = client.chat.completions.create(
            model=DEFAULT_MODEL, messages=MESSAGES, max_tokens=max_tokens, extra_body={"ignore_eos": True}
        )
        ended.append((reply.usage.model_dump(), reply.choices[0].finish_reason))
    short = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=64
    )  # ends by itself or by its length: its reply says which
    ended.append((short.usage.model_dump(), short.choices[0].finish_reason))
    completion = client.completions.create(
        model=DEFAULT_MODEL, prompt="One, two,", max_tokens=5, extra_body={"ignore_eos": True}
    )
    ended.append((completion.usage.model_dump(), completion.choices[0].finish_reason))
    ended.append(streamed_usage(base_url, {"model": DEFAULT_MODEL, "messages": MESSAGES, "max_tokens": 9}))
    refused = requests.post(
        base_url + "/v3/chat/completions",
        json={"model": DEFAULT_MODEL, "messages": MESSAGES, "max_tokens": -1},
        timeout=30,
    )
    assert refused.status_code == 400  # refused before the engine: vLLM would not count it either
    after = wait_for(base_url, idle(DEFAULT_MODEL), "the requests ended")

    def delta(series, **labels):
        return vllm(after, series, **labels) - vllm(before, series, **labels)

    def ovserve_delta(series):
        return value(after, series, name=DEFAULT_MODEL) - value(before, series, name=DEFAULT_MODEL)

    reasons = [reason for _, reason in ended]
    assert set(reasons) <= {"stop", "length"}
    for reason in ("stop", "length"):
        assert delta("vllm:request_success_total", finished_reason=reason) == reasons.count(reason), reason
    assert delta("vllm:request_success_total", finished_reason="abort") == 0
    assert delta("vllm:prompt_tokens_total") == sum(usage["prompt_tokens"] for usage, _ in ended)
    assert delta("vllm:generation_tokens_total") == sum(usage["completion_tokens"] for usage, _ in ended)
    assert delta("vllm:time_to_first_token_seconds_count") == len(ended)
    assert delta("vllm:e2e_request_latency_seconds_count") == len(ended)
    # The same observations as ovserve's own inter-token histogram, under both of vLLM's names.
    gaps = ovserve_delta("ovserve_llm_inter_token_latency_seconds_count")
    assert delta("vllm:inter_token_latency_seconds_count") == delta("vllm:time_per_output_token_seconds_count") == gaps
    assert 0 < delta("vllm:time_to_first_token_seconds_sum") < delta("vllm:e2e_request_latency_seconds_sum")


def test_engine_gauges_and_cache_config(base_url):
    samples = scrape(base_url)
    assert 0 <= vllm(samples, "vllm:kv_cache_usage_perc") <= 1
    assert vllm(samples, "vllm:gpu_cache_usage_perc") == vllm(samples, "vllm:kv_cache_usage_perc")
    # servables/smollm2: prefix caching on, the plugin's own KV cache precision.
    info = {"cache_dtype": "auto", "enable_prefix_caching": "True"}
    assert vllm(samples, "vllm:cache_config_info", **info) == 1
    text = requests.get(base_url + "/metrics", timeout=30).text
    assert "# TYPE vllm:num_requests_waiting gauge" in text and "# TYPE vllm:request_success_total counter" in text


def test_running_and_waiting_while_requests_are_held_in_flight(base_url):
    """Three long streams held open on the limited servable are all in its engine, running or waiting.

    How its scheduler splits them is the engine's: measured on openvino_genai 2026.4, its last step
    scheduled all three (max_num_seqs 2 with dynamic split-fuse), so the test asserts what is exact: the
    sum, and vLLM's gauges reading what ovserve's own gauges read.
    """
    before = wait_for(base_url, idle(LIMITED_MODEL), "no request of the limited servable in flight")
    body = {"model": LIMITED_MODEL, "messages": MESSAGES, "max_tokens": 2000, "ignore_eos": True, "stream": True}
    with ExitStack() as held:
        for _ in range(HELD):
            response = held.enter_context(
                requests.post(base_url + "/v3/chat/completions", json=body, stream=True, timeout=120)
            )
            assert response.status_code == 200, response.text

        def all_in_the_engine(samples):
            running = vllm(samples, "vllm:num_requests_running", name=LIMITED_MODEL)
            return running + vllm(samples, "vllm:num_requests_waiting", name=LIMITED_MODEL) == HELD

        # Well within the servable's 10 s request timeout, which would end them.
        held_samples = wait_for(base_url, all_in_the_engine, "the three held requests in the engine", timeout=8)
        for vllm_name, ovserve_name in (
            ("vllm:num_requests_running", "ovserve_llm_requests_running"),
            ("vllm:num_requests_waiting", "ovserve_llm_requests_waiting"),  # no grammar is compiling
        ):
            assert vllm(held_samples, vllm_name, LIMITED_MODEL) == value(held_samples, ovserve_name, name=LIMITED_MODEL)
        assert 0 < vllm(held_samples, "vllm:kv_cache_usage_perc", LIMITED_MODEL) <= 1  # their blocks
    # Closing the connections cancels the three generations: vLLM's abort, and the engine empties.
    after = wait_for(base_url, idle(LIMITED_MODEL), "the held requests ended")

    def empty(samples):
        running = vllm(samples, "vllm:num_requests_running", name=LIMITED_MODEL)
        return (running, vllm(samples, "vllm:num_requests_waiting", name=LIMITED_MODEL)) == (0, 0)

    wait_for(base_url, empty, "the engine emptied")

    def delta(series, **labels):
        return vllm(after, series, LIMITED_MODEL, **labels) - vllm(before, series, LIMITED_MODEL, **labels)

    assert delta("vllm:request_success_total", finished_reason="abort") == HELD
    assert delta("vllm:request_success_total", finished_reason="length") == 0
    assert delta("vllm:e2e_request_latency_seconds_count") == HELD
    prompt = delta("vllm:prompt_tokens_total")
    assert prompt == value(after, "ovserve_llm_prompt_tokens_total", name=LIMITED_MODEL) - value(
        before, "ovserve_llm_prompt_tokens_total", name=LIMITED_MODEL
    )
    assert prompt > 0
