"""ovserve.server.slow_clients on gevent sockets (no server process): the body deadline and CPU turns."""

import time

import gevent
import pytest
from gevent import socket

from ovserve.http.body import BodyTimeout
from ovserve.server.slow_clients import BIG_BODY_BYTES, CpuTurns, GuardedInput


@pytest.fixture
def connection():
    """(server side, client side) of a local connection, as gevent sockets."""
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_body_that_stops_coming_times_out_and_the_connection_stops_reading(connection):
    server, client = connection
    client.sendall(b'{"a"')
    body = GuardedInput(server.makefile("rb"), 0.2, CpuTurns(), server)
    started = time.monotonic()
    with pytest.raises(BodyTimeout, match="did not arrive within 0.2 s") as raised:
        body.read(1000)
    assert 0.15 < time.monotonic() - started < 5
    assert raised.value.status == 408 and raised.value.code == "body_timeout"
    assert server.recv(10) == b""  # shut for reading: gunicorn won't wait for the rest of the body either


def test_the_deadline_counts_the_whole_body_not_each_read(connection):
    server, client = connection
    body = GuardedInput(server.makefile("rb"), 0.3, CpuTurns(), server)

    def drip():
        for _ in range(20):
            client.sendall(b"x")
            gevent.sleep(0.05)

    dripping = gevent.spawn(drip)
    received = b""
    with pytest.raises(BodyTimeout):
        while True:
            received += body.read(1)
    dripping.kill()
    assert 2 <= len(received) < 20


def test_a_body_that_arrives_in_time_is_read_whole(connection):
    server, client = connection
    client.sendall(b'{"a": 1}\nsecond line\n')
    client.shutdown(socket.SHUT_WR)
    body = GuardedInput(server.makefile("rb"), 5, CpuTurns(), server)
    assert body.readline() == b'{"a": 1}\n' and body.readlines() == [b"second line\n"]


def test_big_bodies_take_turns_and_the_loop_serves_ready_io_between_them(connection):
    """Without turns, the second big body ran as soon as the first yielded, before the loop looked at I/O
    (a liveness probe waiting there waited for every big body's work)."""
    server, client = connection
    turns, events = CpuTurns(), []
    big = b"x" * (BIG_BODY_BYTES + 1)

    def big_request(name):
        GuardedInput(_Bytes(big), 5, turns).read(len(big))
        events.append(f"{name} starts")
        if name == "first":
            client.sendall(b"probe")  # ready to read from now on; the loop sees it at its next poll
        time.sleep(0.05)  # CPU-bound: no yield
        events.append(f"{name} ends")
        gevent.sleep(0)  # waits for the engine: the turn ends

    def probe():
        server.recv(5)
        events.append("probe answered")

    waiting = gevent.spawn(probe)
    gevent.sleep(0.01)  # the probe waits on its socket
    gevent.joinall([gevent.spawn(big_request, "first"), gevent.spawn(big_request, "second"), waiting], timeout=5)
    assert events == ["first starts", "first ends", "probe answered", "second starts", "second ends"]


class _Bytes:
    def __init__(self, data):
        self.data = data

    def read(self, size):
        return self.data[:size]
