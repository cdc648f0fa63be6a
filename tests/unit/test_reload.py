"""Live reload's pure parts: the diff of two configs, the supervisor's reload steps with simulated engine
processes (no model: only the processes are stand-ins), the runtime folder's messages, the file watch,
and the OVMS shape of GET /v1/config."""

import json
import os
import shutil
import time
from pathlib import Path

from ovserve.config.loader import ServableSpec, load_server_config
from ovserve.graph.registry import ServableRegistry
from ovserve.http.resources.config import config_status
from ovserve.server.config_watch import ConfigWatch
from ovserve.server.live_plan import (
    AVAILABLE,
    END,
    LOADING,
    LivePlan,
    Mailbox,
    ReloadAnswered,
    ServableStatus,
    WorkerReport,
)
from ovserve.server.reload import LiveServables, diff_specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "e2e"
DEFAULT = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _spec(name, options):
    graph = {"nodes": [{"name": "llm", "type": "llm_continuous_batching", "options": options}], "output": "llm"}
    return ServableSpec(name, Path(f"/m/{name}/graph.json"), graph, "$.servables[0]")


def test_diff_names_added_removed_changed_and_kept():
    old = {"a": _spec("a", {"x": 1}), "b": _spec("b", {"x": 1}), "c": _spec("c", {"x": 1})}
    new = {"a": _spec("a", {"x": 1}), "b": _spec("b", {"x": 2}), "d": _spec("d", {"x": 1})}
    change = diff_specs(old, new)
    assert (change.added, change.removed, change.changed, change.kept) == (("d",), ("c",), ("b",), ("a",))
    assert not change.is_empty
    assert diff_specs(old, dict(old)).is_empty


def _config(folder, servables, idle=None):
    """A config in `folder` naming the e2e fixtures' servables by absolute path (so the file can move)."""
    source = json.loads((FIXTURES / "config.json").read_text())
    bases = {entry["name"]: (FIXTURES / entry["base_path"]).resolve() for entry in source["servables"]}
    entries = [{"name": name, "base_path": str(bases[name])} for name in servables]
    for entry in entries:
        if idle and entry["name"] in idle:
            entry["idle_unload_seconds"] = idle[entry["name"]]
    plugins = [str((FIXTURES / path).resolve()) for path in source["plugin_paths"]]
    path = folder / "config.json"
    path.write_text(json.dumps({"servables": entries, "plugin_paths": plugins}))
    return path


class SimulatedProcess:
    def __init__(self):
        self.returncode = None

    def poll(self):
        return self.returncode

    def kill(self):
        self.returncode = -9


class SimulatedEngine:
    """EngineProcess's face to LiveServables: start, stop, ready, its process and socket."""

    def __init__(self, label, socket_path):
        self.label, self.socket_path = label, socket_path
        self.process, self.ready = None, False

    def start(self):
        self.process, self.ready = SimulatedProcess(), False

    def stop(self):
        if self.process and self.process.returncode is None:
            self.process.returncode = 0


class Simulation:
    def __init__(self, tmp_path, servables, idle=None):
        self.config = _config(tmp_path, servables, idle)
        self.runtime = tmp_path / "runtime"
        self.runtime.mkdir()
        self.mailbox = Mailbox(self.runtime)
        self.engines = []
        self.made = []
        self.live = LiveServables(self.config, self.mailbox, self._make_engine, self.engines, drain_seconds=30)
        config = load_server_config(self.config)
        self.live.start(config, ServableRegistry.from_config(config))
        for engine in self.engines:
            engine.start()
            engine.ready = True

    def _make_engine(self, label, spec, index):
        self.made.append(SimulatedEngine(label, str(self.runtime / f"engine-{index}.sock")))
        return self.made[-1]

    def worker_serves(self, generation, busy=(), in_use=()):
        self.mailbox.write_report(WorkerReport(os.getpid(), generation, tuple(busy), {}, tuple(in_use)))

    def reload(self):
        request_id = self.mailbox.request_reload()
        self.live.poll()
        return request_id


def test_reload_adds_changes_and_removes_servables_in_order(tmp_path):
    sim = Simulation(tmp_path, [DEFAULT, "smollm2-limited", "smollm2-prefixed"])
    sim.worker_serves(1)
    sim.live.poll()
    assert {name: status.state for name, status in sim.mailbox.read_statuses().items()} == dict.fromkeys(
        [DEFAULT, "smollm2-limited", "smollm2-prefixed"], AVAILABLE
    )
    old_limited = sim.live.nodes["smollm2-limited"]["llm"]
    old_prefixed = sim.live.nodes["smollm2-prefixed"]["llm"]
    default_engine = sim.live.nodes[DEFAULT]["llm"]

    # Remove "prefixed", add "deterministic", change "limited" (its graph file moves to another folder).
    changed_folder = tmp_path / "limited-v2"
    shutil.copytree(FIXTURES / "servables" / "limited", changed_folder)
    graph = json.loads((changed_folder / "graph.json").read_text())
    graph["nodes"][-1]["options"]["max_num_seqs"] = 3
    (changed_folder / "graph.json").write_text(json.dumps(graph))
    _config(tmp_path, [DEFAULT, "smollm2-limited", "smollm2-deterministic"])
    config = json.loads(sim.config.read_text())
    config["servables"][1]["base_path"] = str(changed_folder)
    sim.config.write_text(json.dumps(config))
    request_id = sim.reload()

    starting = sorted(sim.made[-2:], key=lambda engine: engine.label, reverse=True)
    assert [engine.label for engine in starting] == ["smollm2-limited/llm", "smollm2-deterministic/llm"]
    assert sim.mailbox.read_statuses()["smollm2-deterministic"].state == LOADING
    assert sim.mailbox.read_plan().generation == 1  # nothing published before the new engines are ready
    for engine in starting:
        engine.ready = True
    sim.live.poll()
    plan = sim.mailbox.read_plan()
    assert plan.generation == 2
    assert set(plan.servables) == {DEFAULT, "smollm2-limited", "smollm2-deterministic"}
    assert plan.engine_sockets[(DEFAULT, "llm")] == default_engine.socket_path  # untouched
    assert plan.engine_sockets[("smollm2-limited", "llm")] == starting[0].socket_path
    assert sim.mailbox.take_reload_answer(request_id) is None  # the worker has not taken the plan yet

    sim.worker_serves(2, busy=[old_limited.socket_path])  # a request still runs on the old "limited"
    sim.live.poll()
    answer = sim.mailbox.take_reload_answer(request_id)
    assert answer == ReloadAnswered(request_id, True, 2, "applied")
    assert old_prefixed.process.returncode == 0 and old_limited.process.returncode is None
    assert sim.mailbox.read_statuses()["smollm2-prefixed"].state == END
    assert old_limited not in sim.engines and starting[0] in sim.engines

    sim.worker_serves(2)  # that request finished
    sim.live.poll()
    assert old_limited.process.returncode == 0
    assert default_engine.process.returncode is None


def test_invalid_config_changes_nothing_and_the_answer_says_why(tmp_path):
    sim = Simulation(tmp_path, [DEFAULT])
    config = json.loads(sim.config.read_text())
    config["servables"].append({"name": DEFAULT, "base_path": config["servables"][0]["base_path"]})
    sim.config.write_text(json.dumps(config))
    answer = sim.mailbox.take_reload_answer(sim.reload())
    assert not answer.applied
    assert "$.servables[1].name" in answer.message and "already used" in answer.message
    assert sim.mailbox.read_plan().generation == 1 and len(sim.made) == 1


def test_an_added_servable_whose_engine_fails_is_reported_and_the_rest_serves(tmp_path):
    sim = Simulation(tmp_path, [DEFAULT])
    sim.worker_serves(1)
    _config(tmp_path, [DEFAULT, "smollm2-deterministic"])
    request_id = sim.reload()
    sim.made[-1].process.returncode = 1  # died while loading
    sim.live.poll()
    sim.worker_serves(sim.mailbox.read_plan().generation)
    sim.live.poll()
    answer = sim.mailbox.take_reload_answer(request_id)
    assert not answer.applied and "smollm2-deterministic/llm failed to load" in answer.message
    status = sim.mailbox.read_statuses()["smollm2-deterministic"]
    assert status.state == END and status.error_code == "UNKNOWN"
    assert sim.mailbox.read_plan().servables == (DEFAULT,)


def test_an_unchanged_config_answers_at_once(tmp_path):
    sim = Simulation(tmp_path, [DEFAULT])
    answer = sim.mailbox.take_reload_answer(sim.reload())
    assert answer.applied and answer.message == "the configuration did not change"


def test_mailbox_messages_round_trip(tmp_path):
    mailbox = Mailbox(tmp_path)
    plan = LivePlan(3, "/c/config.json", {("a", "llm"): "/r/engine-0.sock"}, ("a", "plain"))
    mailbox.write_plan(plan)
    assert mailbox.read_plan() == plan
    assert plan.sockets_of("a") == {("a", "llm"): "/r/engine-0.sock"} and plan.sockets_of("plain") == {}
    mailbox.write_statuses({"a": ServableStatus(AVAILABLE), "b": ServableStatus(END, "failed")})
    assert mailbox.read_statuses()["b"] == ServableStatus(END, "failed")
    first, second = mailbox.request_reload(), mailbox.request_reload()
    assert sorted(mailbox.take_reload_requests()) == sorted([first, second])
    assert mailbox.take_reload_requests() == []


def test_reports_of_exited_workers_are_dropped(tmp_path):
    mailbox = Mailbox(tmp_path)
    mailbox.write_report(WorkerReport(os.getpid(), 2, ("/r/engine-1.sock",)))
    mailbox.write_report(WorkerReport(2**22 + 12345, 1))  # above pid_max: no such process
    assert mailbox.read_reports() == [WorkerReport(os.getpid(), 2, ("/r/engine-1.sock",))]


def test_config_watch_sees_content_changes_only(tmp_path):
    config = _config(tmp_path, [DEFAULT])
    watch = ConfigWatch(config, poll_seconds=0.000001)
    config.write_text(config.read_text())  # the same bytes again
    assert not watch.changed()
    _config(tmp_path, [DEFAULT, "smollm2-limited"])
    assert watch.changed()
    assert not watch.changed()
    assert not ConfigWatch(config, poll_seconds=0).changed()


def test_config_status_has_ovms_shape():
    body = config_status({"a": (AVAILABLE, "OK", "OK"), "b": (END, "UNKNOWN", "failed to load")})
    assert body["a"] == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": "OK"}}
        ]
    }
    assert body["b"]["model_version_status"][0]["status"]["error_message"] == "failed to load"


def test_an_idle_servable_unloads_and_a_request_loads_it_again(tmp_path):
    idle = "smollm2-deterministic"
    sim = Simulation(tmp_path, [DEFAULT, idle], idle={idle: 0.001})
    sim.worker_serves(1, in_use=[idle])  # a request is open on it: it stays
    sim.live.poll()
    time.sleep(0.01)
    sim.live.poll()
    assert sim.mailbox.read_plan().unloaded == ()
    sim.worker_serves(1)
    time.sleep(0.01)
    sim.live.poll()
    engine = sim.live.nodes[idle]["llm"]
    plan = sim.mailbox.read_plan()
    assert plan.unloaded == (idle,) and idle in plan.servables  # still served: its name and tokenizer stay
    assert engine.process.returncode == 0 and engine not in sim.engines
    assert sim.mailbox.read_statuses()[idle] == ServableStatus(END, "OK")
    assert sim.live.nodes[DEFAULT]["llm"].process.returncode is None  # the other one never unloads

    sim.mailbox.request_wake(idle)
    sim.live.poll()
    assert sim.mailbox.read_plan().unloaded == () and sim.mailbox.read_statuses()[idle].state == LOADING
    assert engine.process.returncode is None
    assert engine not in sim.engines  # watched (and restarted if it dies) once it has loaded
    engine.ready = True
    sim.worker_serves(sim.mailbox.read_plan().generation, in_use=[idle])  # the waking request runs on it
    sim.live.poll()
    assert sim.mailbox.read_statuses()[idle].state == AVAILABLE and engine in sim.engines


def test_a_servable_that_fails_to_load_again_is_reported_and_the_server_goes_on(tmp_path):
    idle = "smollm2-deterministic"
    sim = Simulation(tmp_path, [DEFAULT, idle], idle={idle: 0.001})
    sim.live.poll()
    time.sleep(0.01)
    sim.live.poll()
    assert sim.mailbox.read_plan().unloaded == (idle,)
    sim.mailbox.request_wake(idle)
    sim.live.poll()
    engine = sim.live.nodes[idle]["llm"]
    engine.process.returncode = 1  # died while loading
    sim.live.poll()
    assert sim.mailbox.read_plan().unloaded == (idle,) and engine not in sim.engines
    status = sim.mailbox.read_statuses()[idle]
    assert status.state == END and "failed to load again" in status.error_message
