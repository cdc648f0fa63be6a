"""API keys, CORS and graceful shutdown, on a server of their own (it is stopped by the last test)."""

import signal
import threading
import time

import openai
import pytest
import requests
from openai import OpenAI

from tests.e2e.server import FIXTURES, RunningServer

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    keys = folder / "keys.txt"
    keys.write_text(f"# one key per line\n{KEY}\n")
    running = RunningServer(FIXTURES / "single.json", "--api-key-file", str(keys), "--cors-origins", "https://app.example",
                            "--drain-seconds", "3", log_path=folder / "server.log")
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


def test_cors_preflight_and_headers(secured):
    preflight = requests.options(secured.base + "/v3/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    other = requests.get(secured.base + "/v2/health/live", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_sigterm_drains_finishes_in_flight_and_exits_zero(secured):
    client = OpenAI(base_url=secured.base + "/v3", api_key=KEY, max_retries=0)
    result = {}

    def stream():
        chunks = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Tell a story."}],
                                                max_tokens=120, extra_body={"ignore_eos": True}, stream=True,
                                                stream_options={"include_usage": True})
        for chunk in chunks:
            if chunk.usage:
                result["usage"] = chunk.usage
            if chunk.choices and chunk.choices[0].finish_reason:
                result["finish"] = chunk.choices[0].finish_reason

    worker = threading.Thread(target=stream)
    worker.start()
    time.sleep(1.0)
    secured.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    ready = requests.get(secured.base + "/v2/health/ready")
    assert ready.status_code == 503 and ready.json()["draining"] is True
    refused = requests.post(secured.base + "/v3/completions", headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": MODEL, "prompt": "Hi", "max_tokens": 2})
    assert refused.status_code == 503
    worker.join(120)
    assert result == {"usage": result["usage"], "finish": "length"} and result["usage"].completion_tokens == 120
    assert secured.process.wait(60) == 0
