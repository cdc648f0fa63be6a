"""Structured-output schemas are checked in the worker: what the engine's grammar compiler would choke
on, or take seconds over in the engine's only thread, is a 400 naming the place."""

import json
from pathlib import Path

import pytest

from ovserve.errors import InvalidRequest
from ovserve.nodes.llm.schema_guard import SchemaLimits, check_schema

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "unit" / "schemas"
PARAM = "response_format.json_schema.schema"


def nested_objects(depth):
    schema = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    return schema


def nested_arrays(depth):
    schema = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


def optional_properties(count):
    return {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(count)}}


# The attacks of issue 10 and their neighbours; compile times measured in the engine (schema_guard.py).
COSTLY = {
    "object nested 300 deep": (nested_objects(300), "schema_too_complex"),
    "array nested 800 deep": (nested_arrays(800), "schema_too_complex"),
    "50,000 enum values": ({"enum": [f"v{i}" for i in range(50000)]}, "schema_too_large"),
    "5,000 enum values": ({"enum": [f"v{i}" for i in range(5000)]}, "schema_too_complex"),
    "500 optional properties": (optional_properties(500), "schema_too_complex"),
    "string of minLength 1000": ({"type": "string", "minLength": 1000}, "schema_too_complex"),
    "a regex repeated 1000 times": ({"type": "string", "pattern": "a{1000}"}, "schema_too_complex"),
}


@pytest.mark.parametrize("case", json.loads((SCHEMAS / "engine_breaking.json").read_text()), ids=lambda c: c["name"])
def test_schemas_the_grammar_compiler_rejects_are_a_400_naming_the_place(case):
    with pytest.raises(InvalidRequest) as caught:
        check_schema(case["schema"], PARAM)
    assert caught.value.param == case["param"]
    assert caught.value.code == "invalid_schema"


@pytest.mark.parametrize("name", COSTLY)
def test_schemas_too_costly_to_compile_are_a_400(name):
    schema, code = COSTLY[name]
    with pytest.raises(InvalidRequest) as caught:
        check_schema(schema, PARAM)
    assert caught.value.code == code and caught.value.param.startswith(PARAM)


def test_the_place_inside_the_schema_is_named():
    schema = {"type": "object", "properties": {"city": {"type": "string", "pattern": "("}}}
    with pytest.raises(InvalidRequest) as caught:
        check_schema(schema, "tools[0].function.parameters")
    assert caught.value.param == "tools[0].function.parameters.properties.city.pattern"


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
            "required": ["name"],
        },
        {
            "$defs": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
            "type": "array",
            "items": {"$ref": "#/$defs/city"},
            "maxItems": 3,
        },
        {"type": "object", "properties": {"tree": {"$ref": "#"}}},  # recursive: fine, the grammar has rules
        nested_objects(30),
        optional_properties(128),
        {"type": "string", "pattern": "^[a-z]{1,50}$"},
        True,
    ],
)
def test_ordinary_schemas_pass(schema):
    check_schema(schema, PARAM)


def test_limits_come_from_the_node_option():
    limits = SchemaLimits.from_options({"max_depth": 4})
    assert limits.max_depth == 4
    with pytest.raises(InvalidRequest):
        check_schema(nested_objects(5), PARAM, limits)
    check_schema(nested_objects(3), PARAM, limits)


def test_a_schema_must_be_an_object():
    with pytest.raises(InvalidRequest) as caught:
        check_schema([1, 2], PARAM)
    assert caught.value.param == PARAM
