"""The HTTP client's socket, seen from a request's greenlet: a client that leaves, or stops reading.

Both end in the same place: the request's generation is closed, which cancels it in the engine.
"""

import errno
import logging
import socket as stdlib_socket
import sys

import gevent
import gevent.socket

log = logging.getLogger("ovserve.clients")


def watch_disconnect(sock, on_disconnect):
    """Call on_disconnect() if the client closes its connection; return a function that stops watching.

    The request body has been read, so the socket turns readable only when the client sends more
    (a pipelined request: stop watching, the connection is alive) or closes it (recv gives b'').
    """
    if sock is None:
        return lambda: None

    def watch():
        try:
            gevent.socket.wait_read(sock.fileno())
            if sock.recv(1, stdlib_socket.MSG_PEEK) == b"":
                on_disconnect()
        except (OSError, ValueError):
            on_disconnect()

    watcher = gevent.spawn(watch)
    return lambda: watcher.kill(block=False)


# What the kernel may hold of a stream its client doesn't read. Left to Linux's autotuning, the send
# buffer of a client that reads nothing grew to 2.8-4 MB (measured on loopback): 10,000+ chunks, minutes
# of tokens, so a write blocked only after the generation had ended, if ever. Capped (Linux doubles the
# value: 128 KB), writes block after ~100 KB, ~290 KB with a client's default receive buffer. A token
# stream (~250 bytes a chunk, tens of KB/s with logprobs) needs no more: 128 KB per 200 ms round trip
# still carries 640 KB/s.
STREAM_SEND_BUFFER_BYTES = 64 * 1024


class ClientStoppedReading(BrokenPipeError):
    """Raised into a response write that stayed blocked for the client write timeout."""


class BoundedWrites:
    """A streamed response body each of whose writes must finish within `seconds`, else the client is dropped.

    A client that stops reading fills its socket's buffers, and then gunicorn's sendall blocks the
    request's greenlet for good: the request stays in flight, and its generation keeps the engine busy
    until it ends. Here a write blocked for `seconds` gets a BrokenPipeError, as if the client had left:
    gunicorn drops the connection (a broken pipe is logged at debug level only) and closes this body,
    which cancels the generation in the engine. Producing a chunk (waiting for the engine's next tokens)
    is not writing and is not bounded here.
    """

    def __init__(self, body, sock, seconds):
        if sock is not None:
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, STREAM_SEND_BUFFER_BYTES)
        self._body = body
        self._seconds = seconds
        self._stalled = ClientStoppedReading(errno.EPIPE, f"the client read nothing for {seconds:g} s")
        self._deadline = gevent.Timeout(seconds, self._stalled)

    def __iter__(self):
        return self

    def __next__(self):
        self._deadline.cancel()
        try:
            return next(self._body)
        finally:
            # Armed until the next call or close(): in between, gunicorn writes this chunk (after the last
            # one, the end of the chunked body). The timer interrupts the greenlet that armed it: this one.
            self._deadline.start()

    def close(self):
        self._deadline.close()
        if sys.exc_info()[1] is self._stalled:  # gunicorn closes the body while our error unwinds its write
            log.info(
                "a client read nothing of its stream for %g s: dropped it and cancelled its generation", self._seconds
            )
        self._body.close()


def bound_writes(body, sock, seconds):
    """`body` (an iterable response with close()) written to `sock` (the client's socket), dropping its
    client when a write blocks for `seconds` (0: never)."""
    return BoundedWrites(body, sock, seconds) if seconds and seconds > 0 else body
