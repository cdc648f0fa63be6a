"""ovserve.runtime.client_sockets: a client that stops reading its stream is dropped, on a real socket pair."""

import errno
import itertools
import time

import gevent
import gevent.socket
import pytest

from ovserve.runtime import client_sockets


class ClosingStream:
    """A streamed response body that calls `on_close` when closed, as the HTTP edge's StreamBody does."""

    def __init__(self, chunks, on_close):
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._chunks)

    def close(self):
        self._on_close()


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
        serve_like_gunicorn(client_sockets.bound_writes(body, server_end, 0.3), server_end)
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
        serve_like_gunicorn(client_sockets.bound_writes(body, server_end, 0.2), server_end)
        server_end.close()
        reader.join()
    assert bytes(received) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n" and closed == [True]
    gevent.sleep(0.5)  # and nothing fires after the end
