"""The supervisor: `ovserve serve` validates the config, starts one engine process per engine-owning
node and the gunicorn HTTP server, restarts an engine that dies, and stops everything in order.

Engines and gunicorn are siblings under this process rather than gunicorn's children: gunicorn's
arbiter reaps every child it sees, and an engine must outlive any HTTP worker.
"""

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ovserve.config.loader import load_server_config
from ovserve.graph.registry import ServableRegistry
from ovserve.http.body import DEFAULT_MAX_BODY_BYTES
from ovserve.protocol.responses_store import StoreOptions
from ovserve.server.config_watch import ConfigWatch
from ovserve.server.live_plan import Mailbox
from ovserve.server.plan import ENVIRONMENT_VARIABLE, ConnectionLimits, RuntimePlan
from ovserve.server.reload import LiveServables
from ovserve.server.runtime_folder import create_runtime_folder, remove_stale_runtime_folders
from ovserve.server.worker_roll import WorkerRoll

log = logging.getLogger("ovserve.supervisor")
_PR_SET_PDEATHSIG = 1


def _detached_child():
    """Runs in each child before exec: its own session, so a terminal's Ctrl-C reaches only the
    supervisor (which then shuts down gracefully); SIGTERM if the supervisor dies without cleaning up."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


POLL_SECONDS = 0.2
ENGINE_STOP_SECONDS = 10
RESTART_BACKOFF_SECONDS = (1, 2, 5, 10, 30)
# An engine ready and beating this long has recovered: its next death restarts after the first delay
# again. As long as the longest delay: an engine that dies soon after loading (a crash loop) never
# stays up that long and climbs the ladder, while one killed now and then by a bad request does not
# stay at 30 s for good. Longer would not do: with a request that kills it every 40 s, the engine
# (1 s delay + ~6 s load) stays up ~33 s a time, so a 60 s rule would keep it down 36 s of every 40.
HEALTHY_RESET_SECONDS = 30
# Beating: its last heartbeat (once a second) is this recent; as stale as the workers allow (bridge.py).
HEALTHY_BEAT_SECONDS = 10


class EngineProcess:
    def __init__(self, label, socket_path, spec, log_level, follow_up_window_ms):
        self.label = label
        self.follow_up_window_ms = follow_up_window_ms
        self.socket_path = socket_path
        self.heartbeat_path = socket_path + ".heartbeat"
        self.spec = spec
        self.log_level = log_level
        self.process = None
        self.was_ready = False
        self.restarts = 0
        self.restart_at = None
        self.started_at = 0.0
        self.healthy_since = None  # time.monotonic() since which it has been ready and beating

    def start(self):
        command = [
            sys.executable,
            "-m",
            "ovserve.runtime.engine_host",
            "--socket",
            self.socket_path,
            "--factory",
            self.spec.factory,
            "--options",
            json.dumps(self.spec.options),
            "--name",
            self.label,
            "--log-level",
            self.log_level.upper(),
            "--heartbeat",
            self.heartbeat_path,
            "--follow-up-window-ms",
            str(self.follow_up_window_ms),
        ]
        self.started_at = time.time()
        self.process = subprocess.Popen(command, preexec_fn=_detached_child)
        self.restart_at = None
        self.healthy_since = None

    @property
    def ready(self):
        if not self.was_ready and self.process and self.process.poll() is None and os.path.exists(self.socket_path):
            self.was_ready = True
        return self.was_ready

    def seconds_since_heartbeat(self):
        """Seconds since this engine process last beat. The file outlives a restart: a beat of the engine
        it replaced (stale by the watchdog's whole wait when that one was stuck) must not count, or the
        new engine would be killed as stuck between showing its socket and its first beat."""
        try:
            beat = os.stat(self.heartbeat_path).st_mtime
        except FileNotFoundError:
            return 0.0
        return time.time() - max(beat, self.started_at)

    def note_health(self, beating):
        """Forget earlier restarts once this engine has been ready and beating for HEALTHY_RESET_SECONDS."""
        now = time.monotonic()
        if not (self.was_ready and beating):
            self.healthy_since = None
        elif self.healthy_since is None:
            self.healthy_since = now
        elif self.restarts and now - self.healthy_since >= HEALTHY_RESET_SECONDS:
            log.info(
                "engine %s has been healthy for %.0f s: its next restart waits %s s again",
                self.label,
                now - self.healthy_since,
                RESTART_BACKOFF_SECONDS[0],
            )
            self.restarts = 0

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()


class Supervisor:
    def __init__(
        self,
        config_path,
        host,
        port,
        workers=1,
        log_level="info",
        graceful_timeout=30,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        drain_seconds=1.0,
        watchdog_seconds=30.0,
        api_key_file=None,
        cors_origins=(),
        follow_up_window_ms=50,
        client_write_timeout_seconds=30.0,
        connection_limits=None,
        responses_store=None,
        file_system_poll_wait_seconds=0.0,
    ):
        self.config_path = config_path
        self.file_system_poll_wait_seconds = file_system_poll_wait_seconds
        self.live = None  # LiveServables, once serving
        connection_limits = connection_limits or ConnectionLimits()
        self.bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.workers = workers
        self.log_level = log_level
        self.graceful_timeout = graceful_timeout
        self.max_body_bytes = max_body_bytes
        self.drain_seconds = drain_seconds
        self.watchdog_seconds = watchdog_seconds
        self.follow_up_window_ms = follow_up_window_ms
        self.client_write_timeout_seconds = client_write_timeout_seconds
        self.responses_store = responses_store or StoreOptions()
        self.connection_limits = connection_limits
        self.api_key_file = str(Path(api_key_file).resolve()) if api_key_file else ""
        self.cors_origins = tuple(cors_origins)
        self.drain_file = None
        self.draining_since = None  # time.monotonic() when the drain file appeared
        self.stopping = False
        self.engines = []
        self.http = None

    def _request_stop(self, signum, frame):
        if not self.stopping:
            self._start_draining()
            log.info("received %s; stopping", signal.Signals(signum).name)
        self.stopping = True

    def _start_draining(self):
        """Readiness turns 503 now, so balancers stop sending; in-flight requests go on. Called in the signal
        handler itself: the main loop sees the stop only at its next poll (up to POLL_SECONDS later; before,
        readiness answered 200 to 100 probes in the 111 ms after a SIGTERM)."""
        if self.draining_since is None and self.drain_file and self.http and self.http.returncode is None:
            open(self.drain_file, "w").close()
            self.draining_since = time.monotonic()

    def run(self):
        remove_stale_runtime_folders()  # of servers killed with SIGKILL, which could not remove their own
        config = load_server_config(self.config_path)  # ConfigError propagates: nothing started yet
        registry = ServableRegistry.from_config(config)
        runtime_dir = create_runtime_folder()
        try:
            return self._serve(config, registry, runtime_dir)
        finally:
            self._stop_all()
            shutil.rmtree(runtime_dir, ignore_errors=True)

    def _serve(self, config, registry, runtime_dir):
        def make_engine(label, spec, index):
            socket_path = str(runtime_dir / f"engine-{index}.sock")
            return EngineProcess(label, socket_path, spec, self.log_level, self.follow_up_window_ms)

        self.live = LiveServables(config.file, Mailbox(runtime_dir), make_engine, self.engines, self.graceful_timeout)
        self.live.start(config, registry)
        watch = ConfigWatch(config.file, self.file_system_poll_wait_seconds)
        self.drain_file = str(runtime_dir / "draining")
        plan = RuntimePlan(
            str(config.file),
            self.live.plan(str(config.file)).engine_sockets,
            self.max_body_bytes,
            self.drain_file,
            self.api_key_file,
            self.cors_origins,
            client_write_timeout_seconds=self.client_write_timeout_seconds,
            responses_store=self.responses_store,
            runtime_folder=str(runtime_dir),
        )
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        for engine in self.engines:
            engine.start()
        # The workers' Prometheus values, summed by whichever worker answers /metrics. A folder of this run
        # only (the runtime folder is new, private and removed at exit): files of an earlier run would add in.
        metrics_dir = runtime_dir / "metrics"
        metrics_dir.mkdir()
        environment = dict(
            os.environ, **{ENVIRONMENT_VARIABLE: plan.to_environment(), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        )
        self.http = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ovserve.server.wsgi",
                "--bind",
                self.bind,
                "--workers",
                str(self.workers),
                "--graceful-timeout",
                str(self.graceful_timeout),
                "--log-level",
                self.log_level,
                *self.connection_limits.to_arguments(),
            ],
            env=environment,
            preexec_fn=_detached_child,
        )
        self.live.worker_roll = WorkerRoll(self.http.pid)
        log.info("serving %s on http://%s (config %s)", ", ".join(registry.names()), self.bind, config.file)
        announced = False
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            code = self.http.poll()
            if code is not None:
                log.error("the HTTP server exited with code %s", code)
                return 1
            for engine in list(self.engines):
                if not self._watch(engine):
                    return 1
            try:
                if watch.changed():
                    log.info("%s changed: reloading it", config.file)
                    self.live.ask_reload()
                self.live.poll()
            except Exception:  # a bug in a reload must not stop the servables that serve
                log.exception("applying a config change failed")
            if not announced and all(engine.ready for engine in self.engines):
                announced = True
                log.info("all engines are ready")
        return 0

    def _watch(self, engine):
        """Restart a dead engine that had served before; give up if it never got ready."""
        engine.ready  # noqa: B018 (records readiness)
        code = engine.process.poll()
        if code is None:
            stalled = engine.seconds_since_heartbeat() if engine.was_ready else 0.0
            if stalled > self.watchdog_seconds:
                log.error(
                    "engine %s has not completed a loop for %.0f s (watchdog %.0f s): killing it to restart it",
                    engine.label,
                    stalled,
                    self.watchdog_seconds,
                )
                engine.process.kill()
                engine.process.wait()
            else:
                engine.note_health(beating=stalled < HEALTHY_BEAT_SECONDS)
            return True
        if not engine.was_ready:
            log.error("engine %s failed to start (exit code %s); see its log above", engine.label, code)
            return False
        if engine.restart_at is None:
            delay = RESTART_BACKOFF_SECONDS[min(engine.restarts, len(RESTART_BACKOFF_SECONDS) - 1)]
            log.error("engine %s died (exit code %s); restarting in %s s", engine.label, code, delay)
            engine.restart_at = time.monotonic() + delay
        elif time.monotonic() >= engine.restart_at:
            engine.restarts += 1
            engine.was_ready = False
            try:
                os.unlink(engine.socket_path)  # it reappears when the new engine is ready
            except FileNotFoundError:
                pass
            engine.start()
        return True

    def _stop_all(self):
        if self.http and self.http.poll() is None and self.drain_file:
            self._start_draining()  # when no signal did (an engine failed to start)
            log.info(
                "draining for %.1f s, then finishing in-flight requests (up to %d s)",
                self.drain_seconds,
                self.graceful_timeout,
            )
            time.sleep(max(0.0, self.draining_since + self.drain_seconds - time.monotonic()))
        if self.http and self.http.poll() is None:
            self.http.send_signal(signal.SIGTERM)  # gunicorn: stop accepting, finish in-flight requests
            try:
                self.http.wait(self.graceful_timeout + 5)
            except subprocess.TimeoutExpired:
                log.warning("HTTP server did not stop in time; killing it")
                self.http.kill()
                self.http.wait()
        others = self.live.engines_not_watched() if self.live else []
        for engine in self.engines + others:
            engine.stop()
        deadline = time.monotonic() + ENGINE_STOP_SECONDS
        for engine in self.engines + others:
            if engine.process is None:
                continue
            try:
                engine.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                engine.process.kill()
                engine.process.wait()
        for process in self.live.processes_exiting() if self.live else []:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
