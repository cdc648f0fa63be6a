"""The worker side of the engine wire: the one module where greenlets meet engine processes.

Each HTTP worker opens one connection per engine. A reader greenlet receives the engine's frames
and hands each request's updates to that request's queue; request handlers only send and wait on
their own queue. When the connection drops, every waiting request gets an error at once (nothing
hangs) and the client reconnects in the background.
"""

import itertools
import logging
import socket as stdlib_socket
import time

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import gevent.socket

from ovserve.errors import ClientDisconnected, EngineFailure, InvalidRequest, NotReady, Overloaded, RequestTimeout
from ovserve.runtime import client_sockets, wire
from ovserve.runtime.messages import (
    CancelRequest,
    EngineHello,
    EngineStats,
    FailureKind,
    RequestAccepted,
    RequestFailed,
    RequestUpdates,
    SubmitRequest,
)
from ovserve.runtime.worker_pauses import WORKER_PAUSES

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
# How long a request to a worker that has not yet reached its engine waits for the connection (startup only).
FIRST_CONNECTION_WAIT_SECONDS = 2.0
# How often a connection looks for that silence: a waiting request fails 10-11 s into it.
SILENCE_CHECK_SECONDS = 1.0
_ACCEPTED = object()


class EngineStream:
    """Results of one request, in order (the node kind's typed results: TokenUpdate, Vectors, ...).
    Iterate for them; close() cancels the request if unfinished.

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
            result, done = self._next()
            if done:
                self.finished = True
            yield result

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
        self._ever_connected = False
        self._first_hello = gevent.event.Event()
        WORKER_PAUSES.start()
        self._runner = gevent.spawn(self._run)

    def close(self):
        """Stop for good (a retired servable's connection): its reader ends, and with it the socket."""
        self._runner.kill(block=False)

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
        """Seconds since this worker last heard from the engine, not counting a pause of the worker itself
        (worker_pauses.py): then the engine's messages were waiting unread, the silence was not its own."""
        return time.monotonic() - max(self.last_heard, WORKER_PAUSES.not_hearing_since())

    def submit(self, request, timeout=None):
        """Send a request (the node kind's typed request) and wait until the engine accepted it; return its
        EngineStream."""
        if not self.connected and not self._ever_connected:
            # A fresh worker connects a moment after its engine appears (it retries every 0.2 s), while another
            # worker may already answer readiness with 200: a request it gets meanwhile waits for the connection.
            self._first_hello.wait(FIRST_CONNECTION_WAIT_SECONDS)
        if not self.connected:
            raise NotReady(f"The engine of {self.label} is not ready yet; retry shortly.")
        if not self.responsive:
            raise NotReady(
                f"The engine of {self.label} has not answered for {self.silent_for():.0f} s "
                "(stuck, or in a very long step); retry shortly."
            )
        request_id = next(self._ids)
        stream = EngineStream(self, request_id, None if timeout is None else time.monotonic() + timeout)
        self._streams[request_id] = stream
        self._send_soon((request_id, request))
        try:
            stream.wait_accepted()
        except BaseException:
            stream.close()
            raise
        return stream

    def cancel(self, request_id):
        if self._streams.pop(request_id, None) is not None:
            self._send_soon(CancelRequest(request_id))  # after its submit, whether or not that went out yet

    def _send_soon(self, message):
        """Queue a message (a CancelRequest, or (request id, request) to submit); they leave together when
        this worker has run everything that was ready.

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
        data = b"".join(
            wire.encode(SubmitRequest(*message, sent_at) if isinstance(message, tuple) else message)
            for message in messages
        )
        sock = self._sock
        try:
            if sock is None:
                raise OSError("not connected")
            with self._send_lock:
                sock.sendall(data)
        except OSError:
            # The engine cancels everything of a connection that drops; submits that didn't go out fail.
            for message in messages:
                stream = self._streams.pop(message[0], None) if isinstance(message, tuple) else None
                if stream is not None:
                    stream._deliver(
                        _failure(
                            RequestFailed(
                                message[0],
                                FailureKind.GONE,
                                f"The engine of {self.label} is restarting; retry shortly.",
                            )
                        )
                    )

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
                self._fail_all(f"The engine of {self.label} stopped; the request was lost. Retry shortly.")
                log.warning("engine of %s disconnected; reconnecting", self.label)

    def _handle(self, message):
        self.last_heard = time.monotonic()
        if isinstance(message, RequestUpdates):
            for request_id, result, done in message.updates:
                stream = self._streams.get(request_id)
                if stream is None:
                    continue
                if done:
                    del self._streams[request_id]
                stream._deliver((result, done))
        elif isinstance(message, RequestAccepted):
            stream = self._streams.get(message.request_id)
            if stream is not None:
                stream._deliver(_ACCEPTED)
        elif isinstance(message, RequestFailed):
            stream = self._streams.pop(message.request_id, None)
            if stream is not None:
                stream._deliver(_failure(message))
        elif isinstance(message, EngineHello):
            self.info = message.info
            self._ever_connected = True
            self._first_hello.set()
            log.info("connected to the engine of %s", self.label)
        elif isinstance(message, EngineStats):
            self.stats = message.stats

    def _fail_all(self, text):
        """Every waiting request fails as lost with its engine (FailureKind.GONE)."""
        streams, self._streams = self._streams, {}
        for request_id, stream in streams.items():
            stream._deliver(_failure(RequestFailed(request_id, FailureKind.GONE, text)))

    def _watch_silence(self):
        """Fail the requests of an engine that stays silent (see STALE_ENGINE_SECONDS); the connection stays."""
        while True:
            gevent.sleep(SILENCE_CHECK_SECONDS)
            if not self._streams or not self.connected or self.responsive:
                continue
            silent_for = self.silent_for()
            log.error(
                "the engine of %s has been silent for %.0f s: failing its %d request(s) here and cancelling them there",
                self.label,
                silent_for,
                len(self._streams),
            )
            for request_id in self._streams:
                self._send_soon(CancelRequest(request_id))  # after its submit; the engine reads it if it wakes up
            self._fail_all(
                f"The engine of {self.label} stopped answering ({silent_for:.0f} s without a word); "
                "the request was cancelled. Retry shortly."
            )


def _failure(failed):
    """The client's error for a failed request: every failure, whatever its cause, is mapped here."""
    if failed.kind is FailureKind.REJECTED:
        return InvalidRequest(failed.message, param=failed.param)
    if failed.kind is FailureKind.OVERLOADED:
        return Overloaded(failed.message, retry_after=1)
    if failed.kind is FailureKind.GONE:
        return NotReady(failed.message)
    return EngineFailure(f"The engine failed the request: {failed.message}")


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

    watch_disconnect = staticmethod(client_sockets.watch_disconnect)
    bound_writes = staticmethod(client_sockets.bound_writes)
