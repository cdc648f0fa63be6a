"""Changing models while serving, on the supervisor's side: the diff of two configs and its application.

A reload validates the whole new config as start-up does (a config that fails changes nothing). Then:
added and changed servables get engines of their own beside the running ones; once each is ready (or
failed to load) the supervisor publishes a new plan (live_plan.py), every worker swaps its registry,
and only then do the engines of removed and replaced servables stop, once no worker has a request on
them any more (bounded by the graceful timeout). Requests to the servables that did not change never
see any of it: their engines and their workers' connections stay.
"""

import logging
import time
from dataclasses import dataclass, field

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError
from ovserve.graph.registry import ServableRegistry
from ovserve.server.idle import IdleUnloads
from ovserve.server.live_plan import AVAILABLE, END, LOADING, UNLOADING, LivePlan, ReloadAnswered, ServableStatus

log = logging.getLogger("ovserve.supervisor")
# How long a published plan waits for every worker to serve it before the reload answers anyway (a worker
# loads the tokenizers of the new servables and connects to their engines first: a second or two).
WORKERS_APPLY_SECONDS = 60.0
ENGINE_STOP_SECONDS = 10.0


@dataclass(frozen=True)
class ConfigChange:
    """Servable names by what a reload does to them."""

    added: tuple = ()
    removed: tuple = ()
    changed: tuple = ()
    kept: tuple = ()

    @property
    def is_empty(self):
        return not (self.added or self.removed or self.changed)


def diff_specs(old, new):
    """The change from the servables `old` to `new` ({name: ServableSpec}): a servable whose graph file or
    graph document (its nodes and their options) differs is changed."""
    changed = [name for name in new if name in old and _identity(new[name]) != _identity(old[name])]
    return ConfigChange(
        added=tuple(name for name in new if name not in old),
        removed=tuple(name for name in old if name not in new),
        changed=tuple(changed),
        kept=tuple(name for name in new if name in old and name not in changed),
    )


def _identity(spec):
    return (str(spec.graph_file), spec.graph)


@dataclass
class _Reload:
    request_ids: list
    specs: dict  # the new config's servables by name
    change: ConfigChange
    starting: dict  # {servable: {node: EngineProcess}} for the added and changed ones
    failures: dict = field(default_factory=dict)  # {servable: message}
    generation: int = 0  # once published
    published_at: float = 0.0


@dataclass
class _Retirement:
    servables: tuple  # removed (their state turns END once stopped)
    engines: list
    generation: int  # the plan without them
    deadline: float


class LiveServables:
    """The supervisor's servables while it serves: their engines, the plan and states it publishes, and
    the reload in progress. `engines` is the supervisor's own list of the engines it watches and restarts:
    an engine joins it once ready, and leaves it when it retires."""

    def __init__(self, config_path, mailbox, make_engine, engines, drain_seconds):
        self.config_path = config_path
        self.mailbox = mailbox
        self.make_engine = make_engine  # (label, spec, socket index) -> EngineProcess, not started
        self.engines = engines
        self.drain_seconds = drain_seconds
        self.specs = {}
        self.nodes = {}  # {servable: {node: EngineProcess}}
        self.generation = 0
        self.statuses = {}
        self.reload = None
        self.waiting = []  # request ids for the next reload ("" for the file watch)
        self.retiring = []
        self.exiting = []  # (process, time.monotonic() of its stop) of stopped engines, until they exit
        self.idle = None
        self.worker_roll = None  # a WorkerRoll once the HTTP server runs (the supervisor sets it)
        self._sockets = 0
        self.config_file = str(config_path)

    # --- start-up ----------------------------------------------------------------------------------
    def start(self, config, registry):
        for servable in registry:
            self.nodes[servable.name] = self._engines_for(servable)
            self.engines.extend(self.nodes[servable.name].values())
            self.statuses[servable.name] = ServableStatus(LOADING)
        self.specs = {spec.name: spec for spec in config.servables}
        self.idle = IdleUnloads(self)
        self._publish(str(config.file))

    def _engines_for(self, servable):
        engines = {}
        for node_name, spec in servable.engine_specs().items():
            engines[node_name] = self.make_engine(f"{servable.name}/{node_name}", spec, self._sockets)
            self._sockets += 1
        return engines

    def plan(self, config_file):
        sockets = {
            (name, node): engine.socket_path for name, nodes in self.nodes.items() for node, engine in nodes.items()
        }
        unloaded = tuple(sorted(self.idle.unloaded)) if self.idle else ()
        return LivePlan(self.generation, config_file, sockets, tuple(self.nodes), unloaded)

    def republish(self):
        self._publish(self.config_file)

    def reap(self, engine):
        """Wait for a stopped engine's exit (and kill it if it takes too long) without holding the loop."""
        if engine.process is not None:
            self.exiting.append((engine.process, time.monotonic()))

    def _publish(self, config_file):
        self.generation += 1
        self.mailbox.write_plan(self.plan(config_file))
        self.mailbox.write_statuses(self.statuses)

    # --- each turn of the supervisor's loop ----------------------------------------------------------
    def poll(self):
        self._note_states()
        requests = self.mailbox.take_reload_requests()
        self.waiting += requests
        if self.reload is None and self.waiting:
            ids, self.waiting = self.waiting, []
            self._begin(ids)
        if self.reload is not None:
            if not self.reload.generation:
                self._advance_loading()
            else:
                self._advance_publishing()
        if self.worker_roll is not None:
            self.worker_roll.advance(self.mailbox.read_reports(), self.generation)
        self._advance_retirements()
        if self.idle.settings or self.idle.unloaded:
            self.idle.poll(self.mailbox.read_reports())
        self._advance_exits()

    def ask_reload(self):
        """The file watch saw the config change: reload with nobody waiting for the answer."""
        if "" not in self.waiting:
            self.waiting.append("")

    def _note_states(self):
        """LOADING turns AVAILABLE when a servable's engines are ready, and back while one restarts."""
        changed = False
        for name, nodes in self.nodes.items():
            state = AVAILABLE if all(engine.ready for engine in nodes.values()) else LOADING
            if self.statuses[name].state in (LOADING, AVAILABLE) and self.statuses[name].state != state:
                self.statuses[name] = ServableStatus(state)
                changed = True
        if changed:
            self.mailbox.write_statuses(self.statuses)

    def _begin(self, request_ids):
        try:
            config = load_server_config(self.config_path)
            registry = ServableRegistry.from_config(config)
        except ConfigError as exc:
            log.error("configuration error: %s; the reload changed nothing", exc)
            self._answer(request_ids, False, f"configuration error: {exc}")
            return
        specs = {spec.name: spec for spec in config.servables}
        change = diff_specs(self.specs, specs)
        if change.is_empty:
            self.idle.reloaded()  # idle_unload_seconds is no part of a servable's graph
            self._answer(request_ids, True, "the configuration did not change")
            return
        log.info(
            "reloading %s: added %s, changed %s, removed %s",
            config.file,
            list(change.added),
            list(change.changed),
            list(change.removed),
        )
        starting = {}
        for name in change.added + change.changed:
            starting[name] = self._engines_for(registry.get(name))
            for engine in starting[name].values():
                engine.start()
            if name in change.added:
                self.statuses[name] = ServableStatus(LOADING)
        self.mailbox.write_statuses(self.statuses)
        self.reload = _Reload(request_ids, specs, change, starting)
        self.config_file = str(config.file)

    def _advance_loading(self):
        reload = self.reload
        for name, nodes in reload.starting.items():
            if name in reload.failures:
                continue
            failed = [engine for engine in nodes.values() if not engine.ready and engine.process.poll() is not None]
            if failed:
                reload.failures[name] = f"the engine of {failed[0].label} failed to load; see the server's log"
                log.error("%s: servable '%s' is not served", reload.failures[name], name)
                for engine in nodes.values():
                    engine.stop()
                    self.reap(engine)
        if any(
            name not in reload.failures and not all(engine.ready for engine in nodes.values())
            for name, nodes in reload.starting.items()
        ):
            return
        retired = []  # (servable, engine, whether the servable is removed)
        for name in reload.change.removed:
            retired += [(name, engine, True) for engine in self.nodes.pop(name).values()]
            self.statuses[name] = ServableStatus(UNLOADING)
            del self.specs[name]
        for name, nodes in reload.starting.items():
            if name in reload.failures:
                if name in reload.change.added:
                    self.statuses[name] = ServableStatus(END, reload.failures[name])
                continue  # a changed servable that failed to load keeps serving its old graph
            if name in self.nodes:
                retired += [(name, engine, False) for engine in self.nodes[name].values()]
            self.nodes[name] = nodes
            self.engines.extend(nodes.values())
            self.specs[name] = reload.specs[name]
            self.statuses[name] = ServableStatus(AVAILABLE)
        self.idle.reloaded(loaded=[name for name in reload.starting if name not in reload.failures])
        self._publish(self.config_file)
        reload.generation, reload.published_at = self.generation, time.monotonic()
        deadline = time.monotonic() + self.drain_seconds
        for name, engine, removed in retired:
            if engine in self.engines:  # not when idle unload had stopped it
                self.engines.remove(engine)
            # One engine a retirement: a request still running on one does not hold the others.
            self.retiring.append(_Retirement((name,) if removed else (), [engine], self.generation, deadline))

    def _advance_publishing(self):
        reload = self.reload
        reports = self.mailbox.read_reports()
        roll = self.worker_roll
        # Workers that left the plan to fresh ones are served by them once the roll is over (worker_roll.py).
        applied = all(
            report.generation >= reload.generation for report in reports if not (roll and report.pid in roll.leaving)
        )
        applied = applied and (roll is None or roll.successors_serve)
        if not applied and time.monotonic() - reload.published_at < WORKERS_APPLY_SECONDS:
            return
        if not applied:
            log.warning("not every HTTP worker took the new plan within %.0f s", WORKERS_APPLY_SECONDS)
        failures = "; ".join(f"'{name}': {message}" for name, message in reload.failures.items())
        self._answer(reload.request_ids, not failures, failures or "applied")
        self.reload = None

    def _advance_retirements(self):
        if not self.retiring:
            return
        reports = self.mailbox.read_reports()
        now = time.monotonic()
        for retirement in list(self.retiring):
            sockets = {engine.socket_path for engine in retirement.engines}
            drained = all(
                report.generation >= retirement.generation and not sockets.intersection(report.busy_engines)
                for report in reports
            )
            if drained or now >= retirement.deadline:
                for engine in retirement.engines:
                    engine.stop()
                    self.reap(engine)
                self.retiring.remove(retirement)
                for name in retirement.servables:
                    if name not in self.nodes:
                        self.statuses[name] = ServableStatus(END)
                self.mailbox.write_statuses(self.statuses)

    def _advance_exits(self):
        now = time.monotonic()
        for process, since in list(self.exiting):
            if process.poll() is None and now - since > ENGINE_STOP_SECONDS:
                process.kill()
            if process.poll() is not None:
                self.exiting.remove((process, since))

    def _answer(self, request_ids, applied, message):
        for request_id in request_ids:
            if request_id:
                self.mailbox.answer_reload(ReloadAnswered(request_id, applied, self.generation, message))

    # --- shutdown ------------------------------------------------------------------------------------
    def engines_not_watched(self):
        """Engines the supervisor's list does not hold (starting for a reload, or retiring): stopped at exit."""
        starting = [
            engine for nodes in (self.reload.starting.values() if self.reload else ()) for engine in nodes.values()
        ]
        retiring = [engine for retirement in self.retiring for engine in retirement.engines]
        waking = self.idle.engines_loading() if self.idle else []
        return [engine for engine in starting if engine not in self.engines] + retiring + waking

    def processes_exiting(self):
        return [process for process, _ in self.exiting]
