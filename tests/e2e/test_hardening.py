"""Overload, timeouts, unary disconnects and engine crashes, on the real server."""

import json
import os
import signal
import socket
import time

import openai
import pytest

from tests.e2e.conftest import DEFAULT_MODEL, LIMITED_MODEL
from tests.e2e.test_disconnect_and_batching import wait_until_idle

LONG_BODY = {
    "model": LIMITED_MODEL,
    "messages": [{"role": "user", "content": "Tell a long story."}],
    "max_tokens": 3000,
    "ignore_eos": True,
}
LONG_KWARGS = {key: value for key, value in LONG_BODY.items() if key != "ignore_eos"} | {
    "extra_body": {"ignore_eos": True}
}


def raw_request(port, body):
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /v3/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


def wait_for_live_requests(http, base_url, count, timeout=20, model=LIMITED_MODEL):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = http.get(f"{base_url}/v2/models/{model}/stats").json()["nodes"]["llm"]
        if stats["engine"].get("live_requests", 0) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"never saw {count} live requests")


def test_unary_request_cancelled_when_client_leaves(server, http, base_url):
    wait_until_idle(http, base_url, DEFAULT_MODEL)
    sock = raw_request(server.port, dict(LONG_BODY, model=DEFAULT_MODEL))  # unary: nothing is written until it ends
    wait_for_live_requests(http, base_url, 1, model=DEFAULT_MODEL)
    sock.close()
    # 3000 tokens would take minutes: idle within seconds means the engine dropped the request.
    wait_until_idle(http, base_url, DEFAULT_MODEL, timeout=10)


def test_overload_gives_503_with_retry_after_and_recovers(server, http, base_url):
    wait_until_idle(http, base_url, LIMITED_MODEL)
    held = [raw_request(server.port, dict(LONG_BODY, stream=True)) for _ in range(3)]  # 2 running + 1 queued
    try:
        wait_for_live_requests(http, base_url, 3)
        response = http.post(f"{base_url}/v3/chat/completions", json=dict(LONG_BODY, max_tokens=5))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"]["type"] == "overloaded"
    finally:
        for sock in held:
            sock.close()
    wait_until_idle(http, base_url, LIMITED_MODEL)
    assert http.post(f"{base_url}/v3/chat/completions", json=dict(LONG_BODY, max_tokens=5)).status_code == 200


def test_request_timeout_stops_generation(client, http, base_url):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(**LONG_KWARGS)
    assert caught.value.status_code == 408 and caught.value.body["type"] == "timeout"
    chunks = client.chat.completions.create(stream=True, **LONG_KWARGS)
    with pytest.raises(openai.APIError, match="time limit"):
        for _ in chunks:
            pass
    wait_until_idle(http, base_url, LIMITED_MODEL, timeout=5)


def test_engine_crash_fails_its_requests_then_recovers(server, client, http, base_url):
    stream = client.chat.completions.create(stream=True, **dict(LONG_KWARGS, max_tokens=500))
    next(iter(stream))
    os.kill(server.engine_pid(f"{LIMITED_MODEL}/llm"), signal.SIGKILL)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    deadline = time.monotonic() + 120
    saw_not_ready = False
    while time.monotonic() < deadline:
        ready = http.get(f"{base_url}/v2/models/{LIMITED_MODEL}/ready").status_code
        saw_not_ready |= ready == 503
        if ready == 200 and saw_not_ready:
            break
        time.sleep(0.2)
    assert saw_not_ready
    result = client.chat.completions.create(
        model=LIMITED_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3, extra_body={"ignore_eos": True}
    )
    assert result.usage.completion_tokens == 3


def test_a_failing_request_does_not_disturb_a_running_stream(client):
    """A template error and an engine-rejected request fail alone while another stream goes on."""
    stream = client.chat.completions.create(
        model=LIMITED_MODEL,
        messages=[{"role": "user", "content": "Count slowly."}],
        max_tokens=40,
        extra_body={"ignore_eos": True},
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = iter(stream)
    next(chunks)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=LIMITED_MODEL, messages=[{"role": "user", "content": "BOOM"}], max_tokens=4
        )
    assert caught.value.body["code"] == "chat_template_error" and "refuses BOOM" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=LIMITED_MODEL,
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=2,
            extra_body={"min_tokens": 5},
        )
    assert caught.value.body["param"] == "min_tokens"
    rest = list(chunks)
    assert rest[-1].usage.completion_tokens == 40
    assert [c.choices[0].finish_reason for c in rest if c.choices and c.choices[0].finish_reason] == ["length"]


def test_stuck_engine_turns_readiness_red_and_is_restarted_by_the_watchdog(server, http, base_url, client):
    label = f"{LIMITED_MODEL}/llm"
    stuck = server.engine_pid(label)
    os.kill(stuck, signal.SIGSTOP)  # the loop stops turning; the process stays alive
    try:
        deadline = time.monotonic() + 60
        while http.get(f"{base_url}/v2/models/{LIMITED_MODEL}/ready").status_code != 503:
            assert time.monotonic() < deadline, "readiness never noticed the stuck engine"
            time.sleep(0.5)
        assert http.get(f"{base_url}/v2/health/ready").status_code == 503
        while http.get(f"{base_url}/v2/models/{LIMITED_MODEL}/ready").status_code != 200:
            assert time.monotonic() < deadline + 60, (
                f"the watchdog did not bring the engine back; server log tail:\n{server.log_text()[-3000:]}"
            )
            time.sleep(0.5)
    finally:
        try:
            os.kill(stuck, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert server.engine_pid(label) != stuck
    assert "watchdog" in server.log_text()
    result = client.chat.completions.create(
        model=LIMITED_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2, extra_body={"ignore_eos": True}
    )
    assert result.usage.completion_tokens == 2
