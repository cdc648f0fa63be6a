"""The whole document: its info, servers and tags, the shared components, and every route family's paths."""

import copy
from importlib import metadata

from ovserve.http.openapi.anthropic_messages import anthropic_paths, anthropic_schemas
from ovserve.http.openapi.components import json_content, request_schemas
from ovserve.http.openapi.health import health_paths, health_schemas
from ovserve.http.openapi.openai_audio import audio_paths, audio_schemas
from ovserve.http.openapi.openai_images import images_paths, images_schemas
from ovserve.http.openapi.openai_paths import openai_paths, root_token_paths, root_token_schemas
from ovserve.http.openapi.openai_responses import responses_paths, responses_schemas
from ovserve.http.openapi.openai_schemas import openai_schemas
from ovserve.http.openapi.operations import ERROR_STATUSES, described_errors

OPENAPI_VERSION = "3.1.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
TAGS = ("generation", "retrieval", "tokens", "models", "health", "anthropic", "responses", "images", "audio")


def build_openapi(model_names=(), *, prefix="/v3", secured=False, servers=None):
    """The OpenAPI 3.1 document (a dict) of the server's routes under `prefix` (/v3 or /v1).

    `model_names`: the served models (the `model` field and `{model_id}` offer them as an enum).
    `secured`: the API routes need `Authorization: Bearer KEY` (documented as a security scheme; the
    /v2 health routes stay open). `servers`: the servers list; by default the server the document is
    fetched from.
    """
    schemas = request_schemas(model_names)
    schemas.update(openai_schemas())
    schemas.update(health_schemas())
    schemas.update(root_token_schemas(schemas))
    schemas.update(anthropic_schemas())
    schemas.update(responses_schemas())
    schemas.update(images_schemas(schemas))
    schemas.update(audio_schemas(schemas))
    paths = {
        **openai_paths(prefix, secured),
        **health_paths(secured),
        **root_token_paths(secured),
        **anthropic_paths(prefix, secured),
        **responses_paths(prefix, secured),
        **images_paths(prefix, secured),
        **audio_paths(prefix, secured),
    }
    components = {
        "schemas": schemas,
        "responses": _error_responses(secured),
        "parameters": {
            "RequestId": {
                "name": "x-request-id",
                "in": "header",
                "required": False,
                "description": "The request's id for logs (at most 128 characters are kept); echoed in the response. "
                "Made by the server when absent.",
                "schema": {"type": "string"},
            }
        },
        "headers": {"RequestId": {"description": "The request's id (given or made).", "schema": {"type": "string"}}},
    }
    if secured:
        components["securitySchemes"] = {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "Authorization: Bearer YOUR_KEY (API routes only).",
            }
        }
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "info": {
            "title": "ovserve",
            "version": _version(),
            "summary": "OpenAI-compatible model server on OpenVINO.",
            "description": "Chat and text completions (unary and server-sent events), model listing, and KServe-style "
            'health. Every error is an OpenAI error object: {"error": {message, type, param, code}}; on '
            'Anthropic\'s Messages routes, Anthropic\'s: {"type": "error", "error": {type, message}}.',
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": copy.deepcopy(servers) if servers else [{"url": "/", "description": "This server."}],
        "tags": [{"name": tag} for tag in TAGS],
        "paths": paths,
        "components": components,
    }


def _error_responses(secured):
    """components/responses: the OpenAI-shaped error answers the operations refer to by status."""
    responses = described_errors(ERROR_STATUSES, "Error")
    responses["503"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before retrying (when overloaded).",
            "schema": {"type": "integer"},
        }
    }
    if secured:
        responses["401"] = {"description": "Missing or incorrect API key.", "content": json_content("Error")}
    return responses


def _version():
    try:
        return metadata.version("ovserve")
    except metadata.PackageNotFoundError:  # running from a source tree that isn't installed
        return "0.0.0"
