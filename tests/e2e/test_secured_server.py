"""API keys, CORS and graceful shutdown, on a server of their own (it is stopped by the last test)."""

import json
import signal
import socket
import threading
import time

import openai
import pytest
import requests
from openai import OpenAI

from tests.e2e import attacks
from tests.e2e.server import FIXTURES, RunningServer
from tests.unit.test_security_routes import spellings

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    keys = folder / "keys.txt"
    keys.write_text(f"# one key per line\n{KEY}\n")
    running = RunningServer(
        FIXTURES / "single.json",
        "--api-key-file",
        str(keys),
        "--cors-origins",
        "https://app.example",
        "--drain-seconds",
        "3",
        log_path=folder / "server.log",
    )
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def test_api_key_required_on_api_routes_not_on_health(secured):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    missing = requests.post(secured.base + "/v3/chat/completions", json=body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    wrong = requests.get(secured.base + "/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert requests.get(secured.base + "/v2/health/ready").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=secured.base + "/v3", api_key="bad", max_retries=0).models.list()
    good = OpenAI(base_url=secured.base + "/v3", api_key=KEY, max_retries=0)
    assert good.chat.completions.create(**body, extra_body={"ignore_eos": True}).usage.completion_tokens == 2


def raw_status(port, method, path, headers=(), body=b""):
    """The status of one request sent exactly as written (no client library normalises the path)."""
    headers = [*headers, ("Content-Length", len(body))] + ([("Content-Type", "application/json")] if body else [])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(attacks.request_head(method, path, headers) + body)
        return attacks.read_status(sock, 60)


def test_no_spelling_of_a_path_gets_around_the_api_key(secured):
    """Before: `//v3/...`, `///v3/...` and `/%2Fv3/...` reached their routes without a key (200, with a completion)."""
    chat = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}).encode()
    tokenize = json.dumps({"model": MODEL, "prompt": "Hi"}).encode()
    requests_to_try = [("POST", spelled, chat) for spelled in spellings("/v3/chat/completions").values()]
    requests_to_try += [("POST", spelled, tokenize) for spelled in spellings("/v3/tokenize").values()]
    for path in ("/v1/models", f"/v3/models/{MODEL}", "/v3/openapi.json", f"/v2/models/{MODEL}/stats", "/v3/nowhere"):
        requests_to_try += [
            (method, spelled, b"") for spelled in spellings(path).values() for method in ("GET", "HEAD")
        ]
    requests_to_try += [("OPTIONS", "/v3/chat/completions", b""), ("DELETE", "//v3/models", b"")]
    opened = [
        (method, path, status)
        for method, path, body in requests_to_try
        if (status := raw_status(secured.port, method, path, body=body)) != 401
    ]
    assert opened == []
    key = [("Authorization", f"Bearer {KEY}")]
    assert raw_status(secured.port, "POST", "//v3/chat/completions", key, chat) == 200
    for probe in ("/v2/health/live", "//v2/health/ready", "/metrics"):
        assert raw_status(secured.port, "GET", probe) == 200, probe


def test_cors_preflight_and_headers(secured):
    preflight = requests.options(
        secured.base + "/v3/chat/completions",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    other = requests.get(secured.base + "/v2/health/live", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def wait_for_log(server, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in server.log_text():
        assert time.monotonic() < deadline, f"no {text!r} in the log"
        time.sleep(0.001)


def test_sigterm_drains_finishes_in_flight_and_exits_zero(secured):
    client = OpenAI(base_url=secured.base + "/v3", api_key=KEY, max_retries=0)
    result = {}

    def stream():
        chunks = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell a story."}],
            max_tokens=120,
            extra_body={"ignore_eos": True},
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in chunks:
            if chunk.usage:
                result["usage"] = chunk.usage
            if chunk.choices and chunk.choices[0].finish_reason:
                result["finish"] = chunk.choices[0].finish_reason

    worker = threading.Thread(target=stream)
    worker.start()
    time.sleep(1.0)
    secured.process.send_signal(signal.SIGTERM)
    wait_for_log(secured, "received SIGTERM; stopping")
    # At once: before, readiness answered 200 until the supervisor's next poll, up to 0.2 s later.
    ready = requests.get(secured.base + "/v2/health/ready")
    assert ready.status_code == 503 and ready.json()["draining"] is True
    refused = requests.post(
        secured.base + "/v3/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": MODEL, "prompt": "Hi", "max_tokens": 2},
    )
    assert refused.status_code == 503
    worker.join(120)
    assert result == {"usage": result["usage"], "finish": "length"} and result["usage"].completion_tokens == 120
    assert secured.process.wait(60) == 0
