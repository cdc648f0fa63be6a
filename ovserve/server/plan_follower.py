"""In each HTTP worker: serve the supervisor's latest plan, and carry `GET /v1/config` and reloads.

The worker polls the plan (live_plan.py). On a new generation it builds the added and changed servables
from the config, loads their worker side (tokenizers) and connects to their new engines while the old
registry keeps serving; once they are ready it swaps the registry in one assignment. A replaced or
removed servable stays loaded until its last request here finishes, then its connections close; the
worker's report tells the supervisor when it may stop those engines.
"""

import logging
import os
import time

import gevent

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError, InvalidRequest, NotReady, Overloaded
from ovserve.graph.registry import ServableRegistry
from ovserve.runtime.bridge import WorkerRuntime
from ovserve.server.live_plan import AVAILABLE, LOADING, Mailbox, ServableStatus, WorkerReport

log = logging.getLogger("ovserve.server")
PLAN_POLL_SECONDS = 0.5
READY_WAIT_SECONDS = 30.0  # for a new servable's engines to say hello before the swap
RELOAD_ANSWER_SECONDS = 900.0  # the supervisor answers once the new engines loaded (a big model: minutes)
# How long a request for a servable unloaded for idleness waits for it to load again; past it, 503 with
# Retry-After (the load goes on). The test model loads in ~6-10 s on 2 cores.
LAZY_LOAD_WAIT_SECONDS = 60.0
LAZY_LOAD_RETRY_AFTER_SECONDS = 5


def _identity(spec):
    return (str(spec.graph_file), spec.graph)


class PlanFollower:
    def __init__(self, mailbox, plan):
        self.mailbox = mailbox
        self.plan = plan
        self.registry = ServableRegistry([])
        self.identities = {}
        self.retired = []  # servables replaced or removed, until their requests here finish
        self.last_used = {}  # {servable: time.time()} of this worker's last request for it
        self._runner = None
        self._refused = 0  # the generation whose config failed to load here (logged once)
        self.replace_for = 0  # a generation this worker leaves to a fresh worker (see _build)
        self.registry.before_use = self._before_use

    @classmethod
    def boot(cls, runtime_folder):
        """Build and load the servables of the current plan (before the worker takes connections)."""
        mailbox = Mailbox(runtime_folder)
        follower = cls(mailbox, mailbox.read_plan())
        servables, identities = follower._build(follower.plan, {}, {}, serving=False)
        follower.registry.replace(servables, follower.plan.unloaded)
        follower.identities = identities
        follower._report()
        return follower

    def start(self):
        self._runner = gevent.spawn(self._follow)

    def _follow(self):
        while True:
            gevent.sleep(PLAN_POLL_SECONDS)
            try:
                plan = self.mailbox.read_plan()
                if plan is not None and plan.generation > max(self.plan.generation, self.replace_for):
                    self._apply(plan)
                self._close_finished()
                self._report()
            except Exception:  # the worker keeps serving its registry whatever a reload does
                log.exception("applying the supervisor's plan failed")

    def _build(self, plan, current, current_sockets, serving=True):
        """The servables of `plan`: those of `current` whose engines did not change, the others built anew
        and loaded (their worker side, and a connection to their engines). A serving worker that would
        pause its requests to load one (load_would_pause_worker) gets _LeftToAFreshWorker instead."""
        config = load_server_config(plan.config_file)
        built = {servable.name: servable for servable in ServableRegistry.from_config(config)}
        specs = {spec.name: spec for spec in config.servables}
        plan_of = {}  # name -> the servable to serve, or the built one to load
        for name in plan.servables:
            old = current.get(name)
            same = old is not None and current_sockets.get(name) == plan.sockets_of(name)
            unchanged_graph = name in specs and self.identities.get(name) == _identity(specs[name])
            if same and (plan.sockets_of(name) or unchanged_graph):
                plan_of[name] = (old, self.identities.get(name), False)
            elif name in built:
                plan_of[name] = (built[name], _identity(specs[name]), True)
            elif old is not None:  # the file changed again after the supervisor read it: its next plan says
                plan_of[name] = (old, self.identities.get(name), False)
        pausing = [name for name, (servable, _, new) in plan_of.items() if new and servable.load_would_pause_worker()]
        if serving and pausing:
            raise _LeftToAFreshWorker(pausing)
        servables, identities = [], {}
        for name, (servable, identity, new) in plan_of.items():
            if new:
                _load_beside_serving(servable, plan.sockets_of(name))
            servables.append(servable)
            identities[name] = identity
        return servables, identities

    def _apply(self, plan):
        from ovserve.http import metrics

        current = {servable.name: servable for servable in self.registry}
        current_sockets = {name: self.plan.sockets_of(name) for name in current}
        try:
            servables, identities = self._build(plan, current, current_sockets)
        except _LeftToAFreshWorker as exc:
            if self.replace_for != plan.generation:
                log.info(
                    "generation %d of the plan loads %s, which would pause this worker's requests: a fresh "
                    "worker takes it, this one serves generation %d until then",
                    plan.generation,
                    ", ".join(exc.servables),
                    self.plan.generation,
                )
                self.replace_for = plan.generation
                self._report()
            return
        except ConfigError as exc:
            # The file changed again after the supervisor read it: keep serving, and try again at the next
            # poll (the supervisor's next reload, or the file fixed, gives a config that loads).
            if self._refused != plan.generation:
                log.error("configuration error: %s; this worker keeps its servables for now", exc)
                self._refused = plan.generation
            return
        fresh = [servable for servable in servables if current.get(servable.name) is not servable]
        deadline = time.monotonic() + READY_WAIT_SECONDS
        while not all(servable.is_ready() for servable in fresh) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        metrics.prepare(fresh)
        self.registry.replace(servables, plan.unloaded)
        kept = {id(servable) for servable in servables}
        self.retired += [servable for servable in current.values() if id(servable) not in kept]
        self.identities, self.plan = identities, plan
        log.info("serving generation %d of the plan: %s", plan.generation, ", ".join(self.registry.names()))

    def _close_finished(self):
        for servable in list(self.retired):
            if not _engine_clients(servable, busy_only=True):
                for client in _engine_clients(servable):
                    client.close()
                self.retired.remove(servable)

    def _report(self):
        busy = [client.socket_path for servable in self.retired for client in _engine_clients(servable, busy_only=True)]
        in_use = tuple(servable.name for servable in self.registry if _engine_clients(servable, busy_only=True))
        report = WorkerReport(
            os.getpid(), self.plan.generation, tuple(busy), dict(self.last_used), in_use, self.replace_for
        )
        self.mailbox.write_report(report)

    def _before_use(self, servable):
        """Lazy load: a request for a servable unloaded for idleness wakes it and waits (a bound) for it."""
        self.last_used[servable.name] = time.time()
        if servable.name not in self.registry.unloaded or servable.is_ready():
            return
        self.mailbox.request_wake(servable.name)
        self._report()  # the use counts at once: the supervisor must not unload it again meanwhile
        deadline = time.monotonic() + LAZY_LOAD_WAIT_SECONDS
        while not servable.is_ready():
            if time.monotonic() > deadline:
                raise Overloaded(
                    f"The model '{servable.name}' is loading again after an idle unload; retry shortly.",
                    retry_after=LAZY_LOAD_RETRY_AFTER_SECONDS,
                    code="model_loading",
                )
            gevent.sleep(0.05)

    # --- what GET /v1/config and POST /v1/config/reload ask (http/resources/config.py) ----------------
    def statuses(self):
        """{name: (state, error_code, error_message)}: the supervisor's states, LOADING where this worker
        does not serve yet (or is not ready for) a servable the supervisor has ready."""
        statuses = self.mailbox.read_statuses()
        if self.replace_for > self.plan.generation:  # fresh workers serve the supervisor's servables, not this one
            return {name: (status.state, status.error_code, status.error_message) for name, status in statuses.items()}
        for name, status in statuses.items():
            if status.state == AVAILABLE and name not in self.registry.served_names:
                statuses[name] = ServableStatus(LOADING)  # published, and this worker is still loading it
        for servable in self.registry:
            status = statuses.get(servable.name, ServableStatus(AVAILABLE))
            if status.state == AVAILABLE and not servable.is_ready():
                statuses[servable.name] = ServableStatus(LOADING)
        return {name: (status.state, status.error_code, status.error_message) for name, status in statuses.items()}

    def reload(self):
        """Ask the supervisor to reload and wait until this worker serves the outcome; (applied, message)."""
        request_id = self.mailbox.request_reload()
        deadline = time.monotonic() + RELOAD_ANSWER_SECONDS
        answer = None
        while answer is None:
            if time.monotonic() > deadline:
                raise NotReady("The reload is still under way; see GET /v1/config.")
            gevent.sleep(0.1)
            answer = self.mailbox.take_reload_answer(request_id)
        if not answer.applied and answer.message.startswith("configuration error"):
            raise InvalidRequest(answer.message, param="config")
        deadline = time.monotonic() + READY_WAIT_SECONDS * 2
        # A worker left to be replaced answers at once: the fresh workers serve the outcome.
        while max(self.plan.generation, self.replace_for) < answer.generation and time.monotonic() < deadline:
            gevent.sleep(0.05)
        return answer.applied, answer.message


class _LeftToAFreshWorker(Exception):
    def __init__(self, servables):
        super().__init__(", ".join(servables))
        self.servables = servables


def _load_beside_serving(servable, engine_sockets):
    """Load a servable's worker side, on the event loop. A serving worker only loads what does not pause it
    (load_would_pause_worker: a new model's tokenizer is left to a fresh worker, worker_roll.py). Not in a
    thread: the load held the GIL anyway (the streams still paused for its 10-13 s), and a greenlet that
    logged while the thread held logging's lock (a gevent lock, after monkey-patching) was never woken when
    the thread let go: that engine connection's reader stood still, and its requests failed 10 s later as
    "stopped answering" (seen at start-up, in CI and in a full local run)."""
    servable.load(WorkerRuntime(engine_sockets))


def _engine_clients(servable, busy_only=False):
    clients = [node.client for node in servable.nodes if getattr(node, "client", None) is not None]
    return [client for client in clients if client.open_streams] if busy_only else clients
