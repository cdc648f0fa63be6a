"""components/schemas: pointers into it, and the packaged request schemas placed in it.

The request bodies come from `ovserve/protocol/schemas` (the same files the server validates
against), so the document can't drift from what the server accepts. Their `$ref`s into
`common.json` are rewritten to point into `components/schemas`, and `$id`/`$schema` are dropped, so
the document is self-contained: every `$ref` in it is a local `#/components/...` pointer.
"""

from ovserve.protocol.validation import SCHEMAS

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
    "images.json": "ImageGenerationRequest",
    "audio_transcriptions.json": "AudioTranscriptionFields",
    "audio_speech.json": "AudioSpeechRequest",
}


def ref(name):
    return {"$ref": COMPONENTS + name}


def json_content(schema_name):
    """A `content` map: a JSON body of the named component schema."""
    return {"application/json": {"schema": ref(schema_name)}}


def request_schemas(model_names):
    """The request bodies, their `$defs` and common.json's, as components/schemas entries.

    Every request's `model` becomes `ModelId`: the served `model_names` as an enum alternative, so
    generated clients and fuzzers (schemathesis) pick real model names as well as arbitrary strings.
    """
    schemas = {}
    for def_name, definition in SCHEMAS[COMMON_FILE]["$defs"].items():
        schemas[_component_name(COMMON_FILE, def_name)] = _rewrite_refs(definition, COMMON_FILE)
    for file, component in REQUEST_SCHEMAS.items():
        source = SCHEMAS[file]
        for def_name, definition in source.get("$defs", {}).items():
            schemas[_component_name(file, def_name)] = _rewrite_refs(definition, file)
        request = _rewrite_refs(source, file)
        request["properties"]["model"] = ref("ModelId")
        schemas[component] = request
    schemas["ModelId"] = _model_id_schema(model_names)
    return schemas


def _model_id_schema(model_names):
    any_name = ref("model")
    if not model_names:
        return any_name
    return {
        "description": "A served model's name (GET /v3/models lists them); any other name gives 404.",
        "anyOf": [{"type": "string", "enum": list(model_names)}, any_name],
    }


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
