"""The worker side of the engine wire: the one module where greenlets meet engine processes.

Each HTTP worker opens one connection per engine. A reader greenlet receives the engine's frames
and hands each request's updates to that request's queue; request handlers only send and wait on
their own queue. When the connection drops, every waiting request gets an error at once (nothing
hangs) and the client reconnects in the background.
"""

import itertools
import logging
import socket as stdlib_socket

import gevent
import gevent.lock
import gevent.queue
import gevent.socket

from ovserve.errors import EngineFailure, InvalidRequest, NotReady
from ovserve.runtime import wire

log = logging.getLogger("ovserve.bridge")
RECONNECT_DELAY_SECONDS = 0.2
_CLOSED = object()


class EngineStream:
    """Updates of one request, in order. Iterate for (update, done); close() cancels if unfinished."""

    def __init__(self, client, request_id):
        self._client = client
        self.request_id = request_id
        self._queue = gevent.queue.Queue()
        self.finished = False

    def _deliver(self, item):
        self._queue.put(item)

    def __iter__(self):
        while not self.finished:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self.finished = True
                raise item
            update, done = item
            if done:
                self.finished = True
            yield update

    def close(self):
        if not self.finished:
            self.finished = True
            self._client.cancel(self.request_id)


class EngineClient:
    def __init__(self, socket_path, label):
        self.socket_path = socket_path
        self.label = label
        self.info = None
        self.stats = {}
        self._sock = None
        self._send_lock = gevent.lock.Semaphore()
        self._streams = {}
        self._ids = itertools.count(1)
        self._runner = gevent.spawn(self._run)

    @property
    def open_streams(self):
        return len(self._streams)

    @property
    def connected(self):
        return self._sock is not None and self.info is not None

    def submit(self, payload):
        if not self.connected:
            raise NotReady(f"The engine of {self.label} is not ready yet; retry shortly.")
        request_id = next(self._ids)
        stream = EngineStream(self, request_id)
        self._streams[request_id] = stream
        try:
            self._send(("submit", request_id, payload))
        except OSError:
            self._streams.pop(request_id, None)
            raise NotReady(f"The engine of {self.label} is restarting; retry shortly.") from None
        return stream

    def cancel(self, request_id):
        if self._streams.pop(request_id, None) is None:
            return
        try:
            self._send(("cancel", request_id))
        except OSError:
            pass  # the engine cancels everything of a connection that drops

    def _send(self, message):
        sock = self._sock
        if sock is None:
            raise OSError("not connected")
        with self._send_lock:
            sock.sendall(wire.encode(message))

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
                self._sock = None
                self.info = None
                sock.close()
                self._fail_all(NotReady(f"The engine of {self.label} stopped; the request was lost. Retry shortly."))
                log.warning("engine of %s disconnected; reconnecting", self.label)

    def _handle(self, message):
        kind = message[0]
        if kind == "updates":
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
                error = InvalidRequest(text) if failure_kind == "rejected" else EngineFailure(f"The engine failed the request: {text}")
                stream._deliver(error)
        elif kind == "hello":
            self.info = message[1]
            log.info("connected to the engine of %s", self.label)
        elif kind == "stats":
            self.stats = message[1]

    def _fail_all(self, error):
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream._deliver(error)


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
