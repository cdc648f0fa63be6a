"""The runtime plan: what the supervisor tells the HTTP workers (config file, engine sockets).

It travels in one environment variable so gunicorn's workers, which start from a fresh import of
the app, find the same engines as the supervisor started.
"""

import json
import os
from dataclasses import dataclass

ENVIRONMENT_VARIABLE = "OVSERVE_RUNTIME_PLAN"


@dataclass(frozen=True)
class RuntimePlan:
    config_file: str
    engine_sockets: dict  # {(servable, node): socket path}
    max_body_bytes: int
    drain_file: str  # exists while the server drains: readiness 503, new requests refused
    api_key_file: str = ""  # one key per line; OVSERVE_API_KEY adds one more
    cors_origins: tuple = ()

    def to_environment(self):
        sockets = [[servable, node, path] for (servable, node), path in self.engine_sockets.items()]
        return json.dumps({"config_file": self.config_file, "engine_sockets": sockets, "max_body_bytes": self.max_body_bytes,
                           "drain_file": self.drain_file, "api_key_file": self.api_key_file,
                           "cors_origins": list(self.cors_origins)})

    @classmethod
    def from_environment(cls):
        data = json.loads(os.environ[ENVIRONMENT_VARIABLE])
        sockets = {(servable, node): path for servable, node, path in data["engine_sockets"]}
        return cls(data["config_file"], sockets, data["max_body_bytes"], data["drain_file"],
                   data["api_key_file"], tuple(data["cors_origins"]))

    def is_draining(self):
        return os.path.exists(self.drain_file)
