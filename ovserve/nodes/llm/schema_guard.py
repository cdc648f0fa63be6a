"""What a JSON schema for structured output may be and cost, checked in the worker before the engine sees it.

Why here (measured on openvino_genai 2026.4.1, see docs/operations.md): the engine compiles a schema into a
grammar inside `ContinuousBatchingPipeline.step()`. A schema its converter rejects (`{"type": 5}`, a bad
regex, a dangling `$ref`) raises from the step and leaves the pipeline unable to step again until every
request is cancelled; and compiling runs in the engine's only thread, so an expensive schema stalls every
stream: 500 optional properties took 1.8 s, 2,000 took 46 s; a string of `minLength` 1000 0.6 s; an
object 64 deep 0.2 s (300 deep: 10-17 s); 5,000 enum values 0.27 s. Under the default limits below each
shape compiles in well under half a second, and the engine compiles one new schema per step.
"""

import json
import re
from dataclasses import dataclass

import jsonschema

from ovserve.errors import InvalidRequest

# Keywords whose value is a count that the grammar spells out (a string of minLength n is n repetitions).
_REPETITION_KEYWORDS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SCHEMA_KEYWORDS = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_REGEX_COUNT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


@dataclass(frozen=True)
class SchemaLimits:
    """Bounds on one schema (node option `structured_output_limits`); see the module docstring for the costs."""

    max_bytes: int = 65536
    max_depth: int = 32
    max_nodes: int = 2048
    max_properties: int = 128
    max_enum_values: int = 2048
    max_repetition: int = 256
    max_pattern_length: int = 512

    @classmethod
    def from_options(cls, limits):
        return cls(**{name: limits[name] for name in cls.__dataclass_fields__ if name in limits})


def check_schema(schema, param, limits=SchemaLimits()):
    """Raise InvalidRequest naming `param` (and the place inside the schema) unless `schema` is a valid JSON
    Schema within `limits`, whose every `$ref` points inside it."""
    size = len(json.dumps(schema))
    if size > limits.max_bytes:
        _refuse(
            param, "", f"the schema is {size} bytes; this model accepts at most {limits.max_bytes}", "schema_too_large"
        )
    if not isinstance(schema, (dict, bool)):
        _refuse(param, "", "a JSON schema must be an object (or true/false)")
    # Bounds first: the meta-schema check itself recurses as deep as the schema goes.
    _Walk(schema, param, limits).run()
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        _refuse(param, _pointer(exc.absolute_path), f"not a valid JSON Schema: {exc.message}")


def _of_type(value, kind):
    """`value` if it is of `kind`, else that kind's empty value (bool is no count)."""
    return value if isinstance(value, kind) and not isinstance(value, bool) else kind()


def _pointer(path):
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def _refuse(param, where, problem, code="invalid_schema"):
    raise InvalidRequest(f"{param}{where}: {problem}.", param=f"{param}{where}", code=code)


class _Walk:
    """One pass over the schema: depth, size, counts and references. It runs before the meta-schema check,
    so it skips values of the wrong type (which that check then names)."""

    def __init__(self, root, param, limits):
        self.root = root
        self.param = param
        self.limits = limits
        self.nodes = 0
        self.enum_values = 0

    def run(self):
        self._visit(self.root, "", 1)

    def _visit(self, schema, where, depth):
        if not isinstance(schema, dict):
            return  # true / false
        limits = self.limits
        self.nodes += 1
        if depth > limits.max_depth:
            _refuse(
                self.param,
                where,
                f"the schema is nested more than {limits.max_depth} levels deep",
                "schema_too_complex",
            )
        if self.nodes > limits.max_nodes:
            _refuse(self.param, where, f"the schema has more than {limits.max_nodes} subschemas", "schema_too_complex")
        self._check_counts(schema, where)
        if "$ref" in schema:
            self._resolve(schema["$ref"], f"{where}.$ref")
        for keyword in _SCHEMA_KEYWORDS:
            if keyword in schema:
                self._visit(schema[keyword], f"{where}.{keyword}", depth + 1)
        for keyword in _SCHEMA_LIST_KEYWORDS:
            for index, item in enumerate(_of_type(schema.get(keyword), list)):
                self._visit(item, f"{where}.{keyword}[{index}]", depth + 1)
        for keyword in _SCHEMA_MAP_KEYWORDS:
            for name, item in _of_type(schema.get(keyword), dict).items():
                self._visit(item, f"{where}.{keyword}.{name}", depth + 1)

    def _check_counts(self, schema, where):
        limits = self.limits
        properties = len(_of_type(schema.get("properties"), dict))
        if properties > limits.max_properties:
            _refuse(
                self.param,
                f"{where}.properties",
                f"{properties} properties; this model accepts at most {limits.max_properties} per object",
                "schema_too_complex",
            )
        self.enum_values += len(_of_type(schema.get("enum"), list))
        if self.enum_values > limits.max_enum_values:
            _refuse(
                self.param,
                f"{where}.enum",
                f"more than {limits.max_enum_values} enum values in the schema",
                "schema_too_complex",
            )
        for keyword in _REPETITION_KEYWORDS:
            if _of_type(schema.get(keyword), int) > limits.max_repetition:
                _refuse(
                    self.param,
                    f"{where}.{keyword}",
                    f"{schema[keyword]} is above this model's limit of {limits.max_repetition}",
                    "schema_too_complex",
                )
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            self._check_pattern(pattern, f"{where}.pattern")

    def _check_pattern(self, pattern, where):
        limits = self.limits
        if len(pattern) > limits.max_pattern_length:
            _refuse(
                self.param,
                where,
                f"the pattern is {len(pattern)} characters; this model accepts at most {limits.max_pattern_length}",
                "schema_too_complex",
            )
        for match in _REGEX_COUNT.finditer(pattern):
            count = max(int(match.group(1)), int(match.group(2) or 0))
            if count > limits.max_repetition:
                _refuse(
                    self.param,
                    where,
                    f"the repetition {match.group(0)} is above this model's limit of {limits.max_repetition}",
                    "schema_too_complex",
                )

    def _resolve(self, reference, where):
        if not isinstance(reference, str):
            return  # the meta-schema check names it
        if not reference.startswith("#"):
            _refuse(self.param, where, f"only references inside the schema ('#/...') are supported, not {reference!r}")
        target = self.root
        for token in filter(None, reference[1:].split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                _refuse(self.param, where, f"the reference {reference!r} points to nothing in the schema")
