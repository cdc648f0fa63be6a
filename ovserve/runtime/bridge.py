"""The worker side of the engine wire: the one module where greenlets meet engine processes.

Each HTTP worker opens one connection per engine. A reader greenlet receives the engine's frames
and hands each request's updates to that request's queue; request handlers only send and wait on
their own queue. When the connection drops, every waiting request gets an error at once (nothing
hangs) and the client reconnects in the background.
"""

import errno
import itertools
import logging
import socket as stdlib_socket
import sys
import time

import gevent
import gevent.lock
import gevent.queue
import gevent.socket

from ovserve.errors import (ClientDisconnected, EngineFailure, InvalidRequest, NotReady, Overloaded,
                            RequestTimeout)
from ovserve.runtime import wire

log = logging.getLogger("ovserve.bridge")
RECONNECT_DELAY_SECONDS = 0.2
# The engine sends its stats every second (engine_host.STATS_INTERVAL_SECONDS) after each turn of its
# loop, idle or not, so only a step keeps it silent. A step can legitimately last a second or more
# (a 256-token prefill chunk on these CPUs), so a few seconds of silence prove nothing; ten intervals
# mean the loop is stuck (or in a pathological step: a grammar for a 300-deep JSON schema compiles for
# 10-17 s). From then on readiness answers 503, new requests are refused at once, and requests waiting
# on the engine fail with 503 and are cancelled there (it may wake up), instead of hanging until the
# supervisor's watchdog (--watchdog-seconds, 30 s by default, so later than this) kills the engine.
STALE_ENGINE_SECONDS = 10.0
# How often a connection looks for that silence: a waiting request fails 10-11 s into it.
SILENCE_CHECK_SECONDS = 1.0
_ACCEPTED = object()


class EngineStream:
    """Updates of one request, in order. Iterate for updates; close() cancels if unfinished.

    `deadline` (time.monotonic() value or None) bounds the whole request: past it, iteration
    raises RequestTimeout and the engine is told to stop.
    """

    def __init__(self, client, request_id, deadline=None):
        self._client = client
        self.request_id = request_id
        self.deadline = deadline
        self._queue = gevent.queue.Queue()
        self.finished = False

    def _deliver(self, item):
        self._queue.put(item)

    def _next(self):
        timeout = None if self.deadline is None else self.deadline - time.monotonic()
        try:
            if timeout is not None and timeout <= 0:
                raise gevent.queue.Empty
            item = self._queue.get(timeout=timeout)
        except gevent.queue.Empty:
            self.close(RequestTimeout("The request exceeded the servable's time limit and was stopped."))
            raise RequestTimeout("The request exceeded the servable's time limit and was stopped.") from None
        if isinstance(item, BaseException):
            self.finished = True
            raise item
        return item

    def wait_accepted(self):
        """Block until the engine accepted the request; raise its refusal (busy, invalid) otherwise."""
        item = self._next()
        assert item is _ACCEPTED, item

    def __iter__(self):
        while not self.finished:
            update, done = self._next()
            if done:
                self.finished = True
            yield update

    def close(self, reason=None):
        """Cancel the request if it is still running; wake whoever waits on it with `reason`."""
        if not self.finished:
            self.finished = True
            self._client.cancel(self.request_id)
            self._queue.put(reason or ClientDisconnected("The request was cancelled."))


class EngineClient:
    def __init__(self, socket_path, label):
        self.socket_path = socket_path
        self.label = label
        self.info = None
        self.stats = {}
        self.last_heard = 0.0
        self._sock = None
        self._send_lock = gevent.lock.Semaphore()
        self._outgoing = []  # messages for the engine, sent together once this worker is idle
        self._flusher = None
        self._streams = {}
        self._ids = itertools.count(1)
        self._runner = gevent.spawn(self._run)

    @property
    def open_streams(self):
        return len(self._streams)

    @property
    def connected(self):
        return self._sock is not None and self.info is not None

    @property
    def responsive(self):
        """Connected, and heard from recently (readiness turns 503 when an engine's loop is stuck)."""
        return self.connected and self.silent_for() < STALE_ENGINE_SECONDS

    def silent_for(self):
        return time.monotonic() - self.last_heard

    def submit(self, payload, timeout=None):
        """Send a request and wait until the engine accepted it; return its EngineStream."""
        if not self.connected:
            raise NotReady(f"The engine of {self.label} is not ready yet; retry shortly.")
        if not self.responsive:
            raise NotReady(f"The engine of {self.label} has not answered for {self.silent_for():.0f} s "
                           "(stuck, or in a very long step); retry shortly.")
        request_id = next(self._ids)
        stream = EngineStream(self, request_id, None if timeout is None else time.monotonic() + timeout)
        self._streams[request_id] = stream
        self._send_soon(("submit", request_id, payload))
        try:
            stream.wait_accepted()
        except BaseException:
            stream.close()
            raise
        return stream

    def cancel(self, request_id):
        if self._streams.pop(request_id, None) is not None:
            self._send_soon(("cancel", request_id))  # after its submit, whether or not that went out yet

    def _send_soon(self, message):
        """Queue a message; they leave together when this worker has run everything that was ready.

        When many requests come at once, the worker templates and tokenizes them one after the other
        (a few ms each): sent one by one, the first would start a step alone and the others would wait
        for all of it (measured: 7 of 8 simultaneous requests lost a 230 ms prefill step). Sent
        together, they share the first step, as they would on the bare engine. A lone request waits
        only for one turn of the event loop."""
        self._outgoing.append(message)
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_when_idle)

    def _flush_when_idle(self):
        gevent.idle()
        messages, self._outgoing, self._flusher = self._outgoing, [], None
        # The send time lets the engine learn whether clients follow finishes up (follow_ups.py).
        sent_at = time.monotonic()
        data = b"".join(wire.encode(message + (sent_at,) if message[0] == "submit" else message)
                        for message in messages)
        sock = self._sock
        try:
            if sock is None:
                raise OSError("not connected")
            with self._send_lock:
                sock.sendall(data)
        except OSError:
            # The engine cancels everything of a connection that drops; submits that didn't go out fail.
            for message in messages:
                stream = self._streams.pop(message[1], None) if message[0] == "submit" else None
                if stream is not None:
                    stream._deliver(NotReady(f"The engine of {self.label} is restarting; retry shortly."))

    def _connect(self):
        while True:
            sock = gevent.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
            try:
                sock.connect(self.socket_path)
                return sock
            except OSError:
                sock.close()
                gevent.sleep(RECONNECT_DELAY_SECONDS)

    def _run(self):
        while True:
            sock = self._connect()
            self._sock = sock
            decoder = wire.FrameDecoder()
            silence_watch = gevent.spawn(self._watch_silence)
            try:
                while True:
                    data = sock.recv(1 << 20)
                    if not data:
                        break
                    for message in decoder.feed(data):
                        self._handle(message)
            except OSError as exc:
                log.warning("connection to the engine of %s failed: %s", self.label, exc)
            finally:
                silence_watch.kill(block=False)
                self._sock = None
                self.info = None
                sock.close()
                self._fail_all(NotReady(f"The engine of {self.label} stopped; the request was lost. Retry shortly."))
                log.warning("engine of %s disconnected; reconnecting", self.label)

    def _handle(self, message):
        self.last_heard = time.monotonic()
        kind = message[0]
        if kind == "accepted":
            stream = self._streams.get(message[1])
            if stream is not None:
                stream._deliver(_ACCEPTED)
        elif kind == "updates":
            for request_id, update, done in message[1]:
                stream = self._streams.get(request_id)
                if stream is None:
                    continue
                if done:
                    del self._streams[request_id]
                stream._deliver((update, done))
        elif kind == "failed":
            _, request_id, failure_kind, text = message
            stream = self._streams.pop(request_id, None)
            if stream is not None:
                stream._deliver(_failure(failure_kind, text))
        elif kind == "hello":
            self.info = message[1]
            log.info("connected to the engine of %s", self.label)
        elif kind == "stats":
            self.stats = message[1]

    def _fail_all(self, error):
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream._deliver(error)

    def _watch_silence(self):
        """Fail the requests of an engine that stays silent (see STALE_ENGINE_SECONDS); the connection stays."""
        while True:
            gevent.sleep(SILENCE_CHECK_SECONDS)
            if not self._streams or not self.connected or self.responsive:
                continue
            silent_for = self.silent_for()
            log.error("the engine of %s has been silent for %.0f s: failing its %d request(s) here and cancelling "
                      "them there", self.label, silent_for, len(self._streams))
            for request_id in self._streams:
                self._send_soon(("cancel", request_id))  # after its submit; the engine reads it if it wakes up
            self._fail_all(NotReady(f"The engine of {self.label} stopped answering ({silent_for:.0f} s without "
                                    "a word); the request was cancelled. Retry shortly."))


def _failure(kind, text):
    if kind == "rejected":
        return InvalidRequest(text)
    if kind == "overloaded":
        return Overloaded(text, retry_after=1)
    return EngineFailure(f"The engine failed the request: {text}")


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
            log.info("a client read nothing of its stream for %g s: dropped it and cancelled its generation",
                     self._seconds)
        self._body.close()


def bound_writes(body, sock, seconds):
    """`body` (an iterable response with close()) written to `sock` (the client's socket), dropping its
    client when a write blocks for `seconds` (0: never)."""
    return BoundedWrites(body, sock, seconds) if seconds and seconds > 0 else body


class WorkerRuntime:
    """What nodes may use inside an HTTP worker: engine clients and background loading."""

    def __init__(self, engine_sockets):
        self._engine_sockets = engine_sockets  # {(servable, node): socket path}
        self._clients = {}

    def engine_client(self, servable, node):
        key = (servable, node)
        if key not in self._clients:
            self._clients[key] = EngineClient(self._engine_sockets[key], f"'{servable}' (node {node})")
        return self._clients[key]

    def clients(self):
        return dict(self._clients)

    @staticmethod
    def in_background(function, *args):
        return gevent.spawn(function, *args)

    watch_disconnect = staticmethod(watch_disconnect)
    bound_writes = staticmethod(bound_writes)
