"""The live plan and the messages of a reload, between the supervisor and the HTTP workers.

The supervisor and gunicorn's workers are not parent and child (gunicorn's master sits between them,
and workers come and go), so they talk through small JSON files in the private runtime folder, each
written whole (to a temporary name, then renamed) so a reader never sees half of one:

- `plan.json` (supervisor → workers): the generation and the engine socket of every served node. A
  worker polls it, and a worker that boots reads it, so a worker started after a reload needs no signal.
- `status.json` (supervisor → workers): each servable's state, what `GET /v1/config` answers.
- `reload-<id>.request` (a worker → supervisor): `POST /v1/config/reload` asks for a reload;
  `reload-<id>.answer` comes back once the change is applied (or refused).
- `workers/<pid>.json` (each worker → supervisor): the generation it serves, and the engines of replaced
  or removed servables it still has requests on; the supervisor stops those engines once no worker has.
"""

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

# OVMS's states of a model version (GET /v1/config); "END" is a removed servable, or one whose load failed.
LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclass(frozen=True)
class LivePlan:
    """Supervisor → workers: what to serve, and where each node's engine listens."""

    generation: int
    config_file: str
    engine_sockets: dict  # {(servable, node): socket path}
    servables: tuple = ()  # the names served (a servable without engine nodes has no socket)
    unloaded: tuple = ()  # served, but their engines stopped after idle_unload_seconds (idle.py)

    def sockets_of(self, servable):
        return {key: path for key, path in self.engine_sockets.items() if key[0] == servable}

    def to_json(self):
        sockets = [[servable, node, path] for (servable, node), path in self.engine_sockets.items()]
        return {
            "generation": self.generation,
            "config_file": self.config_file,
            "engine_sockets": sockets,
            "servables": list(self.servables),
            "unloaded": list(self.unloaded),
        }

    @classmethod
    def from_json(cls, data):
        sockets = {(servable, node): path for servable, node, path in data["engine_sockets"]}
        return cls(data["generation"], data["config_file"], sockets, tuple(data["servables"]), tuple(data["unloaded"]))


@dataclass(frozen=True)
class ServableStatus:
    """Supervisor → workers: one servable's state, with OVMS's error fields."""

    state: str
    error_message: str = "OK"

    @property
    def error_code(self):
        return "OK" if self.error_message == "OK" else "UNKNOWN"


@dataclass(frozen=True)
class ReloadAnswered:
    """Supervisor → the worker that asked: the reload is done (`applied`) or refused (`message` says why)."""

    request_id: str
    applied: bool
    generation: int
    message: str = ""


@dataclass(frozen=True)
class WorkerReport:
    """Each worker → supervisor: the generation it serves, the retired engines (sockets) it still has
    requests on, and for idle unload: when it last used each servable (time.time()), which have requests.
    `replace_for`: a later generation it did not take because loading it would pause its requests; it keeps
    serving its own until the supervisor replaces it by a fresh worker (worker_roll.py)."""

    pid: int
    generation: int
    busy_engines: tuple = ()
    last_used: dict = field(default_factory=dict)
    in_use: tuple = ()
    replace_for: int = 0


def _write_whole(path, data):
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def _read(path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


class Mailbox:
    """The runtime folder's files above, read and written as their typed messages."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.workers_folder = self.folder / "workers"

    # --- the plan and the states (written by the supervisor) -------------------------------------
    def write_plan(self, plan):
        _write_whole(self.folder / "plan.json", plan.to_json())

    def read_plan(self):
        data = _read(self.folder / "plan.json")
        return None if data is None else LivePlan.from_json(data)

    def write_statuses(self, statuses):
        _write_whole(self.folder / "status.json", {name: asdict(status) for name, status in statuses.items()})

    def read_statuses(self):
        data = _read(self.folder / "status.json") or {}
        return {name: ServableStatus(**fields) for name, fields in data.items()}

    # --- reload requests and answers -------------------------------------------------------------
    def request_reload(self):
        request_id = uuid.uuid4().hex
        _write_whole(self.folder / f"reload-{request_id}.request", {})
        return request_id

    def take_reload_requests(self):
        """The ids of the reloads asked since the last call (the supervisor answers each)."""
        ids = []
        for path in self.folder.glob("reload-*.request"):
            ids.append(path.name[len("reload-") : -len(".request")])
            path.unlink(missing_ok=True)
        return ids

    def answer_reload(self, answer):
        _write_whole(self.folder / f"reload-{answer.request_id}.answer", asdict(answer))

    def take_reload_answer(self, request_id):
        path = self.folder / f"reload-{request_id}.answer"
        data = _read(path)
        if data is None:
            return None
        path.unlink(missing_ok=True)
        return ReloadAnswered(**data)

    # --- lazy load: a request for an unloaded servable ----------------------------------------------
    def request_wake(self, servable):
        _write_whole(self.folder / f"wake-{uuid.uuid4().hex}.request", {"servable": servable})

    def take_wake_requests(self):
        names = set()
        for path in self.folder.glob("wake-*.request"):
            data = _read(path)
            path.unlink(missing_ok=True)
            if data is not None:
                names.add(data["servable"])
        return names

    # --- the workers' reports --------------------------------------------------------------------
    def write_report(self, report):
        self.workers_folder.mkdir(exist_ok=True)
        _write_whole(self.workers_folder / f"{report.pid}.json", asdict(report))

    def read_reports(self):
        """Reports of the workers alive now; those of exited workers are removed."""
        reports = []
        for path in self.workers_folder.glob("*.json"):
            data = _read(path)
            if data is None:
                continue
            report = WorkerReport(
                data["pid"],
                data["generation"],
                tuple(data["busy_engines"]),
                data["last_used"],
                tuple(data["in_use"]),
                data.get("replace_for", 0),
            )
            if _alive(report.pid):
                reports.append(report)
            else:
                path.unlink(missing_ok=True)
        return reports


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
