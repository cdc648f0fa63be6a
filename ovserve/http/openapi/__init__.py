"""The OpenAPI 3.1 document of the HTTP API (/v3/openapi.json), built from the packaged request JSON Schemas.

`build_openapi(model_names)` is called once at app creation (see `ovserve.http.resources.openapi`).
One module a job:
- `document`: the whole document: info, servers, tags, shared components, the families' paths;
- `components`: the request schemas placed in components/schemas, their `$ref`s rewritten;
- `operations`: the shapes every operation shares (error statuses, POST and GET operations);
- `openai_schemas`, `openai_paths`: the OpenAI-compatible routes' bodies and operations;
- `openai_responses`, `anthropic_messages`, `health`: the Responses API, Anthropic's Messages API,
  the health probes, each with its bodies and operations.
"""

from ovserve.http.openapi.document import build_openapi

__all__ = ["build_openapi"]
