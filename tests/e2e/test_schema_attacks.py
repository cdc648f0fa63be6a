"""Issue 10 §1-2: schemas that used to crash the engine (a grammar its compiler rejects) or stall every
stream (seconds of grammar compilation in the engine's only thread) are a 400 naming the field, and the
stream running beside them goes on, on the same engine process."""

import json
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.unit.test_schema_guard import COSTLY

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "unit" / "schemas"
BREAKING = json.loads((SCHEMAS / "engine_breaking.json").read_text())
QUESTION = [{"role": "user", "content": "Describe a city."}]


def response_format(schema):
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


def engine_stats(http, base_url):
    return http.get(f"{base_url}/v2/models/{DEFAULT_MODEL}/stats").json()["nodes"]["llm"]["engine"]


def test_schema_attacks_get_400_while_a_stream_goes_on(server, client, http, base_url):
    engine = server.engine_pid(f"{DEFAULT_MODEL}/llm")
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=QUESTION,
        max_tokens=200,
        stream=True,
        extra_body={"ignore_eos": True},
        stream_options={"include_usage": True},
    )
    chunks = iter(stream)
    next(chunks)
    attacks = [(case["schema"], case["param"]) for case in BREAKING]
    attacks += [(schema, "response_format.json_schema.schema") for schema, _ in COSTLY.values()]
    for schema, param in attacks:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4, response_format=response_format(schema)
            )
        assert caught.value.body["param"].startswith(param), caught.value.body
    rest = list(chunks)
    assert rest[-1].usage.completion_tokens == 200
    assert server.engine_pid(f"{DEFAULT_MODEL}/llm") == engine
    assert engine_stats(http, base_url)["failed_steps"] == 0  # none of them reached a step


def test_invalid_tool_parameters_with_a_forced_tool_choice_are_a_400(client):
    tools = [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "foo"}}}},
        }
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4, tools=tools, tool_choice="required"
        )
    assert caught.value.body["param"] == "tools[0].function.parameters.properties.x.type"


def test_a_valid_schema_still_constrains_the_output(client):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
        "additionalProperties": False,
    }
    result = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=60, temperature=0, response_format=response_format(schema)
    )
    assert result.choices[0].finish_reason == "stop", result.choices[0].message.content
    assert set(json.loads(result.choices[0].message.content)) == {"city"}
