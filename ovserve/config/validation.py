"""JSON Schema validation with messages that name the file, the JSON path and what was expected."""

import json
from functools import lru_cache
from importlib import resources

import jsonschema

from ovserve.config.documents import read_document
from ovserve.errors import ConfigError


def json_path(parts):
    """Render a jsonschema error path as `$.servables[0].name`."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


@lru_cache(maxsize=None)
def packaged_schema(name):
    text = resources.files("ovserve.config").joinpath("schemas", name).read_text()
    return json.loads(text)


def compile_validator(schema):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def describe_error(error):
    """A one-line statement of what was expected, for humans editing the file."""
    if error.validator == "additionalProperties":
        return error.message + " (remove it, or check its spelling)"
    if error.validator == "required":
        return error.message
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value!r}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return error.message


def validate_document(validator, document, file, prefix=()):
    """Raise ConfigError for the most relevant schema violation, if any."""
    errors = sorted(
        validator.iter_errors(document), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    raise ConfigError(file, json_path(list(prefix) + list(error.absolute_path)), describe_error(error))


def read_json_file(path, what):
    """A JSON or YAML configuration document (by its file name); see documents.py."""
    return read_document(path, what)
