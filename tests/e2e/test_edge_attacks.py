"""Attacks on the HTTP edge, on a server of their own (its last test kills it with SIGKILL).

Slow and half-sent bodies, chunked bodies, forged log lines, huge prompts, and the runtime folder a
killed server leaves. Every attack is bounded (count and time) and on loopback only; see attacks.py.
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e import attacks
from tests.e2e.server import FIXTURES, REPO, RunningServer

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
BODY_TIMEOUT = 3
HEADER_TIMEOUT = 2
FLOOD = 1000  # as many as gunicorn's worker_connections were before: they filled every slot


@pytest.fixture(scope="module")
def runtime_parent(tmp_path_factory):
    """The server's temporary folder: its runtime folder is made here, apart from other servers'."""
    return tmp_path_factory.mktemp("tmp")


@pytest.fixture(scope="module")
def edge(tmp_path_factory, runtime_parent):
    log = tmp_path_factory.mktemp("edge") / "server.log"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(runtime_parent))
        running = RunningServer(
            FIXTURES / "single.json",
            "--body-timeout-seconds",
            str(BODY_TIMEOUT),
            "--header-timeout-seconds",
            str(HEADER_TIMEOUT),
            log_path=log,
        )
    try:
        yield running.wait_ready()
    finally:
        running.stop()


@pytest.fixture()
def many_open_files():
    """The flood needs a file descriptor per connection in this process too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the open-file limit ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_half_sent_body_gets_408_after_the_body_timeout_and_is_closed(edge):
    sock = attacks.half_sent_post(edge.port)
    started = time.monotonic()
    try:
        assert attacks.read_status(sock, BODY_TIMEOUT + 10) == 408
        assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 10
        assert attacks.wait_closed(sock, 5) is not None  # the slot is free at once, not after the header timeout
    finally:
        sock.close()


def test_headers_that_never_end_are_cut_after_the_header_timeout(edge):
    with socket.create_connection(("127.0.0.1", edge.port)) as sock:
        sock.sendall(b"POST /v3/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed_after = attacks.wait_closed(sock, HEADER_TIMEOUT + 10)
    assert closed_after is not None and closed_after < HEADER_TIMEOUT + 10


def test_liveness_answers_through_a_flood_of_half_sent_bodies_which_are_all_cut(edge, many_open_files):
    with attacks.half_sent_flood(edge.port, FLOOD) as held:
        time.sleep(0.5)  # all accepted and waiting for their bodies
        latencies = [attacks.liveness_seconds(edge.port, timeout=5) for _ in range(10)]
        statuses = attacks.read_statuses(held, BODY_TIMEOUT + 20)
    assert max(latencies) < 2.0, latencies  # before: no answer within 10 s
    assert statuses.count(408) == FLOOD, {status: statuses.count(status) for status in set(statuses)}
    assert attacks.liveness_seconds(edge.port) < 2.0


def chunked_body(size, piece=1 << 20):
    """A completion request whose prompt is `size` bytes of 'x', sent in pieces (requests then uses chunked)."""
    yield f'{{"model": "{MODEL}", "max_tokens": 2, "prompt": "'.encode()
    for start in range(0, size, piece):
        yield b"x" * min(piece, size - start)
    yield b'"}'


def test_a_chunked_body_is_read_within_the_size_limit(edge):
    headers = {"Content-Type": "application/json"}
    small = requests.post(edge.base + "/v3/completions", data=chunked_body(2000), headers=headers, timeout=60)
    assert small.request.headers["Transfer-Encoding"] == "chunked"
    assert small.status_code == 200, small.text  # before: 400 "The request body is empty"
    assert small.json()["usage"]["completion_tokens"] == 2
    huge = requests.post(edge.base + "/v3/completions", data=chunked_body(40 << 20), headers=headers, timeout=60)
    assert huge.status_code == 413, huge.text
    assert huge.json()["error"]["message"] == f"The request body exceeds the limit of {16 << 20} bytes."


def test_a_url_encoded_newline_in_the_path_cannot_forge_an_access_log_line(edge):
    path = (FIXTURES / "payloads" / "forged_log_line.txt").read_text().strip()
    with socket.create_connection(("127.0.0.1", edge.port)) as sock:
        sock.sendall(attacks.request_head("GET", path))
        assert attacks.read_status(sock, 10) == 404
    deadline = time.monotonic() + 10
    while "request_id=FORGED" not in edge.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = edge.log_text().splitlines()
    assert not [line for line in lines if line.startswith("2030-01-01")]
    [line] = [line for line in lines if "request_id=FORGED" in line]
    assert "GET /v3/models\\x0a2030-01-01 00:00:00,000 [http 1] INFO ovserve.access:" in line and " 404 " in line


def huge_chat_body(megabytes):
    words = "word " * (megabytes * 1_000_000 // 5)
    return json.dumps({"model": MODEL, "max_tokens": 2, "messages": [{"role": "user", "content": words}]}).encode()


def test_liveness_stays_responsive_while_four_15_mb_prompts_are_refused(edge):
    body = huge_chat_body(15)
    with attacks.LivenessProbe(edge.port, interval=0.02) as probe:
        statuses = attacks.post_big_bodies(edge.port, "/v3/chat/completions", [body] * 4)
    assert statuses == [400] * 4  # far beyond the context
    assert len(probe.latencies) >= 2 and probe.worst < 0.75, probe.latencies  # before: 1.0-4.3 s


def process_gone(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_runtime_folder_of_a_killed_server_is_removed_at_the_next_start(edge, runtime_parent):
    """Last: kills this module's server."""
    [folder] = runtime_parent.glob("ovserve-*")
    children = edge.child_pids()
    edge.process.send_signal(signal.SIGKILL)
    edge.process.wait(10)
    deadline = time.monotonic() + 30
    while not all(process_gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)  # the engine and gunicorn stop by themselves (parent-death signal)
    assert folder.exists() and (folder / "owner").exists()  # sockets, heartbeat, metrics: all left behind
    alive = runtime_parent / "ovserve-alive"
    alive.mkdir()
    (alive / "owner").write_text(f"{os.getpid()} {Path('/proc/self/stat').read_text().rsplit(')', 1)[1].split()[19]}")
    started = subprocess.run(
        [sys.executable, "-m", "ovserve", "serve", "--config", "missing.json"],
        cwd=REPO,
        env=dict(os.environ, TMPDIR=str(runtime_parent)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2, started.stderr  # stops at the missing config, after the clean-up
    assert not folder.exists() and alive.exists(), started.stderr
    assert f"removed 1 runtime folder(s) of servers that are gone: {folder}" in started.stderr
