"""Bounded attacks on a local server (loopback only), for the edge tests and for measuring by hand.

Every attack has a fixed count and a time limit and cleans up after itself. By hand:

    python -m tests.e2e.attacks PORT flood|slow-body|big-bodies
"""

import http.client
import json
import socket
import sys
import threading
import time
from contextlib import contextmanager

HALF_SENT_BODY = b'{"a"'


def request_head(method, path, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def half_sent_post(port, path="/v3/chat/completions", declared_length=1000):
    """A connection that sends its headers and the start of a JSON body, then nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        request_head("POST", path, [("Content-Type", "application/json"), ("Content-Length", declared_length)])
        + HALF_SENT_BODY
    )
    return sock


@contextmanager
def half_sent_flood(port, count):
    """`count` connections holding half-sent bodies; all closed on exit."""
    held = []
    try:
        for _ in range(count):
            held.append(half_sent_post(port))
        yield held
    finally:
        for sock in held:
            sock.close()


def read_status(sock, timeout):
    """The status code the server answers on `sock` within `timeout` s; None if it closes or says nothing."""
    sock.settimeout(timeout)
    try:
        head = sock.recv(64)
    except (TimeoutError, ConnectionError):
        return None
    return int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None


def read_statuses(socks, timeout):
    """The status answered on each socket, all within `timeout` s in total (None where nothing came)."""
    deadline = time.monotonic() + timeout
    return [read_status(sock, max(0.01, deadline - time.monotonic())) for sock in socks]


def wait_closed(sock, timeout):
    """Seconds until the server closes `sock` (after any answer), or None if it stays open for `timeout` s."""
    started = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - started < timeout:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - started
    return None


def liveness_seconds(port, timeout=10.0):
    """Seconds one GET /v2/health/live takes on a new connection; `timeout` if it gets no answer."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/v2/health/live")
        if connection.getresponse().status != 200:
            return timeout
    except OSError:
        return timeout
    finally:
        connection.close()
    return time.monotonic() - started


class LivenessProbe:
    """Probes /v2/health/live every `interval` s in a thread while the block runs; keeps each latency."""

    def __init__(self, port, interval=0.05, timeout=10.0):
        self.port, self.interval, self.timeout = port, interval, timeout
        self.latencies = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.latencies.append(liveness_seconds(self.port, self.timeout))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(self.timeout + 1)

    @property
    def worst(self):
        return max(self.latencies, default=0.0)


def post_big_bodies(port, path, bodies, timeout=120):
    """POST each body (bytes) on its own connection at the same time; returns their status codes."""
    statuses = [None] * len(bodies)

    def send(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("POST", path, body=bodies[index], headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            statuses[index] = response.status
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return statuses


def stream_gaps(port, model, seconds_between=None, max_tokens=400):
    """Stream a chat completion; return the gaps (s) between its server-sent events as they arrive."""
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Tell a long story."}],
            "max_tokens": max_tokens,
            "ignore_eos": True,
            "stream": True,
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", "/v3/chat/completions", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    arrivals = []
    for line in response:
        if line.startswith(b"data: "):
            arrivals.append(time.monotonic())
    connection.close()
    return [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]


def _main(port, attack):
    if attack == "flood":
        started = time.monotonic()
        with half_sent_flood(port, 1000) as held:
            print(f"1000 half-sent bodies open in {time.monotonic() - started:.1f} s")
            print(f"liveness during the flood: {liveness_seconds(port):.3f} s")
            print(f"first connection closed after {wait_closed(held[0], 70)} s")
    elif attack == "slow-body":
        sock = half_sent_post(port)
        started = time.monotonic()
        status = read_status(sock, 70)
        print(f"status {status} after {time.monotonic() - started:.1f} s")
    elif attack == "big-bodies":
        model = "HuggingFaceTB/SmolLM2-135M-Instruct"
        body = json.dumps(
            {"model": model, "messages": [{"role": "user", "content": "word " * 3_000_000}], "max_tokens": 2}
        ).encode()
        gaps = []
        streaming = threading.Thread(target=lambda: gaps.extend(stream_gaps(port, model)))
        streaming.start()
        time.sleep(1.0)  # the stream runs
        with LivenessProbe(port, interval=0.02) as probe:
            statuses = post_big_bodies(port, "/v3/chat/completions", [body] * 4)
        streaming.join(120)
        print(
            f"statuses {statuses}; liveness worst {probe.worst:.3f} s over {len(probe.latencies)} probes; "
            f"the stream's longest gap between events {max(gaps, default=0):.3f} s"
        )


if __name__ == "__main__":
    _main(int(sys.argv[1]), sys.argv[2])
