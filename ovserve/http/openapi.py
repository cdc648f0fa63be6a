"""The OpenAPI 3.1 document of the HTTP API, built from the packaged request JSON Schemas.

The request bodies come from `ovserve/protocol/schemas` (the same files the server validates
against), so the document can't drift from what the server accepts. Their `$ref`s into
`common.json` are rewritten to point into `components/schemas`, and `$id`/`$schema` are dropped, so
the document is self-contained: every `$ref` in it is a local `#/components/...` pointer.

`build_openapi(model_names)` is called once at app creation (see `ovserve.http.resources.openapi`);
the served model names become an `enum` alternative of the `model` property, so generated clients
and fuzzers (schemathesis) pick real model names as well as arbitrary strings.
"""

import copy
from importlib import metadata

from ovserve.protocol.validation import SCHEMAS

OPENAPI_VERSION = "3.1.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"
COMMON_FILE = "common.json"
# Request schema file -> component name of its request body.
REQUEST_SCHEMAS = {
    "chat_completions.json": "ChatCompletionRequest",
    "completions.json": "CompletionRequest",
    "tokenize.json": "TokenizeRequest",
    "detokenize.json": "DetokenizeRequest",
    "embeddings.json": "EmbeddingsRequest",
    "rerank.json": "RerankRequest",
    "messages.json": "AnthropicMessagesRequest",
    "count_tokens.json": "AnthropicCountTokensRequest",
    "responses.json": "ResponsesRequest",
}
# Error statuses every generation operation may answer, with what they mean here.
ERROR_STATUSES = {
    "400": "Invalid request: malformed JSON, a field of the wrong type or out of range, an unsupported parameter.",
    "404": "No such model (or route).",
    "408": "The request ran longer than the model's request timeout and was stopped.",
    "413": "The request body is larger than the server's limit.",
    "415": "The Content-Type is not application/json.",
    "503": "The model is loading or restarting, the server is draining, or it is at capacity (see Retry-After).",
}


def _version():
    try:
        return metadata.version("ovserve")
    except metadata.PackageNotFoundError:  # running from a source tree that isn't installed
        return "0.0.0"


def _ref(name):
    return {"$ref": COMPONENTS + name}


def _component_name(file, def_name):
    """Where `<file>#/$defs/<def_name>` lives in components/schemas."""
    if file == COMMON_FILE:
        return def_name
    return f"{REQUEST_SCHEMAS.get(file, file.removesuffix('.json'))}.{def_name}"


def _resolves(document, pointer):
    node = document
    for part in pointer.lstrip("/").split("/") if pointer not in ("", "/") else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _placed_ref(value, file):
    """`common.json#/$defs/x` -> `#/components/schemas/x`; `chat_completions.json#/properties/messages` ->
    `#/components/schemas/ChatCompletionRequest/properties/messages`; local refs likewise."""
    target_file, _, pointer = value.partition("#")
    target_file = target_file or file
    if target_file not in SCHEMAS or not _resolves(SCHEMAS[target_file], pointer):
        raise ValueError(f"{file}: can't resolve $ref {value!r}")
    defs = "/$defs/"
    if pointer.startswith(defs):
        name, _, rest = pointer[len(defs) :].partition("/")
        return COMPONENTS + _component_name(target_file, name) + (f"/{rest}" if rest else "")
    if target_file in REQUEST_SCHEMAS:
        return COMPONENTS + REQUEST_SCHEMAS[target_file] + pointer.rstrip("/")
    raise ValueError(f"{file}: can't place $ref {value!r} in the OpenAPI document")


def _rewrite_refs(node, file):
    """A copy of a packaged schema (fragment) whose $refs point into components/schemas."""
    if isinstance(node, list):
        return [_rewrite_refs(item, file) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key in ("$id", "$schema", "$defs"):
            continue  # the identity and dialect are the document's; $defs are hoisted into components
        result[key] = _placed_ref(value, file) if key == "$ref" else _rewrite_refs(value, file)
    return result


def _error_schema():
    nullable_string = {"type": ["string", "null"]}
    return {
        "title": "OpenAI error object",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string", "description": "What went wrong and how to fix it."},
                    "type": {
                        "type": "string",
                        "description": "e.g. invalid_request_error, not_found, timeout, overloaded.",
                    },
                    "param": {**nullable_string, "description": "The offending field, e.g. messages[0].role."},
                    "code": {**nullable_string, "description": "e.g. model_not_found, invalid_value."},
                },
            }
        },
    }


def _response_schemas():
    usage = {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {
            name: {"type": "integer", "minimum": 0} for name in ("prompt_tokens", "completion_tokens", "total_tokens")
        },
    }
    finish_reason = {"type": ["string", "null"], "description": "stop, length or tool_calls; null while running."}

    def completion(object_name, choice_properties):
        return {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices", "usage"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": object_name},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", *choice_properties, "finish_reason"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            **choice_properties,
                            "logprobs": {"type": ["object", "null"], "description": "With `logprobs` set."},
                            "finish_reason": finish_reason,
                        },
                    },
                },
                "usage": _ref("Usage"),
            },
        }

    model_card = {
        "type": "object",
        "required": ["id", "object", "created", "owned_by", "capabilities"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
            "kind": {"type": "string", "description": "text_generation, embeddings or rerank."},
            "capabilities": {
                "type": "array",
                "items": {"type": "string"},
                "description": "e.g. chat.completions, completions.",
            },
            "max_model_len": {"type": "integer", "description": "The model's context length in tokens (vLLM's name)."},
            "context_length": {"type": "integer", "description": "The same, under OpenRouter's name."},
            "architecture": {
                "type": "object",
                "description": "OpenRouter's shape: what the model takes and gives.",
                "properties": {
                    "modality": {"type": "string", "description": "e.g. text->text."},
                    "input_modalities": {"type": "array", "items": {"type": "string"}},
                    "output_modalities": {"type": "array", "items": {"type": "string"}},
                },
            },
            "tool_parser": {"type": ["string", "null"], "description": "LLMs: how tool calls are read (null: off)."},
            "reasoning_parser": {"type": ["string", "null"], "description": "LLMs: how reasoning is read (null: off)."},
        },
    }
    return {
        "Usage": usage,
        "ChatCompletion": completion(
            "chat.completion",
            {
                "message": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"const": "assistant"},
                        "content": {"type": ["string", "null"]},
                        "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
                    },
                }
            },
        ),
        "TextCompletion": completion("text_completion", {"text": {"type": "string"}}),
        "EventStream": {
            "type": "string",
            "description": 'Server-sent events (with "stream": true): `data: {chunk}` lines, each chunk a '
            "chat.completion.chunk (chat) or text_completion (completions) object, then `data: [DONE]`. "
            'An error after the headers were sent arrives as `data: {"error": ...}` before [DONE].',
        },
        "Model": model_card,
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Model")}},
        },
        "Tokens": {
            "type": "object",
            "required": ["model", "tokens", "count"],
            "properties": {
                "model": {"type": "string"},
                "tokens": {"type": "array", "items": {"type": "integer"}},
                "count": {"type": "integer", "minimum": 0},
                "max_model_len": {"type": ["integer", "null"]},
            },
        },
        "Detokenized": {
            "type": "object",
            "required": ["model", "prompt"],
            "properties": {"model": {"type": "string"}, "prompt": {"type": "string"}},
        },
        "TokenizerInfo": {
            "type": "object",
            "required": ["model", "tokenizer_class", "chat_template"],
            "description": "vLLM's /tokenizer_info: the tokenizer_config.json facts a client needs to tokenize as the server does.",
            "properties": {
                "model": {"type": "string"},
                "tokenizer_class": {"type": "string"},
                "model_max_length": {"type": "integer"},
                "bos_token": {"type": "string"},
                "bos_token_id": {"type": "integer"},
                "eos_token": {"type": "string"},
                "eos_token_id": {"type": "integer"},
                "chat_template": {"type": "string", "description": "The template the server renders chats with."},
            },
        },
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
        "Embeddings": {
            "type": "object",
            "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["object", "index", "embedding"],
                        "properties": {
                            "object": {"const": "embedding"},
                            "index": {"type": "integer", "minimum": 0},
                            "embedding": {
                                "type": ["array", "string"],
                                "items": {"type": "number"},
                                "description": "Numbers, or base64 of little-endian float32.",
                            },
                        },
                    },
                },
                "model": {"type": "string"},
                "usage": {
                    "type": "object",
                    "required": ["prompt_tokens", "total_tokens"],
                    "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}},
                },
            },
        },
        "Rerank": {
            "type": "object",
            "required": ["id", "model", "results"],
            "properties": {
                "id": {"type": "string"},
                "model": {"type": "string"},
                "results": {
                    "type": "array",
                    "description": "Best first.",
                    "items": {
                        "type": "object",
                        "required": ["index", "relevance_score"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "relevance_score": {"type": "number"},
                            "document": {"type": "object", "description": "With return_documents."},
                        },
                    },
                },
            },
        },
        "Error": _error_schema(),
    }


def _model_id_schema(model_names):
    any_name = _ref("model")
    if not model_names:
        return any_name
    return {
        "description": "A served model's name (GET /v3/models lists them); any other name gives 404.",
        "anyOf": [{"type": "string", "enum": list(model_names)}, any_name],
    }


def _error_responses(statuses, secured):
    responses = {status: {"$ref": f"#/components/responses/{status}"} for status in statuses}
    if secured:
        responses["401"] = {"$ref": "#/components/responses/401"}
    return responses


def _json(schema_name):
    return {"application/json": {"schema": _ref(schema_name)}}


def _request_id_parameter():
    return {"$ref": "#/components/parameters/RequestId"}


def _post_operation(operation_id, summary, tag, request_name, response_name, secured, streams=True):
    if streams:
        ok = {
            "description": 'The answer: one JSON object, or server-sent events when "stream" is true.',
            "content": {**_json(response_name), "text/event-stream": {"schema": _ref("EventStream")}},
        }
        statuses = ERROR_STATUSES
    else:
        ok = {"description": "OK.", "content": _json(response_name)}
        statuses = [status for status in ERROR_STATUSES if status != "408"]
    ok["headers"] = {"x-request-id": {"$ref": "#/components/headers/RequestId"}}
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [_request_id_parameter()],
        "requestBody": {"required": True, "content": _json(request_name)},
        "responses": {"200": ok, **_error_responses(statuses, secured)},
    }


def _get_operation(operation_id, summary, tag, response_name, statuses, secured, parameters=(), ok="OK."):
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [*parameters, _request_id_parameter()],
        "responses": {"200": {"description": ok, "content": _json(response_name)}},
    }
    operation["responses"].update(_error_responses(statuses, secured))
    return operation


def _model_id_parameter(description):
    return {"name": "model_id", "in": "path", "required": True, "description": description, "schema": _ref("ModelId")}


def _add_root_token_routes(paths, schemas, secured):
    """vLLM's root routes: /tokenize and /detokenize take a body without `model` (the default model)."""
    for name in ("TokenizeRequest", "DetokenizeRequest"):
        optional_model = copy.deepcopy(schemas[name])
        optional_model["required"] = [field for field in optional_model["required"] if field != "model"]
        schemas[f"Root{name}"] = optional_model
    for path, operation_id, request, response in (
        ("/tokenize", "tokenizeDefaultModel", "RootTokenizeRequest", "Tokens"),
        ("/detokenize", "detokenizeDefaultModel", "RootDetokenizeRequest", "Detokenized"),
    ):
        summary = f"{path} as vLLM serves it; without `model`, the first model that tokenizes"
        paths[path] = {"post": _post_operation(operation_id, summary, "tokens", request, response, secured, False)}
    model = {"name": "model", "in": "query", "required": False, "schema": _ref("ModelId")}
    paths["/tokenizer_info"] = {
        "get": _get_operation(
            "tokenizerInfo",
            "vLLM's tokenizer facts of a model (default: the first that tokenizes)",
            "tokens",
            "TokenizerInfo",
            ("400", "404", "503"),
            secured,
            [model],
        )
    }
    if secured:  # they need the key, as the API routes do
        for path in ("/tokenize", "/detokenize", "/tokenizer_info"):
            for operation in paths[path].values():
                operation["security"] = [{"apiKey": []}]


def _add_anthropic_routes(paths, schemas, prefix, secured):
    """Anthropic's Messages API: its answers, and its own error object and statuses (529: overloaded)."""
    error = {
        "title": "Anthropic error object",
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string", "description": "e.g. invalid_request_error, not_found_error."},
                    "message": {"type": "string", "description": "What went wrong, naming the field."},
                },
            },
        },
    }
    schemas["AnthropicError"] = error
    schemas["AnthropicMessage"] = {
        "type": "object",
        "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
        "description": "Anthropic's Message: content blocks (thinking, text, tool_use), stop_reason, usage. With "
        '"stream": true, Anthropic\'s named events: message_start, ping, content_block_start/delta/stop, '
        "message_delta, message_stop (an `error` event ends a failed stream).",
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "model": {"type": "string"},
            "content": {"type": "array", "items": {"type": "object"}},
            "stop_reason": {"enum": ["end_turn", "max_tokens", "stop_sequence", "tool_use"]},
            "stop_sequence": {"type": ["string", "null"]},
            "usage": {"type": "object"},
        },
    }
    schemas["InputTokens"] = {
        "type": "object",
        "required": ["input_tokens"],
        "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
    }
    statuses = {**ERROR_STATUSES, "529": "Overloaded: at capacity (see Retry-After)."}
    statuses["503"] = "The model is loading or restarting, or the server is draining."
    if secured:
        statuses["401"] = "Missing or incorrect API key (Authorization: Bearer, or x-api-key)."
    errors = {status: {"description": text, "content": _json("AnthropicError")} for status, text in statuses.items()}
    for path, operation_id, summary, request, response, streams in (
        (
            "messages",
            "createMessage",
            "Anthropic Messages (unary or streamed)",
            "AnthropicMessagesRequest",
            "AnthropicMessage",
            True,
        ),
        (
            "messages/count_tokens",
            "countMessageTokens",
            "Anthropic's token count of a Messages request",
            "AnthropicCountTokensRequest",
            "InputTokens",
            False,
        ),
    ):
        operation = _post_operation(operation_id, summary, "anthropic", request, response, secured, streams)
        operation["responses"] = {"200": operation["responses"]["200"], **errors}
        if secured:
            operation["security"] = [{"apiKey": []}]
        paths[f"{prefix}/{path}"] = {"post": operation}


def _add_responses_routes(paths, schemas, prefix, secured):
    """OpenAI's Responses API: create (unary or typed events), and the stored responses."""
    item = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
    }
    schemas["Response"] = {
        "type": "object",
        "required": ["id", "object", "created_at", "status", "model", "output", "usage"],
        "description": 'OpenAI\'s response object. With "stream": true, typed events (`event: <type>`, `data` with '
        "`type` and `sequence_number`): response.created, response.in_progress, response.output_item.added, "
        "response.content_part.added, response.output_text.delta/.done, response.reasoning_text.delta/.done, "
        "response.function_call_arguments.delta/.done, response.content_part.done, response.output_item.done, then "
        "response.completed or response.incomplete (after an error: `error`, then response.failed).",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "status": {"enum": ["completed", "incomplete", "in_progress", "failed"]},
            "incomplete_details": {"type": ["object", "null"]},
            "model": {"type": "string"},
            "output": {"type": "array", "items": item, "description": "reasoning, message and function_call items."},
            "usage": {"type": ["object", "null"]},
            "previous_response_id": {"type": ["string", "null"]},
            "store": {"type": "boolean"},
        },
    }
    schemas["ResponseDeleted"] = {
        "type": "object",
        "required": ["id", "object", "deleted"],
        "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
    }
    schemas["ResponseInputItems"] = {
        "type": "object",
        "required": ["object", "data", "first_id", "last_id", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "first_id": {"type": ["string", "null"]},
            "last_id": {"type": ["string", "null"]},
            "has_more": {"type": "boolean"},
        },
    }
    response_id = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    page = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"]}},
        {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    create = _post_operation(
        "createResponse", "OpenAI Responses (unary or streamed)", "generation", "ResponsesRequest", "Response", secured
    )
    create["responses"]["404"] = {"$ref": "#/components/responses/404"}  # also: an unknown previous_response_id
    stored = ("404",)
    paths[f"{prefix}/responses"] = {"post": create}
    paths[prefix + "/responses/{response_id}"] = {
        "get": _get_operation(
            "getResponse", "A stored response", "responses", "Response", stored, secured, [response_id]
        ),
        "delete": _get_operation(
            "deleteResponse", "Delete a stored response", "responses", "ResponseDeleted", stored, secured, [response_id]
        ),
    }
    paths[prefix + "/responses/{response_id}/input_items"] = {
        "get": _get_operation(
            "listResponseInputItems",
            "The conversation items before a stored response's output",
            "responses",
            "ResponseInputItems",
            ("400", "404"),
            secured,
            [response_id, *page],
        )
    }


def build_openapi(model_names=(), *, prefix="/v3", secured=False, servers=None):
    """The OpenAPI 3.1 document (a dict) of the server's routes under `prefix` (/v3 or /v1).

    `model_names`: the served models (the `model` field and `{model_id}` offer them as an enum).
    `secured`: the API routes need `Authorization: Bearer KEY` (documented as a security scheme; the
    /v2 health routes stay open). `servers`: the servers list; by default the server the document is
    fetched from.
    """
    schemas = {}
    for def_name, definition in SCHEMAS[COMMON_FILE]["$defs"].items():
        schemas[_component_name(COMMON_FILE, def_name)] = _rewrite_refs(definition, COMMON_FILE)
    for file, component in REQUEST_SCHEMAS.items():
        if file not in SCHEMAS:
            continue
        source = SCHEMAS[file]
        for def_name, definition in source.get("$defs", {}).items():
            schemas[_component_name(file, def_name)] = _rewrite_refs(definition, file)
        request = _rewrite_refs(source, file)
        request["properties"]["model"] = _ref("ModelId")
        schemas[component] = request
    schemas["ModelId"] = _model_id_schema(model_names)
    schemas.update(_response_schemas())

    responses = {
        status: {"description": description, "content": _json("Error")}
        for status, description in ERROR_STATUSES.items()
    }
    responses["503"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before retrying (when overloaded).",
            "schema": {"type": "integer"},
        }
    }
    if secured:
        responses["401"] = {"description": "Missing or incorrect API key.", "content": _json("Error")}

    paths = {
        f"{prefix}/chat/completions": {
            "post": _post_operation(
                "createChatCompletion",
                "Chat completion (unary or streamed)",
                "generation",
                "ChatCompletionRequest",
                "ChatCompletion",
                secured,
            )
        },
        f"{prefix}/completions": {
            "post": _post_operation(
                "createCompletion",
                "Text completion (unary or streamed)",
                "generation",
                "CompletionRequest",
                "TextCompletion",
                secured,
            )
        },
        f"{prefix}/models": {
            "get": _get_operation("listModels", "The served models", "models", "ModelList", (), secured)
        },
        f"{prefix}/models/{{model_id}}": {
            "get": _get_operation(
                "retrieveModel",
                "One served model",
                "models",
                "Model",
                ("404",),
                secured,
                [_model_id_parameter("The model's name; it may contain '/'.")],
            )
        },
        "/v2/health/live": {
            "get": _get_operation("live", "Liveness: the HTTP server answers", "health", "Live", (), False)
        },
        "/v2/health/ready": {
            "get": _get_operation(
                "ready", "Readiness: every model loaded and not draining", "health", "Ready", (), False, ok="Ready."
            )
        },
        "/v2/models/{model_id}/ready": {
            "get": _get_operation(
                "modelReady",
                "Readiness of one model",
                "health",
                "ModelReady",
                ("404",),
                False,
                [_model_id_parameter("The model's name; it may contain '/'.")],
                ok="The model is ready.",
            )
        },
        "/v2/models/{model_id}/stats": {
            "get": _get_operation(
                "modelStats",
                "Live counters of one model's nodes",
                "health",
                "ModelStats",
                ("404",),
                False,
                [_model_id_parameter("The model's name; it may contain '/'.")],
            )
        },
    }
    if "tokenize.json" in SCHEMAS and "detokenize.json" in SCHEMAS:
        paths[f"{prefix}/tokenize"] = {
            "post": _post_operation(
                "tokenize",
                "Token ids of a prompt or of chat messages (as the model would see them)",
                "tokens",
                "TokenizeRequest",
                "Tokens",
                secured,
                streams=False,
            )
        }
        paths[f"{prefix}/detokenize"] = {
            "post": _post_operation(
                "detokenize",
                "The text of token ids",
                "tokens",
                "DetokenizeRequest",
                "Detokenized",
                secured,
                streams=False,
            )
        }
    if "embeddings.json" in SCHEMAS and "rerank.json" in SCHEMAS:
        paths[f"{prefix}/embeddings"] = {
            "post": _post_operation(
                "createEmbeddings",
                "Embedding vectors of texts or token ids",
                "retrieval",
                "EmbeddingsRequest",
                "Embeddings",
                secured,
                streams=False,
            )
        }
        paths[f"{prefix}/rerank"] = {
            "post": _post_operation(
                "rerank",
                "Documents scored against a query (Cohere's shape)",
                "retrieval",
                "RerankRequest",
                "Rerank",
                secured,
                streams=False,
            )
        }
    if f"{prefix}/tokenize" in paths:
        _add_root_token_routes(paths, schemas, secured)
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "summary": "vLLM's probe: 200 (empty body) when every model is loaded and not draining, else 503",
            "tags": ["health"],
            "responses": {"200": {"description": "Ready."}, "503": {"description": "Not ready."}},
        }
    }
    if "messages.json" in SCHEMAS and "count_tokens.json" in SCHEMAS:
        _add_anthropic_routes(paths, schemas, prefix, secured)
    if "responses.json" in SCHEMAS:
        _add_responses_routes(paths, schemas, prefix, secured)
    # Not ready: 503 with the same body shape as 200.
    paths["/v2/health/ready"]["get"]["responses"]["503"] = {"description": "Not ready.", "content": _json("Ready")}
    paths["/v2/models/{model_id}/ready"]["get"]["responses"]["503"] = {
        "description": "The model is loading or restarting.",
        "content": _json("ModelReady"),
    }

    components = {
        "schemas": schemas,
        "responses": responses,
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
    document = {
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
        "tags": [
            {"name": "generation"},
            {"name": "retrieval"},
            {"name": "tokens"},
            {"name": "models"},
            {"name": "health"},
            {"name": "anthropic"},
            {"name": "responses"},
        ],
        "paths": paths,
        "components": components,
    }
    if secured:
        components["securitySchemes"] = {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "Authorization: Bearer YOUR_KEY (API routes only).",
            }
        }
        for path, item in paths.items():
            if path.startswith(prefix + "/"):
                for operation in item.values():
                    operation["security"] = [{"apiKey": []}]
    return document
