"""Request bodies validated against the packaged JSON Schemas, compiled once at import."""

import json
from importlib import resources

import jsonschema
from referencing import Registry, Resource

from ovserve.errors import InvalidRequest

_SCHEMA_FILES = (
    "common.json",
    "chat_completions.json",
    "completions.json",
    "tokenize.json",
    "detokenize.json",
    "embeddings.json",
    "rerank.json",
    "messages.json",
    "count_tokens.json",
    "responses.json",
    "images.json",
    "audio_transcriptions.json",
    "audio_speech.json",
)


def _load(name):
    return json.loads(resources.files("ovserve.protocol").joinpath("schemas", name).read_text())


SCHEMAS = {name: _load(name) for name in _SCHEMA_FILES}
_REGISTRY = Registry().with_resources((schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values())
_REGISTRY = _REGISTRY.with_resources((name, Resource.from_contents(schema)) for name, schema in SCHEMAS.items())


def _is_integer(checker, instance):
    # JSON Schema calls 4.0 an integer; the engine's int arguments don't, and neither does OpenAI.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _validator(name):
    schema = SCHEMAS[name]
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    strict = jsonschema.validators.extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer))
    return strict(schema, registry=_REGISTRY)


VALIDATORS = {
    name: _validator(f"{name}.json")
    for name in (
        "chat_completions",
        "completions",
        "tokenize",
        "detokenize",
        "embeddings",
        "rerank",
        "messages",
        "count_tokens",
        "responses",
        "images",
        "audio_transcriptions",
        "audio_speech",
    )
}


def parameter_name(path):
    """['messages', 0, 'role'] -> 'messages[0].role' (OpenAI's `param`)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def _message(error, param):
    if error.validator == "required":
        return f"'{param}' is required."
    where = f"'{param}'" if param else "The request body"
    if error.validator == "type":
        expected = (
            error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        )
        return f"{where} must be of type {expected}, got {json.dumps(error.instance)[:100]}"
    if error.validator == "oneOf":
        expected = error.schema.get("description")
        return f"{where} has an invalid value {json.dumps(error.instance)[:100]}" + (
            f". Expected: {expected}" if expected else ""
        )
    return f"{where}: {error.message}"


def validate_body(kind, body):
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    error = jsonschema.exceptions.best_match(VALIDATORS[kind].iter_errors(body))
    if error is not None:
        path = list(error.absolute_path)
        if error.validator == "required":  # name the missing field itself, as OpenAI does
            missing = [name for name in error.validator_value if name not in error.instance]
            path.append(missing[0] if missing else "")
        param = parameter_name(path)
        raise InvalidRequest(_message(error, param), param=param, code="invalid_value" if param else None)
