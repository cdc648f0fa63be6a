"""ovserve.nodes.llm.parsers: detection from real chat templates, forced tool-call formats read back by
their family's parser, streamed arguments, special tokens, and no OpenVINO in the import."""

import json
import re
import subprocess
import sys

import pytest

from ovserve.nodes.llm.parsers import (
    REASONING_PARSERS,
    TOOL_PARSERS,
    detect_parsers,
    forced_format,
    keeps_special_tokens,
    new_output_parser,
)
from tests.unit.conftest import load_fixture, read_fixture
from tests.unit.test_output_parsers import parse

TOOLS = load_fixture("model_outputs", "tools.json")
EXAMPLE_ARGUMENTS = {"get_weather": {"city": "Paris", "days": 2}, "search": {"query": "q"}}

TEMPLATES = {
    "qwen3.jinja": ("hermes", "qwen3"),
    "hermes.jinja": ("hermes", None),
    "llama3_1_json.jinja": ("llama3_json", None),
    "llama3_2_pythonic.jinja": ("pythonic", None),
    "mistral_7b_v03.jinja": ("mistral", None),
    "qwen3_coder.jinja": ("qwen3_coder", None),
    "gpt_oss.jinja": ("harmony", "harmony"),
    "phi4_mini.jinja": ("phi4", None),
    "deepseek_r1.jinja": (None, "deepseek_r1"),
    "phi4_reasoning.jinja": (None, "phi4_reasoning"),
}


@pytest.mark.parametrize("template, expected", TEMPLATES.items())
def test_each_family_template_is_detected(template, expected):
    assert detect_parsers(read_fixture("chat_templates", "families", template)) == expected


def test_a_template_without_tool_or_reasoning_syntax_detects_nothing():
    assert detect_parsers(read_fixture("chat_templates", "smollm2_chatml.jinja")) == (None, None)
    assert detect_parsers("") == (None, None)


# What the structured-output spec may hold (the engine builds openvino_genai.StructuredOutputConfig from it).
SPEC_KEYS = {"json_schema", "regex", "const", "any_text", "concat", "union", "tag", "tags_with_separator",
             "triggered_tags", "qwen_xml_parameters"}  # fmt: skip
TAG_KEYS = {"begin", "content", "end"}


def check_spec(spec):
    assert isinstance(spec, dict) and len(spec) == 1 and set(spec) <= SPEC_KEYS, spec
    ((kind, value),) = spec.items()
    if kind in ("concat", "union"):
        assert isinstance(value, list) and value
        for item in value:
            check_spec(item)
    elif kind == "tag":
        check_tag(value)
    elif kind in ("tags_with_separator", "triggered_tags"):
        assert set(value) == {
            "tags",
            "separator" if kind == "tags_with_separator" else "triggers",
            "at_least_one",
            "stop_after_first",
        }
        for tag in value["tags"]:
            check_tag(tag)
    elif kind in ("json_schema", "qwen_xml_parameters"):
        assert isinstance(value, dict)
    elif kind in ("regex", "const"):
        assert isinstance(value, str)
    json.dumps(spec)


def check_tag(tag):
    assert set(tag) == TAG_KEYS and isinstance(tag["begin"], str) and isinstance(tag["end"], str)
    check_spec(tag["content"])


def realise(spec, pick):
    """A text the spec allows: the first `pick` tags of a sequence, each tool's example arguments."""
    ((kind, value),) = spec.items()
    if kind == "const":
        return value
    if kind == "concat":
        return "".join(realise(item, pick) for item in value)
    if kind == "tag":
        return realise_tag(value)
    if kind == "tags_with_separator":
        return value["separator"].join(realise_tag(tag) for tag in value["tags"][:pick])
    raise AssertionError(f"no realisation for {kind}")


def realise_tag(tag):
    name = next(name for name in EXAMPLE_ARGUMENTS if name in tag["begin"])
    arguments = EXAMPLE_ARGUMENTS[name]
    if "qwen_xml_parameters" in tag["content"]:
        body = "".join(f"<parameter={key}>\n{value}\n</parameter>\n" for key, value in arguments.items())
    else:
        body = json.dumps(arguments)
    return tag["begin"] + body + tag["end"]


def read_back(family, text, parallel=True):
    parser = new_output_parser(
        family,
        "harmony" if family == "harmony" else None,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=parallel,
    )
    content, _, calls = parse(parser, list(text))
    return content, [(name, json.loads(arguments)) for name, arguments in calls]


@pytest.mark.parametrize("family", sorted(TOOL_PARSERS))
def test_forced_format_of_a_named_function_is_well_formed_and_read_back(family):
    spec = forced_format(family, TOOLS, name="get_weather")
    check_spec(spec)
    text = '[get_weather(city="Paris", days=2)]' if family == "pythonic" else realise(spec, 1)
    if family == "pythonic":
        assert re.fullmatch(spec["regex"], text)
    assert read_back(family, text) == ("", [("get_weather", EXAMPLE_ARGUMENTS["get_weather"])])


@pytest.mark.parametrize("family", sorted(TOOL_PARSERS))
def test_forced_format_of_any_tool_allows_several_calls_only_when_parallel(family):
    parallel, single = forced_format(family, TOOLS), forced_format(family, TOOLS, parallel_tool_calls=False)
    check_spec(parallel)
    check_spec(single)
    if family == "pythonic":
        text = '[get_weather(city="Paris", days=2), search(query="q")]'
        assert re.fullmatch(parallel["regex"], text) and not re.fullmatch(single["regex"], text)
    else:
        text = realise(parallel, 2)
        # one call: stop after the first, or (the JSON-list families) a union of one call per tool
        assert json.dumps(single).count('"stop_after_first": true') == 1 or '"union"' in json.dumps(single)
    expected = [("get_weather", EXAMPLE_ARGUMENTS["get_weather"]), ("search", EXAMPLE_ARGUMENTS["search"])]
    assert read_back(family, text) == ("", expected)


@pytest.mark.parametrize(
    "family, output",
    [
        ("hermes", '<tool_call>\n{"name": "search", "arguments": {"query": "long query text"}}\n</tool_call>'),
        ("llama3_json", '{"name": "search", "parameters": {"query": "long query text"}}'),
        ("mistral", '[TOOL_CALLS]search[ARGS]{"query": "long query text"}'),
        ("phi4", 'functools[{"name": "search", "arguments": {"query": "long query text"}}]'),
        ("json", '{"name": "search", "arguments": {"query": "long query text"}}'),
        (
            "harmony",
            '<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"query": "long query text"}<|call|>',
        ),
        (
            "qwen3_coder",
            "<tool_call>\n<function=search>\n<parameter=query>\nq\n</parameter>\n<parameter=exact>\nfalse\n</parameter>\n</function>\n</tool_call>",
        ),
    ],
)
def test_arguments_stream_as_they_are_generated(family, output):
    parser = new_output_parser(family, None, tools=TOOLS)
    fragments = [delta.arguments for chunk in output for delta in parser.feed(chunk).calls if delta.arguments]
    fragments += [delta.arguments for delta in parser.finish().calls if delta.arguments]
    assert len(fragments) > 1, "the arguments came in one piece at the end"
    json.loads("".join(fragments))


def test_no_tools_or_tool_choice_none_reads_no_calls():
    output = '<tool_call>{"name": "search", "arguments": {"query": "q"}}</tool_call>'
    for parser in (
        new_output_parser("hermes", None, tools=()),
        new_output_parser("hermes", None, tools=TOOLS, tool_choice="none"),
    ):
        assert parse(parser, [output]) == (output, "", [])


def test_in_reasoning_follows_the_think_tags():
    parser = new_output_parser(None, "qwen3")
    states = []
    for chunk in ["<think>", "a", "</think>", "b"]:
        parser.feed(chunk)
        states.append(parser.in_reasoning)
    assert states == [True, True, False, False]
    assert new_output_parser(None, "deepseek_r1", prompt_text="<｜Assistant｜><think>\n").in_reasoning


def test_special_tokens_are_kept_for_the_families_whose_markers_are_special_tokens():
    assert keeps_special_tokens("harmony", "harmony") and keeps_special_tokens(None, "harmony")
    assert keeps_special_tokens("mistral", None) and keeps_special_tokens("llama3_json", "qwen3")
    assert not keeps_special_tokens("hermes", "qwen3") and not keeps_special_tokens(None, None)


def test_every_parser_has_its_name():
    assert all(parser.name == name for table in (TOOL_PARSERS, REASONING_PARSERS) for name, parser in table.items())


def test_importing_the_parsers_loads_no_openvino():
    code = "import sys, ovserve.nodes.llm.parsers; print([m for m in sys.modules if m.startswith('openvino')])"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_a_forced_call_is_read_even_where_the_prompt_opened_think():
    parser = new_output_parser(
        "hermes", "deepseek_r1", tools=TOOLS, tool_choice="required", prompt_text="<｜Assistant｜><think>\n"
    )
    text = realise(forced_format("hermes", TOOLS, "search"), 1)
    assert parse(parser, [text]) == ("", "", [("search", '{"query": "q"}')])


def test_unknown_parser_names_are_refused():
    with pytest.raises(ValueError, match="unknown tool parser 'nope'"):
        new_output_parser("nope", None, tools=TOOLS)
    with pytest.raises(ValueError, match="unknown reasoning parser"):
        new_output_parser(None, "nope")
