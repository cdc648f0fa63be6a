"""The health probes: KServe's /v2 routes and vLLM's /health, and their bodies. They are documented
without the API key's security (the server leaves /v2/health/* and /health open to probes)."""

from ovserve.http.openapi.components import json_content
from ovserve.http.openapi.operations import get_operation, model_id_parameter


def health_schemas():
    return {
        "Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
        "Ready": {
            "type": "object",
            "required": ["ready", "draining", "not_ready"],
            "properties": {
                "ready": {"type": "boolean"},
                "draining": {"type": "boolean"},
                "not_ready": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Models still loading or restarting.",
                },
            },
        },
        "ModelReady": {
            "type": "object",
            "required": ["name", "ready"],
            "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        },
        "ModelStats": {
            "type": "object",
            "required": ["name", "ready", "nodes"],
            "properties": {
                "name": {"type": "string"},
                "ready": {"type": "boolean"},
                "nodes": {"type": "object", "description": "Live counters, by node name."},
            },
        },
    }


def health_paths(secured=False):
    """The probes are open; a model's own readiness and stats need the key when keys are set (they tell
    which models exist, and the engine's load)."""
    ready = get_operation(
        "ready", "Readiness: every model loaded and not draining", "health", "Ready", (), False, ok="Ready."
    )
    model_ready = get_operation(
        "modelReady",
        "Readiness of one model",
        "health",
        "ModelReady",
        ("404",),
        secured,
        [model_id_parameter()],
        ok="The model is ready.",
    )
    # Not ready: 503 with the same body shape as 200.
    ready["responses"]["503"] = {"description": "Not ready.", "content": json_content("Ready")}
    model_ready["responses"]["503"] = {
        "description": "The model is loading or restarting.",
        "content": json_content("ModelReady"),
    }
    return {
        "/v2/health/live": {
            "get": get_operation("live", "Liveness: the HTTP server answers", "health", "Live", (), False)
        },
        "/v2/health/ready": {"get": ready},
        "/v2/models/{model_id}/ready": {"get": model_ready},
        "/v2/models/{model_id}/stats": {
            "get": get_operation(
                "modelStats",
                "Live counters of one model's nodes",
                "health",
                "ModelStats",
                ("404",),
                secured,
                [model_id_parameter()],
            )
        },
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "vLLM's probe: 200 (empty body) when every model is loaded and not draining, else 503",
                "tags": ["health"],
                "responses": {"200": {"description": "Ready."}, "503": {"description": "Not ready."}},
            }
        },
    }
