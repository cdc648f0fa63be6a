"""GET /v1/config and POST /v1/config/reload: OpenVINO Model Server's config status and reload.

Both answer OVMS's shape: `{"<name>": {"model_version_status": [{"version", "state", "status":
{"error_code", "error_message"}}]}}`, one version per servable (ovserve serves no versions). The work
is the server runtime's (`control`, server/plan_follower.py): this edge only renders it. Without a
runtime (an app built in a test), the states come from the registry and a reload is refused.
"""

import falcon

from ovserve.errors import NotFound

VERSION = "1"  # ovserve has no model versions; OVMS's clients expect one


def config_status(statuses):
    """OVMS's body from {name: (state, error_code, error_message)}."""
    return {
        name: {
            "model_version_status": [
                {"version": VERSION, "state": state, "status": {"error_code": code, "error_message": message}}
            ]
        }
        for name, (state, code, message) in sorted(statuses.items())
    }


def _registry_statuses(registry):
    return {s.name: ("AVAILABLE" if s.is_ready() else "LOADING", "OK", "OK") for s in registry}


class ConfigStatusResource:
    def __init__(self, registry, control=None):
        self.registry = registry
        self.control = control

    def statuses(self):
        return self.control.statuses() if self.control else _registry_statuses(self.registry)

    def on_get(self, req, resp):
        resp.media = config_status(self.statuses())


class ConfigReloadResource:
    """Re-reads the config file the server started with; answers once the change is applied or failed.
    An invalid config changes nothing: 400 naming the file, the field and the problem (InvalidRequest)."""

    def __init__(self, status):
        self.status = status

    def on_post(self, req, resp):
        if self.status.control is None:
            raise NotFound("This server has no config file to reload.")
        applied, message = self.status.control.reload()
        resp.status = falcon.HTTP_200
        resp.set_header("x-ovserve-reload", "applied" if applied else "failed")
        resp.media = config_status(self.status.statuses())
        if not applied:
            resp.media["error"] = message
