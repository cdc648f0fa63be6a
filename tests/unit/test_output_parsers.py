"""ovserve.nodes.llm.parsers: every family's recorded outputs, parsed whole and split at every point.

Each fixture in tests/fixtures/unit/model_outputs/<family>.json lists outputs with the content, reasoning
and calls they must give. Every output is fed whole, one character at a time, and split into every
possible 2 and 3 pieces: all must give the same content, reasoning and calls."""

import itertools
import json

import pytest

from ovserve.nodes.llm.parsers import new_output_parser
from tests.unit.conftest import FIXTURES, load_fixture

FAMILIES = sorted(path.stem for path in (FIXTURES / "model_outputs").glob("*.json") if path.stem != "tools")
TOOLS = load_fixture("model_outputs", "tools.json")
DEFAULTS = {family: load_fixture("model_outputs", f"{family}.json") for family in FAMILIES}
CASES = [
    pytest.param(family, case, id=f"{family}-{case['name']}")
    for family in FAMILIES
    for case in DEFAULTS[family]["cases"]
]


def parser_for(family, case):
    defaults = DEFAULTS[family]
    return new_output_parser(
        case.get("tool_parser", defaults.get("tool_parser")),
        case.get("reasoning_parser", defaults.get("reasoning_parser")),
        tools=TOOLS,
        tool_choice=case.get("tool_choice", "auto"),
        parallel_tool_calls=case.get("parallel_tool_calls", True),
        prompt_text=case.get("prompt_text", ""),
        thinking=case.get("thinking"),
    )


def parse(parser, chunks):
    """(content, reasoning, [(name, arguments text)]) of feeding `chunks`, checking the deltas' shape."""
    pieces = [parser.feed(chunk) for chunk in chunks] + [parser.finish()]
    calls = []
    for delta in (delta for piece in pieces for delta in piece.calls):
        if delta.index == len(calls):
            assert delta.id and delta.name, "a call's first delta carries its id and name"
            calls.append([delta.name, delta.arguments])
        else:
            assert delta.index == len(calls) - 1 and delta.id is None and delta.name is None
            calls[-1][1] += delta.arguments
    return "".join(p.content for p in pieces), "".join(p.reasoning for p in pieces), [tuple(c) for c in calls]


def splits(text, pieces):
    for cuts in itertools.combinations(range(1, len(text)), pieces - 1):
        bounds = (0, *cuts, len(text))
        yield [text[a:b] for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("family, case", CASES)
def test_whole_output_gives_the_expected_content_reasoning_and_calls(family, case):
    content, reasoning, calls = parse(parser_for(family, case), [case["output"]])
    assert (content, reasoning) == (case["content"], case["reasoning"])
    assert [(name, json.loads(arguments)) for name, arguments in calls] == [tuple(call) for call in case["calls"]]


@pytest.mark.parametrize("family, case", CASES)
def test_every_chunking_gives_the_same_result(family, case):
    text = case["output"]
    whole = parse(parser_for(family, case), [text])
    assert parse(parser_for(family, case), list(text)) == whole, "one character at a time"
    for count in (2, 3):
        for chunks in splits(text, count):
            assert parse(parser_for(family, case), chunks) == whole, chunks


OTHER_FAMILIES_OUTPUTS = [case.values[1]["output"] for case in CASES]


@pytest.mark.parametrize(
    "tool_parser", ["hermes", "llama3_json", "pythonic", "mistral", "qwen3_coder", "harmony", "phi4", "json"]
)
@pytest.mark.parametrize("reasoning_parser", [None, "qwen3"])
def test_any_family_output_through_any_parser_is_read_the_same_whole_or_by_character(tool_parser, reasoning_parser):
    # Other families' outputs (and their broken pieces) are what a misconfigured servable reads: never an
    # error, never a result that depends on how the text was chunked.
    for text in OTHER_FAMILIES_OUTPUTS + [text[: len(text) // 2] for text in OTHER_FAMILIES_OUTPUTS]:

        def fresh():
            return new_output_parser(tool_parser, reasoning_parser, tools=TOOLS)

        assert parse(fresh(), list(text)) == parse(fresh(), [text]), text
