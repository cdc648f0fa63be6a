"""The runtime plan: what the supervisor tells the HTTP workers (config file, engine sockets).

It travels in one environment variable so gunicorn's workers, which start from a fresh import of
the app, find the same engines as the supervisor started.
"""

import json
import os
from dataclasses import asdict, dataclass

from ovserve.protocol.responses_store import StoreOptions

ENVIRONMENT_VARIABLE = "OVSERVE_RUNTIME_PLAN"


@dataclass(frozen=True)
class RuntimePlan:
    config_file: str
    engine_sockets: dict  # {(servable, node): socket path}
    max_body_bytes: int
    drain_file: str  # exists while the server drains: readiness 503, new requests refused
    api_key_file: str = ""  # one key per line; OVSERVE_API_KEY adds one more
    cors_origins: tuple = ()
    client_write_timeout_seconds: float = 30.0  # drop a streaming client whose writes block this long
    responses_store: StoreOptions = StoreOptions()  # the Responses API's store, shared by every worker
    # The supervisor's runtime folder: the live plan, the servables' states and reload requests (live_plan.py).
    runtime_folder: str = ""

    def to_environment(self):
        sockets = [[servable, node, path] for (servable, node), path in self.engine_sockets.items()]
        return json.dumps(
            {
                "config_file": self.config_file,
                "engine_sockets": sockets,
                "max_body_bytes": self.max_body_bytes,
                "drain_file": self.drain_file,
                "api_key_file": self.api_key_file,
                "cors_origins": list(self.cors_origins),
                "client_write_timeout_seconds": self.client_write_timeout_seconds,
                "responses_store": asdict(self.responses_store),
                "runtime_folder": self.runtime_folder,
            }
        )

    @classmethod
    def from_environment(cls):
        data = json.loads(os.environ[ENVIRONMENT_VARIABLE])
        sockets = {(servable, node): path for servable, node, path in data["engine_sockets"]}
        return cls(
            data["config_file"],
            sockets,
            data["max_body_bytes"],
            data["drain_file"],
            data["api_key_file"],
            tuple(data["cors_origins"]),
            client_write_timeout_seconds=data["client_write_timeout_seconds"],
            responses_store=StoreOptions(**data["responses_store"]),
            runtime_folder=data.get("runtime_folder", ""),
        )

    def is_draining(self):
        return os.path.exists(self.drain_file)


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client can hold of an HTTP worker, given to gunicorn on its command line (each worker's
    connection slots, and how long a connection may take to send a request's headers, then its body)."""

    worker_connections: int = 4096
    header_timeout_seconds: int = 5
    body_timeout_seconds: float = 30.0

    def to_arguments(self):
        return [
            "--worker-connections",
            str(self.worker_connections),
            "--header-timeout-seconds",
            str(self.header_timeout_seconds),
            "--body-timeout-seconds",
            str(self.body_timeout_seconds),
        ]
