"""ovserve.runtime.bridge: the worker's engine client, against a scripted engine end of a real Unix socket."""

import socket
import time

import gevent
import gevent.socket
import pytest

from ovserve.errors import NotReady, RequestTimeout
from ovserve.runtime import bridge, wire, worker_pauses
from ovserve.runtime.bridge import EngineClient
from ovserve.runtime.messages import (
    CancelRequest,
    EngineHello,
    EngineStats,
    RequestAccepted,
    RequestUpdates,
    SubmitRequest,
    WireMessage,
    wire_message,
)


@wire_message
class Prompt(WireMessage):
    """A request as a node kind would define one."""

    tag = "test.prompt"
    ids: tuple


@wire_message
class Count(WireMessage):
    """A result as a node kind would define one."""

    tag = "test.count"
    n: int


def updates(request_id, *numbers, last_done=False):
    return RequestUpdates(tuple((request_id, Count(number), last_done and number == numbers[-1]) for number in numbers))


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
        self.send(EngineHello({"kind": "llm"}))

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
    client.close()
    engine.close()


def test_requests_that_come_together_reach_the_engine_together(engine_and_client):
    engine, client = engine_and_client
    submits = [gevent.spawn(client.submit, Prompt((number,))) for number in range(3)]
    messages = engine.read()
    assert [message.request for message in messages] == [Prompt((n,)) for n in range(3)]
    sent_at = {message.sent_at for message in messages}
    assert len(sent_at) == 1  # one send time: the moment they left together
    for message in messages:
        engine.send(RequestAccepted(message.request_id))
    streams = [submit.get(timeout=5) for submit in submits]
    assert sorted(stream.request_id for stream in streams) == [message.request_id for message in messages]


def test_a_lone_request_leaves_at_once_and_streams_its_updates(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
    (message,) = engine.read()
    engine.send(RequestAccepted(message.request_id))
    stream = submit.get(timeout=5)
    engine.send(updates(message.request_id, 1))
    engine.send(updates(message.request_id, 2, last_done=True))
    with gevent.Timeout(5):
        assert list(stream) == [Count(1), Count(2)]
    assert client.open_streams == 0


def test_a_cancel_never_overtakes_its_submit(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)), timeout=0)  # times out at once: cancels
    with pytest.raises(RequestTimeout):
        submit.get(timeout=5)
    messages = engine.read()
    while len(messages) < 2:
        messages += engine.read()
    assert [type(message) for message in messages] == [SubmitRequest, CancelRequest]
    assert messages[0].request_id == messages[1].request_id


def test_a_submit_that_cannot_be_sent_fails_with_not_ready(engine_and_client):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
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
    while CancelRequest(request_id) not in messages:
        messages += engine.read()
    return messages


def test_a_request_waiting_for_acceptance_fails_with_503_when_its_engine_goes_silent(
    engine_and_client, quick_staleness
):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
    (message,) = engine.read()  # then the engine says nothing more: stopped (SIGSTOP) or in an endless step
    started = time.monotonic()
    with pytest.raises(NotReady, match="stopped answering"):
        submit.get(timeout=5)  # the old bridge waited here until the watchdog killed the engine
    assert quick_staleness <= time.monotonic() - started < quick_staleness + 2
    assert client.open_streams == 0
    read_until_cancel(engine, message.request_id)  # should the engine wake up, it drops the request


def test_a_stream_fails_with_503_when_its_engine_goes_silent_and_is_cancelled_there(engine_and_client, quick_staleness):
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
    (message,) = engine.read()
    engine.send(RequestAccepted(message.request_id))
    stream = submit.get(timeout=5)
    engine.send(updates(message.request_id, 1))
    results = iter(stream)
    with gevent.Timeout(5):
        assert next(results) == Count(1)
        with pytest.raises(NotReady):
            next(results)
    read_until_cancel(engine, message.request_id)
    assert not client.responsive


def test_a_submit_to_a_silent_engine_fails_at_once_and_sends_nothing(engine_and_client, quick_staleness):
    engine, client = engine_and_client
    gevent.sleep(quick_staleness + 0.1)  # no stats came
    with gevent.Timeout(1), pytest.raises(NotReady, match="has not answered"):
        client.submit(Prompt((1,)))
    assert client.open_streams == 0
    engine.send(EngineStats({"live_requests": 0}))  # it speaks again: requests are taken again
    with gevent.Timeout(5):
        while not client.responsive:
            gevent.sleep(0.01)
    submit = gevent.spawn(client.submit, Prompt((2,)))
    (message,) = engine.read()  # the refused submit never went out
    assert message.request == Prompt((2,))
    engine.send(RequestAccepted(message.request_id))
    submit.get(timeout=5)


def test_an_engine_that_keeps_talking_is_never_given_up_on(engine_and_client, quick_staleness):
    """Silence counts from the engine's last message, not from the request's start."""
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
    (message,) = engine.read()
    for _ in range(6):  # stats only, for three times the stale time, before the acceptance
        gevent.sleep(quick_staleness / 2)
        engine.send(EngineStats({"live_requests": 1}))
    engine.send(RequestAccepted(message.request_id))
    stream = submit.get(timeout=5)
    for number in range(6):  # a slow stream: one update per half stale time
        gevent.sleep(quick_staleness / 2)
        engine.send(RequestUpdates(((message.request_id, Count(number), number == 5),)))
    with gevent.Timeout(5):
        assert [result.n for result in stream] == list(range(6))


def test_a_pause_of_the_worker_itself_is_not_the_engines_silence(engine_and_client, quick_staleness):
    """The worker's own loop stood still (a GIL-holding load, a stalled machine) for longer than the stale
    time while its request waited: on waking, silence counts from then, not from the engine's last word."""
    engine, client = engine_and_client
    submit = gevent.spawn(client.submit, Prompt((1,)))
    (message,) = engine.read()
    engine.send(RequestAccepted(message.request_id))
    stream = submit.get(timeout=5)
    time.sleep(worker_pauses.PAUSE_SECONDS + 1.0)  # blocks the hub: nothing of this worker runs meanwhile
    gevent.sleep(quick_staleness / 4)  # awake again, the engine still quiet for a moment
    engine.send(updates(message.request_id, 1, last_done=True))
    with gevent.Timeout(5):
        assert list(stream) == [Count(1)]


def test_the_pause_clock_counts_a_late_turn_as_a_pause_and_an_unfinished_one_as_now():
    pauses = worker_pauses.WorkerPauses()
    pauses.note_turn()
    assert pauses.not_hearing_since() == 0.0  # no pause yet: the engine's last word counts
    time.sleep(worker_pauses.TICK_SECONDS + worker_pauses.PAUSE_SECONDS + 0.1)
    assert pauses.not_hearing_since() == pytest.approx(time.monotonic(), abs=0.05)  # standing still now
    pauses.note_turn()
    resumed = time.monotonic()
    time.sleep(0.01)
    assert pauses.not_hearing_since() == pytest.approx(resumed, abs=0.05)
