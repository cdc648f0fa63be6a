"""The Falcon app: every route of the server, built from a loaded registry."""

import time
from dataclasses import dataclass
from typing import Callable, Optional

import falcon
from falcon.routing import CompiledRouter

from ovserve.http import errors, metrics
from ovserve.http.body import DEFAULT_MAX_BODY_BYTES
from ovserve.http.middleware import RequestIdMiddleware
from ovserve.http.pipeline import Pipeline
from ovserve.http.resources.api import ApiResource
from ovserve.http.resources.config import ConfigReloadResource, ConfigStatusResource
from ovserve.http.resources.count_tokens import CountTokensResource
from ovserve.http.resources.health import LiveResource, ModelStatusSink, ReadyResource, ServeHealthResource
from ovserve.http.resources.metrics import MetricsResource
from ovserve.http.resources.models import ModelResource, ModelsResource
from ovserve.http.resources.openapi import OpenApiResource
from ovserve.http.resources.responses import InputItemsResource, StoredResponseResource
from ovserve.http.resources.tokens import DetokenizeResource, TokenizeResource, TokenizerInfoResource
from ovserve.http.security import ApiKeyMiddleware, CorsMiddleware
from ovserve.protocol.anthropic_messages import MESSAGES
from ovserve.protocol.api import ApiContext
from ovserve.protocol.audio_speech import AUDIO_SPEECH
from ovserve.protocol.audio_transcriptions import AUDIO_TRANSCRIPTIONS, AUDIO_TRANSLATIONS
from ovserve.protocol.chat_completions import CHAT_COMPLETIONS
from ovserve.protocol.completions import COMPLETIONS
from ovserve.protocol.embeddings import EMBEDDINGS
from ovserve.protocol.images import IMAGE_EDITS, IMAGE_GENERATIONS
from ovserve.protocol.rerank import RERANK
from ovserve.protocol.responses import RESPONSES
from ovserve.protocol.responses_store import ResponsesStore, StoreOptions

API_PREFIXES = ("/v3", "/v1")  # OpenVINO Model Server's prefix, and OpenAI clients' default
# Each API's path under the prefixes, and its protocol module's Api.
APIS = {
    "chat/completions": CHAT_COMPLETIONS,
    "completions": COMPLETIONS,
    "embeddings": EMBEDDINGS,
    "rerank": RERANK,
    "messages": MESSAGES,
    "responses": RESPONSES,
    "images/generations": IMAGE_GENERATIONS,
    "images/edits": IMAGE_EDITS,
    "audio/transcriptions": AUDIO_TRANSCRIPTIONS,
    "audio/translations": AUDIO_TRANSLATIONS,
    "audio/speech": AUDIO_SPEECH,
}


@dataclass(frozen=True)
class AppOptions:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Given by the server runtime: watch_disconnect(socket, callback) cancels work of clients that leave.
    watch_disconnect: Optional[Callable] = None
    # True once the server drains for shutdown: readiness 503, new generations refused.
    is_draining: Callable[[], bool] = lambda: False
    api_keys: tuple = ()
    cors_origins: tuple = ()
    # Given by the server runtime: bound_stream_writes(body, socket) drops a client whose stream writes stay
    # blocked (it stopped reading) for --client-write-timeout-seconds, which cancels its generation.
    bound_stream_writes: Optional[Callable] = None
    # Where the Responses API keeps stored responses (--responses-store-*); directory "": this process's memory.
    responses_store: StoreOptions = StoreOptions(directory="")
    # Given by the server runtime: statuses() and reload() of GET /v1/config and POST /v1/config/reload.
    config_control: Optional[object] = None


def create_app(registry, options=AppOptions()):
    router = CompiledRouter()
    live, ready = LiveResource(), ReadyResource(registry, options.is_draining)
    serve_health = ServeHealthResource(registry, options.is_draining)
    metrics_page = MetricsResource(registry)
    middleware = [RequestIdMiddleware()]
    if options.cors_origins:
        middleware.append(CorsMiddleware(options.cors_origins))
    if options.api_keys:
        # Default deny: the key check asks this router what a path reaches. Open: the probes, and the
        # scrape page (counts and model names, no content; docs/operations.md, Security, says why).
        open_resources = (live, ready, serve_health, metrics_page)
        middleware.append(ApiKeyMiddleware(options.api_keys, router, open_resources=open_resources))
    app = falcon.App(middleware=middleware, router=router)
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app, router)
    created = int(time.time())
    store = ResponsesStore(options.responses_store)
    pipeline = Pipeline(registry, options, ApiContext(responses_store=store))
    stored_response, input_items = StoredResponseResource(store), InputItemsResource(store)
    apis = {path: ApiResource(pipeline, api) for path, api in APIS.items()}
    models, model = ModelsResource(registry, created), ModelResource(registry, created)
    tokenize, detokenize = TokenizeResource(registry, options), DetokenizeResource(registry, options)
    count_tokens = CountTokensResource(registry, options)
    openapi = OpenApiResource(registry, API_PREFIXES, secured=bool(options.api_keys))
    for prefix in API_PREFIXES:
        for path, resource in apis.items():
            app.add_route(f"{prefix}/{path}", resource)
        app.add_route(f"{prefix}/models", models)
        app.add_route(f"{prefix}/tokenize", tokenize)
        app.add_route(f"{prefix}/detokenize", detokenize)
        app.add_route(prefix + "/models/{model_id:path}", model)
        app.add_route(f"{prefix}/openapi.json", openapi)
        app.add_route(prefix + "/responses/{response_id}", stored_response)
        app.add_route(prefix + "/responses/{response_id}/input_items", input_items)
        app.add_route(f"{prefix}/messages/count_tokens", count_tokens)
    # vLLM's root routes, which vLLM clients call without a prefix (guidellm, lm-eval's remote tokenizer).
    app.add_route("/health", serve_health)
    app.add_route("/tokenize", TokenizeResource(registry, options, model_optional=True))
    app.add_route("/detokenize", DetokenizeResource(registry, options, model_optional=True))
    app.add_route("/tokenizer_info", TokenizerInfoResource(registry))
    app.add_route("/v2/health/live", live)
    app.add_route("/v2/health/ready", ready)
    # OVMS's config routes (not open: when keys are set, they need one, as every route but the probes).
    config_status = ConfigStatusResource(registry, options.config_control)
    app.add_route("/v1/config", config_status)
    app.add_route("/v1/config/reload", ConfigReloadResource(config_status))
    metrics.prepare(registry)
    app.add_route("/metrics", metrics_page)
    app.add_sink(ModelStatusSink(registry), r"^/v2/models/(?P<model_id>.+)/(?P<action>ready|stats)$")
    return app
