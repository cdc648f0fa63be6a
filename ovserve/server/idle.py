"""Idle unload and lazy load, on the supervisor's side (a servable's `idle_unload_seconds`).

A servable nobody used for that long (no worker saw a request for it, and none has one open) has its
engine processes stopped; it stays in the plan, marked unloaded, so the workers keep its worker side
(the tokenizer) and its name. The next request asks for a wake (live_plan.py): its engines start again
on the same sockets, which the workers' connections retry on their own.

"Used" is what a worker counts in `ServableRegistry.require` (an API request, tokenize): health probes,
/metrics, /v3/models and /v2/models/{name}/ready never wake a model nor keep it awake.
"""

import logging
import os
import time

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError
from ovserve.server.live_plan import END, LOADING, ServableStatus

log = logging.getLogger("ovserve.supervisor")
IDLE_MESSAGE = "OK"  # OVMS's END with error code OK: unloaded on purpose, not failed


def idle_unload_settings(config_file):
    """{servable: idle_unload_seconds} of the servables that set it, in either format (the config loader reads
    it: ovserve's `servables` entries, or OVMS's model_config_list / mediapipe_config_list ones)."""
    try:
        config = load_server_config(config_file)
    except (ConfigError, OSError):  # the reload that reads it says what is wrong, and changes nothing
        return {}
    return {spec.name: spec.idle_unload_seconds for spec in config.servables if spec.idle_unload_seconds}


class IdleUnloads:
    """Which servables to unload now, and waking them: works on the supervisor's LiveServables."""

    def __init__(self, live):
        self.live = live
        self.settings = idle_unload_settings(live.config_path)
        self.last_used = {}  # {servable: time.time()} of the last request, or of its (re)load
        self.unloaded = set()
        self.wanted = set()  # asked for while its stopped engine is still exiting
        # Loading again: their engines join the supervisor's watched list once ready, so that one that fails
        # to load marks its servable failed instead of stopping the server (as a failure at start-up does).
        self.waking = set()

    def reloaded(self, loaded=()):
        """After a reload: its settings, and `loaded` (added or changed servables, whose new engines run)."""
        self.settings = idle_unload_settings(self.live.config_path)
        self.unloaded = (self.unloaded & set(self.live.nodes)) - set(loaded)
        for name in loaded:
            self.last_used[name] = time.time()
        self.wanted &= self.unloaded
        self.waking &= set(self.live.nodes) - set(loaded)

    def poll(self, reports):
        now = time.time()
        for report in reports:
            for name, used_at in report.last_used.items():
                self.last_used[name] = max(self.last_used.get(name, 0.0), used_at)
        self.wanted |= self.live.mailbox.take_wake_requests() & self.unloaded
        for name in list(self.wanted):
            # The stopped engine must be gone first: two engines must never share a socket path.
            if not any(engine.process.poll() is None for engine in self.live.nodes[name].values()):
                self.wanted.discard(name)
                self._wake(name, now)
        for name in list(self.waking):
            self._watch_wake(name)
        in_use = {name for report in reports for name in report.in_use}
        for name in in_use:  # a request that runs is a use until it ends
            self.last_used[name] = now
        for name, seconds in self.settings.items():
            status = self.live.statuses.get(name)
            if name in self.unloaded or name in self.waking or name in in_use or status is None:
                continue
            if status.state != "AVAILABLE":
                continue
            if name not in self.live.nodes or self.live.reload is not None:
                continue
            self.last_used.setdefault(name, now)
            if now - self.last_used[name] >= seconds:
                self._unload(name, seconds)

    def _unload(self, name, seconds):
        log.info(
            "servable '%s' was not used for %.0f s: stopping its engines (the next request loads it)", name, seconds
        )
        for engine in self.live.nodes[name].values():
            if engine in self.live.engines:
                self.live.engines.remove(engine)
            engine.stop()
            self.live.reap(engine)
        self.unloaded.add(name)
        self.live.statuses[name] = ServableStatus(END, IDLE_MESSAGE)
        self.live.republish()

    def _wake(self, name, now):
        log.info("servable '%s' was asked for: loading it again", name)
        for engine in self.live.nodes[name].values():
            engine.was_ready = False
            try:
                os.unlink(engine.socket_path)  # it reappears when the engine is ready
            except FileNotFoundError:
                pass
            engine.start()
        self.waking.add(name)
        self.unloaded.discard(name)
        self.last_used[name] = now
        self.live.statuses[name] = ServableStatus(LOADING)
        self.live.republish()

    def _watch_wake(self, name):
        engines = list(self.live.nodes[name].values())
        if all(engine.ready for engine in engines):
            self.waking.discard(name)
            self.live.engines.extend(engines)
            self.last_used[name] = time.time()  # its idle time starts now, not when the load began
        elif any(engine.process.poll() is not None for engine in engines):
            log.error("servable '%s' failed to load again; the next request tries again (see the log above)", name)
            for engine in engines:
                engine.stop()
                self.live.reap(engine)
            self.waking.discard(name)
            self.unloaded.add(name)
            self.live.statuses[name] = ServableStatus(END, "its engine failed to load again; see the server's log")
            self.live.republish()

    def engines_loading(self):
        return [engine for name in self.waking for engine in self.live.nodes[name].values()]
