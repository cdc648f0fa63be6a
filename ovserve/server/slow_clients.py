"""What a client's request body may cost an HTTP worker: a bounded time, and a fair share of its loop.

gunicorn's gevent worker bounds the wait for a request's headers (its keep-alive setting, our
--header-timeout-seconds) but not the body: a client that sent its headers and `{"a"` held its slot
for good (one was still open after 65 s; 1,000 of them filled `worker_connections`, and the liveness
probe timed out). `GuardedBodies` gives every request --body-timeout-seconds from the end of its
headers to send the whole body.

A big body is then parsed, validated, templated and tokenized without a yield to the event loop
(190 ms for a 15 MB prompt, most of it with the GIL held, so a thread would not help). Four at once
ran back to back and held liveness for their sum; now each big body waits for its turn, one at a
time, after the loop has served whatever else was ready.
"""

import logging
import resource
import socket
import time

import gevent
from gevent.lock import Semaphore

from ovserve.http.body import BodyTimeout

log = logging.getLogger("ovserve.server")
# File descriptors a worker needs besides its connections: listener, engine sockets, metrics files, logs.
SPARE_FILE_DESCRIPTORS = 256
BIG_BODY_BYTES = 1 << 20  # from here on, parsing costs the loop more than ~10 ms


class GuardedBodies:
    """WSGI middleware: every request's body is read through a GuardedInput."""

    def __init__(self, app, timeout_seconds):
        self.app = app
        self.timeout_seconds = timeout_seconds
        self.turns = CpuTurns()

    def __call__(self, environ, start_response):
        environ["wsgi.input"] = GuardedInput(
            environ["wsgi.input"], self.timeout_seconds, self.turns, environ.get("gunicorn.socket")
        )
        return self.app(environ, start_response)


class CpuTurns:
    """One big body's CPU work at a time. A turn starts once the loop has served everything else ready
    (liveness probes, other streams) and ends when its greenlet next yields (waits for the engine, writes
    its answer), which is where its CPU-bound work ends, whoever's code it is."""

    def __init__(self):
        self._turn = Semaphore()

    def wait_for_turn(self):
        self._turn.acquire()
        try:
            gevent.idle()
        finally:  # even if this greenlet is killed while it waits: the next big body must get its turn
            gevent.get_hub().loop.run_callback(self._turn.release)  # run by the hub: once this greenlet yields


class GuardedInput:
    """A wsgi.input whose reads all end within `seconds` of its creation (else BodyTimeout, and the
    connection's reading side is shut, so gunicorn does not wait for the rest of the body either). A read
    that brings the body past BIG_BODY_BYTES returns in the worker's next CPU turn."""

    def __init__(self, stream, seconds, turns, sock=None):
        self._stream = stream
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._turns = turns
        self._sock = sock
        self._bytes = 0

    def _guarded(self, read, *args):
        data = self._within_deadline(read, *args)
        if self._bytes <= BIG_BODY_BYTES < self._bytes + len(data):
            self._turns.wait_for_turn()
        self._bytes += len(data)
        return data

    def _within_deadline(self, read, *args):
        timer = gevent.Timeout(max(0.0, self._deadline - time.monotonic()))
        timer.start()
        try:
            return read(*args)
        except gevent.Timeout as expired:
            if expired is not timer:
                raise
            self._cut()
            raise BodyTimeout(f"The request body did not arrive within {self._seconds:g} s.") from None
        finally:
            timer.close()

    def _cut(self):
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def read(self, size=-1):
        return self._guarded(self._stream.read, size)

    def readline(self, size=-1):
        return self._guarded(self._stream.readline, size)

    def readlines(self, hint=-1):
        lines, size = [], 0
        for line in self:
            lines.append(line)
            size += len(line)
            if 0 < hint <= size:
                break
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def connections_within_file_limit(wanted):
    """Raise this process's open-file limit (inherited by the workers) for `wanted` connections; return
    how many connections fit under the hard limit when it is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_FILE_DESCRIPTORS
    if hard != resource.RLIM_INFINITY and hard < needed:
        log.warning(
            "the open-file limit (%d) allows %d connections per worker, not %d",
            hard,
            hard - SPARE_FILE_DESCRIPTORS,
            wanted,
        )
        needed, wanted = hard, max(1, hard - SPARE_FILE_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return wanted
