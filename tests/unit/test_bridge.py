"""ovserve.runtime.bridge: the worker's engine client, against a scripted engine end of a real Unix socket."""

import socket

import gevent
import gevent.socket
import pytest

from ovserve.errors import NotReady
from ovserve.runtime import wire
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
