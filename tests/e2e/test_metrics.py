"""GET /metrics on a real server: counters move by exactly what real requests did, across workers."""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import DEFAULT_MODEL
from tests.e2e.server import FIXTURES, RunningServer

MESSAGES = [{"role": "user", "content": "Count from one to ten."}]
REQUEST_LABELS = {"api": "V3", "interface": "REST", "method": "Chat", "name": DEFAULT_MODEL}


def scrape(base_url):
    """{(sample name, sorted labels): value}; the parser spells OVMS's counters with `_total`."""
    response = requests.get(base_url + "/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, series, **labels):
    return samples.get((series, tuple(sorted(labels.items()))), 0.0)


def wait_until_idle(base_url, timeout=60):
    """Until no request of the default model is in flight (a previous test's stream may still end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = scrape(base_url)
        if value(samples, "ovms_current_requests", name=DEFAULT_MODEL) == 0:
            return samples
        time.sleep(0.2)
    raise TimeoutError("requests of the default model stayed in flight")


def chat(base_url, stream=False, max_tokens=6):
    """One chat request; its usage (the stream asks for it in the last chunk)."""
    body = {"model": DEFAULT_MODEL, "messages": MESSAGES, "max_tokens": max_tokens, "ignore_eos": True}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    response = requests.post(base_url + "/v3/chat/completions", json=body, stream=stream, timeout=120)
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()["usage"]
    chunks = [json.loads(line[len(b"data: ") :]) for line in response.iter_lines() if line.startswith(b"data: {")]
    assert chunks[-1]["usage"] is not None
    return chunks[-1]["usage"]


def test_metrics_move_by_what_the_requests_did(base_url):
    before = wait_until_idle(base_url)
    usages = [chat(base_url), chat(base_url, max_tokens=9), chat(base_url, stream=True), chat(base_url, stream=True)]
    bad = requests.post(
        base_url + "/v3/chat/completions",
        timeout=30,
        json={"model": DEFAULT_MODEL, "messages": MESSAGES, "max_tokens": -1},
    )
    unknown = requests.post(
        base_url + "/v3/chat/completions", timeout=30, json={"model": "no-such-model", "messages": MESSAGES}
    )
    assert (bad.status_code, unknown.status_code) == (400, 404)
    after = wait_until_idle(base_url)

    def delta(series, **labels):
        return value(after, series, **labels) - value(before, series, **labels)

    count = len(usages)
    generated = sum(usage["completion_tokens"] for usage in usages)
    assert generated == 6 + 9 + 6 + 6  # ignore_eos: each request generates max_tokens
    assert delta("ovms_requests_success_total", **REQUEST_LABELS) == count
    assert delta("ovms_requests_fail_total", **REQUEST_LABELS) == 1
    assert delta("ovserve_llm_generated_tokens_total", name=DEFAULT_MODEL) == generated
    assert delta("ovserve_llm_prompt_tokens_total", name=DEFAULT_MODEL) == sum(u["prompt_tokens"] for u in usages)
    assert delta("ovserve_llm_time_to_first_token_seconds_count", name=DEFAULT_MODEL) == count
    assert delta("ovserve_llm_request_latency_seconds_count", name=DEFAULT_MODEL) == count
    assert delta("ovms_request_time_us_count", interface="REST", name=DEFAULT_MODEL) == count
    # One observation per arrival of new tokens after the first: at most one per further token.
    assert count <= delta("ovserve_llm_inter_token_latency_seconds_count", name=DEFAULT_MODEL) <= generated - count
    assert (
        0
        < delta("ovserve_llm_time_to_first_token_seconds_sum", name=DEFAULT_MODEL)
        < delta("ovserve_llm_request_latency_seconds_sum", name=DEFAULT_MODEL)
    )
    assert not any(dict(labels).get("name") == "no-such-model" for _, labels in after)


def test_engine_gauges(base_url):
    samples = scrape(base_url)
    assert value(samples, "ovserve_llm_kv_cache_size_bytes", name=DEFAULT_MODEL) > 0
    assert 0 <= value(samples, "ovserve_llm_kv_cache_usage_ratio", name=DEFAULT_MODEL) <= 1
    assert ("ovserve_llm_requests_running", (("name", DEFAULT_MODEL),)) in samples
    assert ("ovserve_llm_requests_waiting", (("name", DEFAULT_MODEL),)) in samples


def test_ovms_counters_keep_their_names(base_url):
    text = requests.get(base_url + "/metrics", timeout=30).text
    labels = ",".join(f'{key}="{value}"' for key, value in sorted(REQUEST_LABELS.items()))
    assert f"ovms_requests_success{{{labels}}} " in text and "ovms_requests_success_total" not in text


# --- two workers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    log = tmp_path_factory.mktemp("two_workers") / "server.log"
    # Its last test stops it: the drain lasts long enough to read /health while it drains.
    running = RunningServer(FIXTURES / "single.json", "--workers", "2", "--drain-seconds", "3", log_path=log)
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def gunicorn_master(server):
    for pid in server.child_pids():
        if b"ovserve.server.wsgi" in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0"):
            return pid
    raise LookupError("no gunicorn master under the supervisor")


def metrics_folder(master_pid):
    environment = (Path("/proc") / str(master_pid) / "environ").read_bytes().split(b"\0")
    for entry in environment:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    raise LookupError("gunicorn runs without PROMETHEUS_MULTIPROC_DIR")


def successes_by_worker(folder):
    """{pid: ovms_requests_success of the default model's chat} read from each worker's own file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for family in multiprocess.MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "ovms_requests_success_total" and sample.labels == REQUEST_LABELS:
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


def test_two_workers_add_up(two_workers):
    base = two_workers.base
    folder = metrics_folder(gunicorn_master(two_workers))
    before = scrape(base)
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(6):  # the kernel picks the worker of each connection: send until both served some
            usages = list(pool.map(lambda _: chat(base, max_tokens=2), range(8)))
            sent += len(usages)
            if sum(1 for count in successes_by_worker(folder).values() if count) >= 2:
                break
    per_worker = successes_by_worker(folder)
    assert sum(1 for count in per_worker.values() if count) == 2, per_worker
    after = scrape(base)
    total = value(after, "ovms_requests_success_total", **REQUEST_LABELS)
    assert total - value(before, "ovms_requests_success_total", **REQUEST_LABELS) == sent
    assert total == sum(per_worker.values())
    assert (
        value(after, "ovserve_llm_generated_tokens_total", name=DEFAULT_MODEL)
        - value(before, "ovserve_llm_generated_tokens_total", name=DEFAULT_MODEL)
        == 2 * sent
    )
    # vLLM's counters add up over the workers the same way (ignore_eos: every request ends by its length).
    vllm_labels = {"model_name": DEFAULT_MODEL, "engine": "0"}
    length = dict(vllm_labels, finished_reason="length")
    assert (
        value(after, "vllm:request_success_total", **length) - value(before, "vllm:request_success_total", **length)
        == sent
    )
    assert (
        value(after, "vllm:generation_tokens_total", **vllm_labels)
        - value(before, "vllm:generation_tokens_total", **vllm_labels)
        == 2 * sent
    )

    # A worker that dies takes its in-flight gauge along, but its counts stay in the totals.
    victim = max(per_worker, key=per_worker.get)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (folder / f"gauge_livesum_{victim}.db").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (folder / f"gauge_livesum_{victim}.db").exists(), "child_exit did not mark the worker dead"
    two_workers.wait_ready()
    assert value(scrape(base), "ovms_requests_success_total", **REQUEST_LABELS) == total


def test_health_says_503_while_draining(two_workers):
    """vLLM's GET /health, which balancers probe: 503 from the signal on, while in-flight requests finish."""
    assert requests.get(two_workers.base + "/health", timeout=30).status_code == 200
    two_workers.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while "received SIGTERM; stopping" not in two_workers.log_text():
        assert time.monotonic() < deadline, "the supervisor never logged the signal"
        time.sleep(0.01)
    health = requests.get(two_workers.base + "/health", timeout=30)
    assert health.status_code == 503 and health.content == b""
    assert requests.get(two_workers.base + "/v2/health/ready", timeout=30).json()["draining"] is True
    assert two_workers.process.wait(60) == 0
