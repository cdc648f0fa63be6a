"""ovserve.runtime.bridge: the worker's engine client, against a scripted engine end of a real Unix socket."""

import errno
import itertools
import socket
import time

import gevent
import gevent.socket
import pytest

from ovserve.errors import NotReady
from ovserve.runtime import bridge, wire
from ovserve.protocol.responses import ClosingStream
from ovserve.runtime.bridge import EngineClient


class ScriptedEngine:
    """The engine's end of the socket: records what arrives, and in how many reads."""

    def __init__(self, path):
        self.listener = gevent.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.connection = None
        self.decoder = wire.FrameDecoder()

    def accept(self):
        self.connection, _ = self.listener.accept()
        self.send(("hello", {"kind": "llm"}))

    def send(self, message):
        self.connection.sendall(wire.encode(message))

    def read(self):
        """The messages of one read of the socket."""
        with gevent.Timeout(5):
            return self.decoder.feed(self.connection.recv(1 << 20))

    def close(self):
        for sock in (self.connection, self.listener):
            if sock is not None:
                sock.close()


@pytest.fixture
def engine_and_client(tmp_path):
    engine = ScriptedEngine(tmp_path / "engine.sock")
    client = EngineClient(str(tmp_path / "engine.sock"), "'test'")
    engine.accept()
    with gevent.Timeout(5):
        while not client.connected:
            gevent.sleep(0.01)
    yield engine, client
    client._runner.kill()
    engine.close()


def test_requests_that_come_together_reach_the_engine_together(engine_and_client):
    engine, client = engine_and_client
    submits = [gevent.spawn(client.submit, {"prompt_ids": [number]}) for number in range(3)]
    messages = engine.read()
    assert [(kind, payload) for kind, _, payload, _ in messages] == [("submit", {"prompt_ids": [n]}) for n in range(3)]
    sent_at = {message[3] for message in messages}
    assert len(sent_at) == 1  # one send time: the moment they left together
    for _, request_id, _, _ in messages:
        engine.send(("accepted", request_id))
    streams = [submit.get(timeout=5) for submit in submits]
    assert sorted(stream.request_id for stream in streams) == [message[1] for message in messages]


def test_a_lone_request_leaves_at_once_and_streams_its_updates(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]})
    (message,) = engine.read()
    engine.send(("accepted", message[1]))
    stream = submit.get(timeout=5)
    engine.send(("updates", [(message[1], {"n": 1}, False)]))
    engine.send(("updates", [(message[1], {"n": 2}, True)]))
    with gevent.Timeout(5):
        assert list(stream) == [{"n": 1}, {"n": 2}]
    assert client.open_streams == 0


def test_a_cancel_never_overtakes_its_submit(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]}, timeout=0)  # times out at once: cancels
    with pytest.raises(Exception):
        submit.get(timeout=5)
    messages = engine.read()
    while len(messages) < 2:
        messages += engine.read()
    assert [message[0] for message in messages] == ["submit", "cancel"]
    assert messages[0][1] == messages[1][1]


def test_a_submit_that_cannot_be_sent_fails_with_not_ready(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]})
    client._sock = None  # the connection dropped between the submit and its sending
    with pytest.raises(NotReady):
        submit.get(timeout=5)
    assert client.open_streams == 0


@pytest.fixture
def quick_staleness(monkeypatch):
    """An engine counts as silent after 0.5 s instead of 10 s (the same rule, a shorter clock)."""
    monkeypatch.setattr(bridge, "STALE_ENGINE_SECONDS", 0.5)
    monkeypatch.setattr(bridge, "SILENCE_CHECK_SECONDS", 0.05)
    return 0.5


def read_until_cancel(engine, request_id):
    messages = []
    while ("cancel", request_id) not in [message[:2] for message in messages]:
        messages += engine.read()
    return messages


def test_a_request_waiting_for_acceptance_fails_with_503_when_its_engine_goes_silent(engine_and_client,
                                                                                    quick_staleness):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]})
    (message,) = engine.read()  # then the engine says nothing more: stopped (SIGSTOP) or in an endless step
    started = time.monotonic()
    with pytest.raises(NotReady, match="stopped answering"):
        submit.get(timeout=5)  # the old bridge waited here until the watchdog killed the engine
    assert quick_staleness <= time.monotonic() - started < quick_staleness + 2
    assert client.open_streams == 0
    read_until_cancel(engine, message[1])  # should the engine wake up, it drops the request


def test_a_stream_fails_with_503_when_its_engine_goes_silent_and_is_cancelled_there(engine_and_client, quick_staleness):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]})
    (message,) = engine.read()
    engine.send(("accepted", message[1]))
    stream = submit.get(timeout=5)
    engine.send(("updates", [(message[1], {"n": 1}, False)]))
    updates = iter(stream)
    with gevent.Timeout(5):
        assert next(updates) == {"n": 1}
        with pytest.raises(NotReady):
            next(updates)
    read_until_cancel(engine, message[1])
    assert not client.responsive


def test_a_submit_to_a_silent_engine_fails_at_once_and_sends_nothing(engine_and_client, quick_staleness):
    engine, client = engine_and_client
    gevent.sleep(quick_staleness + 0.1)  # no stats came
    with gevent.Timeout(1), pytest.raises(NotReady, match="has not answered"):
        client.submit({"prompt_ids": [1]})
    assert client.open_streams == 0
    engine.send(("stats", {"live_requests": 0}))  # it speaks again: requests are taken again
    with gevent.Timeout(5):
        while not client.responsive:
            gevent.sleep(0.01)
    submit = gevent.spawn(client.submit, {"prompt_ids": [2]})
    (message,) = engine.read()  # the refused submit never went out
    assert message[0] == "submit" and message[2] == {"prompt_ids": [2]}
    engine.send(("accepted", message[1]))
    submit.get(timeout=5)


def test_an_engine_that_keeps_talking_is_never_given_up_on(engine_and_client, quick_staleness):
    """Silence counts from the engine's last message, not from the request's start."""
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, {"prompt_ids": [1]})
    (message,) = engine.read()
    for _ in range(6):  # stats only, for three times the stale time, before the acceptance
        gevent.sleep(quick_staleness / 2)
        engine.send(("stats", {"live_requests": 1}))
    engine.send(("accepted", message[1]))
    stream = submit.get(timeout=5)
    for number in range(6):  # a slow stream: one update per half stale time
        gevent.sleep(quick_staleness / 2)
        engine.send(("updates", [(message[1], {"n": number}, number == 5)]))
    with gevent.Timeout(5):
        assert [update["n"] for update in stream] == list(range(6))


def serve_like_gunicorn(body, sock):
    """What gunicorn's gevent worker does with a streamed response body."""
    try:
        for chunk in body:
            sock.sendall(chunk)
    finally:
        body.close()


def test_a_client_that_stops_reading_is_dropped_and_its_body_closed():
    server_end, client_end = gevent.socket.socketpair()
    closed = []
    body = ClosingStream((b"data: %d\n\n" % n for n in itertools.count()), lambda: closed.append(True))
    started = time.monotonic()
    with gevent.Timeout(10), pytest.raises(BrokenPipeError) as caught:  # the old body blocked here for good
        serve_like_gunicorn(bridge.bound_writes(body, server_end, 0.3), server_end)
    assert caught.value.errno == errno.EPIPE  # what gunicorn takes for a client that left (logged at debug)
    assert 0.3 <= time.monotonic() - started < 5
    assert closed == [True]  # closing the body cancels the generation
    client_end.close()
    server_end.close()


def test_waiting_for_the_next_chunk_is_not_a_blocked_write():
    server_end, client_end = gevent.socket.socketpair()
    received = bytearray()
    reader = gevent.spawn(lambda: [received.extend(data) for data in iter(lambda: client_end.recv(1 << 16), b"")])

    def slow_tokens():
        for number in range(3):
            gevent.sleep(0.4)  # a long prefill, or a busy engine: longer than the write bound
            yield b"data: %d\n\n" % number

    closed = []
    with gevent.Timeout(10):
        body = ClosingStream(slow_tokens(), lambda: closed.append(True))
        serve_like_gunicorn(bridge.bound_writes(body, server_end, 0.2), server_end)
        server_end.close()
        reader.join()
    assert bytes(received) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n" and closed == [True]
    gevent.sleep(0.5)  # and nothing fires after the end
