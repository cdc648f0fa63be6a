"""The Falcon app: every route of the server, built from a loaded registry."""

import time

import falcon

from ovserve.http import errors
from ovserve.http.body import DEFAULT_MAX_BODY_BYTES
from ovserve.http.middleware import RequestIdMiddleware
from ovserve.http.resources.generation import ChatCompletionsResource, CompletionsResource
from ovserve.http.resources.health import LiveResource, ModelStatusSink, ReadyResource
from ovserve.http.resources.models import ModelResource, ModelsResource

API_PREFIXES = ("/v3", "/v1")  # OpenVINO Model Server's prefix, and OpenAI clients' default


def create_app(registry, max_body_bytes=DEFAULT_MAX_BODY_BYTES, watch_disconnect=None):
    """`watch_disconnect(socket, callback)`, given by the server runtime, cancels work of clients that leave."""
    app = falcon.App(middleware=[RequestIdMiddleware()])
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    created = int(time.time())
    chat = ChatCompletionsResource(registry, max_body_bytes, watch_disconnect)
    completions = CompletionsResource(registry, max_body_bytes, watch_disconnect)
    models, model = ModelsResource(registry, created), ModelResource(registry, created)
    for prefix in API_PREFIXES:
        app.add_route(f"{prefix}/chat/completions", chat)
        app.add_route(f"{prefix}/completions", completions)
        app.add_route(f"{prefix}/models", models)
        app.add_route(prefix + "/models/{model_id:path}", model)
    app.add_route("/v2/health/live", LiveResource())
    app.add_route("/v2/health/ready", ReadyResource(registry))
    app.add_sink(ModelStatusSink(registry), r"^/v2/models/(?P<model_id>.+)/(?P<action>ready|stats)$")
    return app
