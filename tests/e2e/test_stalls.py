"""Stalls on either side of a generation, on a real server of their own: an engine that stops answering
(SIGSTOP) and a client that stops reading its stream. They stop engines and block sockets, so they don't
use the shared session server.
"""

import json
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import DEFAULT_MODEL
from tests.e2e.server import FIXTURES, RunningServer
from tests.e2e.test_disconnect_and_batching import wait_until_idle

CLIENT_WRITE_TIMEOUT_SECONDS = 3
# Far beyond the workers' 10 s of silence (bridge.STALE_ENGINE_SECONDS): a 503 before this comes from the
# worker giving up on the engine, not from the watchdog killing it.
WATCHDOG_SECONDS = 60
STALE_ENGINE_SECONDS = 10
LABEL = f"{DEFAULT_MODEL}/llm"
LONG_STREAM = {
    "model": DEFAULT_MODEL,
    "messages": [{"role": "user", "content": "Tell a long story."}],
    "max_tokens": 8000,
    "ignore_eos": True,
    "stream": True,
}
SHORT = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "ignore_eos": True}


@pytest.fixture(scope="module")
def stall_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("stall-server") / "server.log"
    running = RunningServer(
        FIXTURES / "single.json",
        "--watchdog-seconds",
        str(WATCHDOG_SECONDS),
        "--client-write-timeout-seconds",
        str(CLIENT_WRITE_TIMEOUT_SECONDS),
        log_path=log,
    )
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def counters(http, server):
    """(requests in flight in the workers, streams the worker waits on, requests live in the engine)."""
    stats = http.get(f"{server.base}/v2/models/{DEFAULT_MODEL}/stats").json()["nodes"]["llm"]
    metrics = http.get(f"{server.base}/metrics").text
    in_flight = re.search(r'^ovms_current_requests\{name="%s"\} (\S+)$' % re.escape(DEFAULT_MODEL), metrics, re.M)
    return float(in_flight.group(1)), stats["worker_open_requests"], stats["engine"].get("live_requests", 0)


def wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)
    return time.monotonic()


def test_a_client_that_stops_reading_is_dropped_and_its_generation_cancelled(stall_server, http):
    wait_until_idle(http, stall_server.base, DEFAULT_MODEL)
    body = json.dumps(LONG_STREAM).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # this client's own buffer holds little
    sock.connect(("127.0.0.1", stall_server.port))
    sock.sendall(
        b"POST /v3/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    try:
        wait_for(lambda: counters(http, stall_server)[2] >= 1, 60, "the engine never got the request")
        # ...and the client reads nothing. ~100 KB of chunks fill the buffers (a few hundred tokens), then
        # a write blocks; 3 s later the server drops it. Before, the kernel took megabytes (the whole answer).
        wait_for(
            lambda: counters(http, stall_server)[:2] == (0, 0),
            120,
            "the worker still holds the stream of a client that reads nothing",
        )
        # Within seconds of the worker (a few hundred tokens + 3 s in): to have finished its 8000 tokens by
        # then, the engine would have made ~1000 tokens/s. It was cancelled.
        wait_for(
            lambda: counters(http, stall_server)[2] == 0,
            5,
            "the engine still generates for a client the worker dropped",
        )
        received = bytearray()
        with sock:
            sock.settimeout(10)
            while data := sock.recv(1 << 16):  # what the server wrote before it gave up, then its close
                received += data
    finally:
        sock.close()
    chunks = received.count(b'"chat.completion.chunk"')
    assert b"data: [DONE]" not in received and 0 < chunks < LONG_STREAM["max_tokens"] / 2  # cut, not finished
    assert "read nothing of its stream for 3 s" in stall_server.log_text()
    assert requests.post(f"{stall_server.base}/v3/chat/completions", json=SHORT).status_code == 200


def test_requests_to_a_stopped_engine_fail_with_503_long_before_the_watchdog(stall_server, http):
    wait_until_idle(http, stall_server.base, DEFAULT_MODEL)
    stream = requests.post(f"{stall_server.base}/v3/chat/completions", json=LONG_STREAM, stream=True, timeout=120)
    lines = stream.iter_lines()
    assert next(line for line in lines if line.startswith(b"data: ")) is not None  # it streams
    engine = stall_server.engine_pid(LABEL)
    os.kill(engine, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        with ThreadPoolExecutor(1) as pool:
            # Sent before readiness turns 503: it reaches the engine, which never accepts it.
            time.sleep(3)
            waiting = pool.submit(requests.post, f"{stall_server.base}/v3/chat/completions", json=SHORT, timeout=120)
            events = [json.loads(line[6:]) for line in lines if line.startswith(b"data: {")]
            stream_failed = time.monotonic() - stopped
            assert "error" in events[-1] and events[-1]["error"]["type"] == "service_unavailable", events[-1]
            answer = waiting.result()
            waiting_failed = time.monotonic() - stopped
        assert answer.status_code == 503 and answer.json()["error"]["type"] == "service_unavailable"
        # Before: both hung until the watchdog killed the engine (here 60 s, by default 30 s).
        assert STALE_ENGINE_SECONDS - 2 < stream_failed < WATCHDOG_SECONDS / 2
        assert STALE_ENGINE_SECONDS - 2 < waiting_failed < WATCHDOG_SECONDS / 2
        sent = time.monotonic()
        refused = requests.post(f"{stall_server.base}/v3/chat/completions", json=SHORT, timeout=120)
        assert refused.status_code == 503 and time.monotonic() - sent < 2  # refused at once, not after 10 s
        assert requests.get(f"{stall_server.base}/v2/health/ready").status_code == 503
    finally:
        try:
            os.kill(engine, signal.SIGCONT)
        except ProcessLookupError:  # the watchdog killed it after all
            pass
    # Woken up, the engine reads the cancels the worker sent and drops the requests nobody waits for (the
    # stream's 8000 tokens would take a minute or more).
    wait_for(lambda: counters(http, stall_server) == (0, 0, 0), 15, "the engine still runs the failed requests")
    wait_for(lambda: requests.get(f"{stall_server.base}/v2/health/ready").status_code == 200, 30, "never ready again")
    assert stall_server.engine_pid(LABEL) == engine  # the watchdog never had to kill it
    assert requests.post(f"{stall_server.base}/v3/chat/completions", json=SHORT).status_code == 200
