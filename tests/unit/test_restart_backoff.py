"""The supervisor's restart backoff, on a fake clock with simulated engine processes (no model, no waiting).

The supervisor's own code runs (`Supervisor._watch`, `EngineProcess.start` / `ready` / heartbeat): only
`subprocess.Popen` and the clock are stand-ins. A simulated engine loads for LOAD_SECONDS, then shows its
socket and beats, like engine_host.py, until the test kills it.
"""

import os
import subprocess
from types import SimpleNamespace

import pytest

from ovserve.graph.node import EngineSpec
from ovserve.server import supervisor as supervisor_module
from ovserve.server.supervisor import EngineProcess, Supervisor

LOAD_SECONDS = 6  # the default model loads in ~6 s (facts.md)


class FakeClock:
    def __init__(self):
        self.now = 1_000_000.0

    def time(self):
        return self.now

    monotonic = time


class SimulatedProcess:
    def __init__(self, started):
        self.started = started
        self.returncode = None
        self.stuck = False

    def poll(self):
        return self.returncode

    def kill(self):
        if self.returncode is None:
            self.returncode = -9

    def wait(self, timeout=None):
        return self.returncode


class Simulation:
    def __init__(self, tmp_path, monkeypatch, watchdog_seconds=30):
        self.clock = FakeClock()
        self.processes = []
        monkeypatch.setattr(supervisor_module, "time", self.clock)
        monkeypatch.setattr(
            supervisor_module,
            "subprocess",
            SimpleNamespace(Popen=self._popen, TimeoutExpired=subprocess.TimeoutExpired),
        )
        self.supervisor = Supervisor("unused.json", "127.0.0.1", 0, watchdog_seconds=watchdog_seconds)
        self.engine = EngineProcess(
            "test/llm", str(tmp_path / "engine.sock"), EngineSpec("unused:Engine", {}), "warning", 50
        )
        self.engine.start()
        self.deaths = []
        self.ready_seconds = 0.0

    def _popen(self, command, **kwargs):
        self.processes.append(SimulatedProcess(self.clock.now))
        return self.processes[-1]

    @property
    def process(self):
        return self.processes[-1]

    @property
    def up(self):
        return self.engine.ready and self.process.returncode is None

    def run(self, seconds):
        """Advance the clock by the supervisor's polls, as the engine process behaves."""
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.now += supervisor_module.POLL_SECONDS
            process = self.process
            loaded = process.returncode is None and self.clock.now - process.started >= LOAD_SECONDS
            if loaded and not process.stuck:  # it beats (here at every poll), and first before its socket shows
                open(self.engine.heartbeat_path, "a").close()
                os.utime(self.engine.heartbeat_path, (self.clock.now, self.clock.now))
            if loaded and not os.path.exists(self.engine.socket_path):
                open(self.engine.socket_path, "w").close()
            assert self.supervisor._watch(self.engine)
            self.ready_seconds += supervisor_module.POLL_SECONDS if self.up else 0

    def run_until_up(self, limit=120):
        waited = 0.0
        while not self.up:
            assert waited < limit, "the engine never came back"
            self.run(supervisor_module.POLL_SECONDS)
            waited += supervisor_module.POLL_SECONDS

    def kill(self):
        """The engine dies (a request crashed it); return the seconds until its replacement started."""
        self.process.returncode = -11
        died, count = self.clock.now, len(self.processes)
        while len(self.processes) == count:
            self.run(supervisor_module.POLL_SECONDS)
        return round(self.processes[-1].started - died)


@pytest.fixture
def simulation(tmp_path, monkeypatch):
    return Simulation(tmp_path, monkeypatch)


def test_an_engine_killed_by_a_request_every_40_s_is_restarted_after_1_s_each_time(simulation):
    """The issue: the counter never went back, so from the 5th crash on every restart waited 30 s, and a
    request every ~40 s that kills the engine kept the model down most of the time."""
    simulation.run_until_up()
    delays, started, simulation.ready_seconds = [], simulation.clock.now, 0.0
    for request in range(1, 11):  # the bad requests come 40 s apart, whatever the engine does
        simulation.run(started + 40 * request - simulation.clock.now)
        if simulation.up:  # (a request that finds it down gets a 503 and kills nothing)
            delays.append(simulation.kill())
    simulation.run(started + 440 - simulation.clock.now)
    assert delays == [1] * 10, delays  # before: [1, 2, 5, 10, 30, 30, 30, 30, 30, 30]
    assert simulation.ready_seconds / 440 > 0.75  # up 83% of the time (before: 40%)


def test_an_engine_that_dies_soon_after_loading_still_backs_off(simulation):
    simulation.run_until_up()
    delays = []
    for _ in range(6):
        simulation.run(2)  # ready for 2 s, then dead again: a crash loop
        delays.append(simulation.kill())
        simulation.run_until_up()
    assert delays == [1, 2, 5, 10, 30, 30]


def test_the_backoff_resets_only_after_30_s_of_beats(tmp_path, monkeypatch):
    simulation = Simulation(tmp_path, monkeypatch, watchdog_seconds=120)  # a stall the watchdog lets pass
    simulation.run_until_up()
    for _ in range(3):
        simulation.kill()
        simulation.run_until_up()
    simulation.process.stuck = True  # ready, but its loop stops turning: not healthy
    simulation.run(50)
    simulation.process.stuck = False
    simulation.run(25)  # beating again, for less than 30 s
    assert simulation.kill() == 10  # the 4th restart: still up the ladder
    simulation.run_until_up()
    simulation.run(31)
    assert simulation.kill() == 1
