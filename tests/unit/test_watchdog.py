"""The supervisor's watchdog, against a real engine process that has nothing to do."""

import os
import time
from pathlib import Path

from ovserve.graph.node import EngineSpec
from ovserve.runtime.engine import Engine
from ovserve.server.supervisor import EngineProcess

WATCHDOG_SECONDS = 10


class IdleEngine(Engine):
    def has_work(self):
        return False


def test_a_restarted_engine_is_not_judged_by_the_beats_of_the_one_it_replaced(tmp_path):
    engine = EngineProcess(
        "test/idle", str(tmp_path / "engine.sock"), EngineSpec(f"{__name__}:IdleEngine", {}), "warning", 50
    )
    Path(engine.heartbeat_path).touch()
    a_minute_ago = time.time() - 60
    os.utime(engine.heartbeat_path, (a_minute_ago, a_minute_ago))  # the last beat of a stuck engine, since killed
    engine.start()
    try:
        deadline = time.monotonic() + 60
        while not engine.ready:  # what the supervisor polls: a stale beat here got the new engine killed
            assert engine.seconds_since_heartbeat() < WATCHDOG_SECONDS
            assert engine.process.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        assert engine.seconds_since_heartbeat() < WATCHDOG_SECONDS
        assert os.stat(engine.heartbeat_path).st_mtime > a_minute_ago  # it beat before its socket appeared
    finally:
        engine.stop()
        engine.process.wait(10)
