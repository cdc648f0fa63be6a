"""Liveness and readiness, KServe v2 style, and vLLM's `GET /health`.

Liveness answers from the HTTP worker alone (it never waits for an engine). Readiness is true only
when every servable is loaded and its engine is connected, or unloaded for idleness (`idle_unload_seconds`:
not a failure, the next request loads it; the probes never wake it).
"""

import falcon


class LiveResource:
    def on_get(self, req, resp):
        resp.media = {"live": True}

    on_head = on_get


class ReadyResource:
    def __init__(self, registry, is_draining=lambda: False):
        self.registry = registry
        self.is_draining = is_draining

    def on_get(self, req, resp):
        pending = [servable.name for servable in self.registry if self.registry.state_of(servable) == "loading"]
        draining = self.is_draining()
        ready = not pending and not draining
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"ready": ready, "draining": draining, "not_ready": pending}

    on_head = on_get


class ServeHealthResource:
    """GET /health as vLLM answers it: 200 with an empty body when the server can serve, 503 otherwise.

    Load generators (guidellm) and vLLM-style load balancers probe it before sending anything. It says
    what readiness says (every servable loaded, not draining): a balancer must stop sending to a server
    that drains. The reasons are in /v2/health/ready.
    """

    def __init__(self, registry, is_draining=lambda: False):
        self.registry = registry
        self.is_draining = is_draining

    def on_get(self, req, resp):
        ready = not self.is_draining() and all(self.registry.state_of(s) != "loading" for s in self.registry)
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.data = b""

    on_head = on_get


class ModelStatusSink:
    """GET /v2/models/{name}/ready and /v2/models/{name}/stats.

    A sink, because model names may contain '/', which a route template can't match mid-path.
    """

    def __init__(self, registry):
        self.registry = registry

    def __call__(self, req, resp, model_id, action):
        if req.method not in ("GET", "HEAD"):
            raise falcon.HTTPMethodNotAllowed(["GET", "HEAD"])
        servable = self.registry.get(model_id)
        if action == "ready":
            ready = servable.is_ready()
            resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
            resp.media = {"name": servable.name, "ready": ready, "state": self.registry.state_of(servable)}
        else:
            resp.media = {"name": servable.name, "ready": servable.is_ready(), "nodes": servable.stats()}
