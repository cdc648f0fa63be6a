"""The engine process: one per engine-owning node, serving every HTTP worker of the server.

Why a process of its own (measured, see docs/architecture.md): `ContinuousBatchingPipeline.step()`
holds the GIL for its whole duration, so in an HTTP worker it starves the gevent hub and streams
arrive in bursts. Here the step loop is the only Python thread: between two steps it drains new
requests and cancellations from its sockets (without blocking), and after each step it sends every
request's new tokens at once. The HTTP workers, in their own processes, never wait for the GIL of
this one.

Run as: python -m ovserve.runtime.engine_host --socket PATH --factory MOD:CLS --options JSON
"""

import argparse
import errno
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from ovserve.runtime import wire
from ovserve.runtime.engine import EngineBusy, RequestFailure, RequestRejected
from ovserve.runtime.follow_ups import MAX_WINDOW_SECONDS, FollowUpWindow
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
from ovserve.runtime.telemetry import decline_openvino_telemetry

log = logging.getLogger("ovserve.engine")

IDLE_WAIT_SECONDS = 1.0
STATS_INTERVAL_SECONDS = 1.0
HEARTBEAT_SECONDS = 1.0


class ClientConnection:
    """One HTTP worker's connection; its writes are buffered so a slow reader never blocks the loop."""

    def __init__(self, sock, number):
        self.sock = sock
        self.number = number
        self.decoder = wire.FrameDecoder()
        self.outbox = bytearray()
        self.request_keys = {}  # the worker's request id -> engine key

    def queue(self, message):
        self.outbox += wire.encode(message)

    def flush(self):
        while self.outbox:
            try:
                sent = self.sock.send(self.outbox)
            except BlockingIOError:
                return False
            del self.outbox[:sent]
        return True


class EngineHost:
    def __init__(self, engine, listener, heartbeat_path=None, max_window=MAX_WINDOW_SECONDS):
        self.engine = engine
        self.listener = listener
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, None)
        self.connections = {}
        self.owners = {}  # engine key -> (connection, worker request id)
        self.next_key = 0
        self.next_connection = 0
        self.running = True
        self.parent = os.getppid()
        self.last_stats = 0.0
        self.heartbeat_path = heartbeat_path
        self.last_beat = 0.0
        self.follow_ups = FollowUpWindow(max_window)

    def _beat(self):
        """Touch the heartbeat file: the supervisor's watchdog restarts an engine whose loop stops."""
        now = time.monotonic()
        if self.heartbeat_path and now - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = now
            os.utime(self.heartbeat_path)

    # --- messages in -----------------------------------------------------------------------
    def _accept(self):
        sock, _ = self.listener.accept()
        sock.setblocking(False)
        self.next_connection += 1
        connection = ClientConnection(sock, self.next_connection)
        self.connections[sock] = connection
        self.selector.register(sock, selectors.EVENT_READ, connection)
        connection.queue(EngineHello(self.engine.info()))
        log.info("worker connection %d opened", connection.number)

    def _close(self, connection):
        for key in list(connection.request_keys.values()):
            self.engine.cancel(key)
            self.owners.pop(key, None)
        self.selector.unregister(connection.sock)
        connection.sock.close()
        del self.connections[connection.sock]
        log.info(
            "worker connection %d closed; cancelled %d request(s)", connection.number, len(connection.request_keys)
        )

    def _receive(self, connection):
        try:
            data = connection.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        for message in connection.decoder.feed(data):
            self._handle(connection, message)

    def _handle(self, connection, message):
        if isinstance(message, SubmitRequest):
            self._submit(connection, message)
        elif isinstance(message, CancelRequest):
            key = connection.request_keys.pop(message.request_id, None)
            if key is not None:
                self.owners.pop(key, None)
                self.engine.cancel(key)
        else:
            log.warning("unexpected %s ignored", type(message).__name__)

    def _submit(self, connection, message):
        request_id = message.request_id
        key = self.next_key
        self.next_key += 1
        try:
            self.engine.submit(key, message.request)
        except RequestRejected as exc:
            connection.queue(RequestFailed(request_id, FailureKind.REJECTED, str(exc), exc.param))
            return
        except EngineBusy as exc:
            connection.queue(RequestFailed(request_id, FailureKind.OVERLOADED, str(exc)))
            return
        except Exception as exc:  # one bad request must not take the engine down
            log.exception("submit failed")
            connection.queue(RequestFailed(request_id, FailureKind.ENGINE, f"{type(exc).__name__}: {exc}"))
            return
        connection.request_keys[request_id] = key
        self.follow_ups.submitted(message.sent_at, engine_idle=not self.owners)
        self.owners[key] = (connection, request_id)
        connection.queue(RequestAccepted(request_id))

    def _poll(self, timeout):
        started = time.monotonic()
        for selector_key, _ in self.selector.select(timeout):
            if selector_key.data is None:
                self._accept()
            elif selector_key.fileobj in self.connections:
                self._receive(selector_key.data)
        self.follow_ups.polled(started)

    # --- messages out ----------------------------------------------------------------------
    def _dispatch(self, results):
        """Queue every request's news for its worker, one frame per worker; return how many finished."""
        finished = 0
        batches = {}
        for key, result, done in results:
            owner = self.owners.get(key)
            if owner is None:
                continue
            connection, request_id = owner
            if isinstance(result, RequestFailure):
                connection.queue(RequestFailed(request_id, result.kind, result.message, result.param))
            else:
                batches.setdefault(connection, []).append((request_id, result, done))
            if done:
                finished += 1
                del self.owners[key]
                connection.request_keys.pop(request_id, None)
        for connection, batch in batches.items():
            connection.queue(RequestUpdates(tuple(batch)))
        return finished

    def _flush_all(self):
        for connection in list(self.connections.values()):
            try:
                done = connection.flush()
            except OSError:
                self._close(connection)
                continue
            events = selectors.EVENT_READ if done else selectors.EVENT_READ | selectors.EVENT_WRITE
            if self.selector.get_key(connection.sock).events != events:
                self.selector.modify(connection.sock, events, connection)

    def _maybe_send_stats(self):
        now = time.monotonic()
        if now - self.last_stats < STATS_INTERVAL_SECONDS:
            return
        self.last_stats = now
        stats = self.engine.stats()
        for connection in self.connections.values():
            connection.queue(EngineStats(stats))

    def _await_follow_ups(self, finish):
        """Hold the next step until the follow-ups of `finish` came or the learned window is over
        (see follow_ups.py: clients that send their next request as soon as one ends)."""
        window = self.follow_ups.window()
        if window <= 0:
            return
        deadline = time.monotonic() + window
        expected = self.follow_ups.expected(finish.count)
        while finish.followed < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._poll(remaining)
            self._flush_all()

    # --- the loop --------------------------------------------------------------------------
    def run(self):
        while self.running:
            busy = self.engine.has_work()
            self._poll(0 if busy else IDLE_WAIT_SECONDS)
            self._flush_all()  # acknowledgements and refusals go out before the step, not after it
            self._beat()
            if self.engine.has_work():
                try:
                    step_started = time.monotonic()
                    updates = self.engine.step()
                    self.follow_ups.stepped(time.monotonic() - step_started)
                except Exception:
                    log.critical(
                        "engine step failed; exiting so the supervisor restarts the engine\n%s", traceback.format_exc()
                    )
                    raise
                finished = self._dispatch(updates)
            else:
                finished = 0
            self._maybe_send_stats()
            self._flush_all()
            if finished:
                finish = self.follow_ups.finished(finished, time.monotonic())
                if self.owners:  # with nothing else running, the idle poll takes a follow-up at once
                    self._await_follow_ups(finish)
            if not busy and os.getppid() != self.parent:
                log.warning("supervisor is gone; exiting")
                return


def build_engine(factory, options):
    module_name, _, class_name = factory.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(options)


def listen(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = f"{path}.{os.getpid()}.tmp"
    listener.bind(temporary)
    os.chmod(temporary, 0o600)
    listener.listen(64)
    # The socket appears under its real name only once the engine is ready to serve.
    os.rename(temporary, path)
    listener.setblocking(False)
    return listener


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ovserve-engine")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--factory", required=True)
    parser.add_argument("--options", required=True, help="JSON object")
    parser.add_argument("--name", default="engine")
    parser.add_argument("--heartbeat", help="file touched every second while the loop runs")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--follow-up-window-ms", type=float, default=MAX_WINDOW_SECONDS * 1000)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format=f"%(asctime)s [engine {args.name}] %(levelname)s %(message)s"
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when engines stop
    decline_openvino_telemetry()
    started = time.monotonic()
    try:
        engine = build_engine(args.factory, json.loads(args.options))
    except Exception as exc:
        log.critical("engine failed to load: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return 3
    log.info("engine loaded in %.1f s", time.monotonic() - started)
    if args.heartbeat:
        # A first beat before the socket appears: from then on the supervisor counts this engine ready.
        Path(args.heartbeat).touch()
    try:
        listener = listen(args.socket)
    except OSError as exc:
        log.critical("can't listen on %s: %s", args.socket, os.strerror(exc.errno or errno.EIO))
        return 4
    EngineHost(engine, listener, args.heartbeat, max_window=args.follow_up_window_ms / 1000).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
