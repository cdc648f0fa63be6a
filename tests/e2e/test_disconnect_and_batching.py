"""Client disconnects free the engine; concurrent requests are batched by one engine loop."""

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import DEFAULT_MODEL

LONG = dict(
    model=DEFAULT_MODEL,
    messages=[{"role": "user", "content": "Write a very long story about the sea."}],
    max_tokens=2000,
    ignore_eos=True,
    stream=True,
)


def wait_until_idle(http, base_url, model=DEFAULT_MODEL, timeout=30):
    """Poll the engine's own counters (sent every second) until nothing runs; return the last stats."""
    deadline = time.monotonic() + timeout
    stats = None
    while time.monotonic() < deadline:
        stats = http.get(f"{base_url}/v2/models/{model}/stats").json()["nodes"]["llm"]
        engine = stats["engine"]
        if (
            stats["worker_open_requests"] == 0
            and engine.get("live_requests") == 0
            and engine.get("engine_requests") == 0
        ):
            return stats
        time.sleep(0.2)
    raise AssertionError(f"engine did not return to idle: {stats}")


def open_stream_and_drop(port, body, chunks_to_read):
    """Start a streaming request on a raw socket, read a few SSE events, then vanish."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /v3/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    received = b""
    while received.count(b"data: ") < chunks_to_read:
        data = sock.recv(65536)
        assert data, "server closed the stream early"
        received += data
    sock.close()
    return received


def test_disconnect_mid_stream_cancels_generation_and_frees_the_engine(server, http, base_url, client):
    wait_until_idle(http, base_url)
    received = open_stream_and_drop(server.port, LONG, chunks_to_read=5)
    assert b"200 OK" in received.split(b"\r\n")[0]
    # Without cancellation this request would run for 2000 tokens (tens of seconds).
    stats = wait_until_idle(http, base_url, timeout=15)
    assert stats["engine"]["live_requests"] == 0
    result = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, extra_body={"ignore_eos": True}
    )
    assert result.usage.completion_tokens == 4


def test_sixteen_concurrent_streams_are_batched(client, http, base_url):
    """The engine's own counters show the streams in one batch (not a wall-clock ratio, which a noisy
    machine can break)."""

    def run(i):
        stream = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": f"Tell me fact number {i} about whales."}],
            max_tokens=48,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        text, usage, finish = "", None, None
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
        return text, usage, finish

    wait_until_idle(http, base_url)
    running = True
    peak = 0

    def watch():
        nonlocal peak
        while running:
            engine = http.get(f"{base_url}/v2/models/{DEFAULT_MODEL}/stats").json()["nodes"]["llm"]["engine"]
            peak = max(peak, engine.get("scheduled_requests", 0))
            time.sleep(0.1)

    with ThreadPoolExecutor(17) as pool:
        watcher = pool.submit(watch)
        try:
            results = list(pool.map(run, range(16)))
        finally:
            running = False
        watcher.result()
    for text, usage, finish in results:
        assert usage.completion_tokens == 48 and finish == "length" and text.strip()
    # 16 prompts of ~40 tokens fit one step's 256-token budget: most are scheduled in one step.
    assert peak >= 8, peak
