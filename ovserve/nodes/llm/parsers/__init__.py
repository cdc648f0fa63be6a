"""Reading what a model wrote: its reasoning, its answer and its tool calls, in each model family's format.

Pure text in, typed pieces out: no OpenVINO, no HTTP. One `OutputParser` per choice is fed the generated
text as it is decoded and answers `OutputPiece`s (content, reasoning, `ToolCallDelta`s); `finish()` flushes
what it held back. Every parser gives the same result for every chunking of the same text (the unit tests
split each recorded output at every point), holds back a marker split across chunks, gives a call of a
function that isn't a tool, or malformed call text, back as content, and keeps only the first call when
parallel_tool_calls is false.

Tool parsers (`TOOL_PARSERS`): hermes, llama3_json, pythonic, mistral, qwen3_coder, harmony, phi4, json.
JSON arguments stream as they are generated; pythonic calls are sent whole as each `)` closes, Qwen3-Coder's
a parameter at a time (their text must be converted to JSON first). A call whose arguments already
streamed stays a call if the text is cut short (max_tokens): its arguments are then cut short too, as
OpenAI's are. Reasoning parsers (`REASONING_PARSERS`): qwen3, deepseek_r1, phi4_reasoning (`<think>`),
harmony (gpt-oss channels, one parser for both).

Why not openvino_genai's parsers (2026.4: ReasoningIncrementalParser, DeepSeekR1/Phi4 ReasoningIncremental
Parser, Llama3JsonToolParser, Llama3PythonicToolParser), measured on this machine:
- Importing openvino_genai in an HTTP worker costs 0.19-0.22 s and ~55 MB of resident memory (11 -> 66 MB)
  and loads OpenVINO's runtime (openvino._pyopenvino) into every worker, which the architecture keeps out
  of the workers (only plugin nodes import it; its threads don't survive gunicorn's fork either).
- The Llama 3 tool parsers are whole-text only (`Parser.parse(message)`, no incremental variant), so no
  call streams. Llama3JsonToolParser raises a RuntimeError on two `;`-separated calls
  (`{...}; {...}`: "Failed to construct JsonContainer"); Llama3PythonicToolParser returns only the
  first call of `[get_weather(city="Paris"), f(x=1)]`, and leaves the call text in `content` (also with
  text after the list). Neither knows the request's tools, so a call of an unknown function comes back
  as a call.
- ReasoningIncrementalParser (expect_open_tag=True) returns nothing at all for an answer without
  `<think>` ("plain answer" in two chunks gives '' and {}), and fed one character at a time it loses the
  content after `</think>` (`<think>hm</think>ok` gives reasoning 'hm', content ''). Its returned text
  keeps the `<think>` markers (keep_original_content), and deltas carry content only at the transition.
So none fits: each would need a fallback for the cases it gets wrong, and the worker would pay for
OpenVINO's runtime. These parsers are ours, small state machines with recorded fixtures.
"""

from typing import Optional

from ovserve.nodes.llm.parsers.detection import detect_parsers
from ovserve.nodes.llm.parsers.harmony import HarmonyParser
from ovserve.nodes.llm.parsers.hermes import HermesToolParser
from ovserve.nodes.llm.parsers.llama3_json import Llama3JsonToolParser
from ovserve.nodes.llm.parsers.mistral import MistralToolParser
from ovserve.nodes.llm.parsers.output import OutputParser, SingleParser
from ovserve.nodes.llm.parsers.phi4 import Phi4ToolParser
from ovserve.nodes.llm.parsers.pieces import OutputPiece
from ovserve.nodes.llm.parsers.plain_json import PlainJsonToolParser
from ovserve.nodes.llm.parsers.pythonic import PythonicToolParser
from ovserve.nodes.llm.parsers.qwen3_coder import Qwen3CoderToolParser
from ovserve.nodes.llm.parsers.reasoning import DeepSeekR1Reasoning, Phi4Reasoning, ThinkTagReasoning

TOOL_PARSERS = {
    parser.name: parser
    for parser in (
        HermesToolParser,
        Llama3JsonToolParser,
        PythonicToolParser,
        MistralToolParser,
        Qwen3CoderToolParser,
        HarmonyParser,
        Phi4ToolParser,
        PlainJsonToolParser,
    )
}
REASONING_PARSERS = {
    parser.name: parser for parser in (ThinkTagReasoning, DeepSeekR1Reasoning, Phi4Reasoning, HarmonyParser)
}

__all__ = [
    "OutputPiece",
    "OutputParser",
    "TOOL_PARSERS",
    "REASONING_PARSERS",
    "detect_parsers",
    "new_output_parser",
    "forced_format",
    "keeps_special_tokens",
]


def new_output_parser(
    tool_parser: Optional[str],
    reasoning_parser: Optional[str],
    *,
    tools=(),
    tool_choice="auto",
    parallel_tool_calls=True,
    prompt_text="",
    thinking=None,
) -> OutputParser:
    """The parser of one choice. With no tools or tool_choice "none" no tool parsing happens; with
    thinking False no reasoning parsing (but gpt-oss's channels are always read: see harmony.py). A forced
    tool choice ("required" or a named function) reads no reasoning either: forced_format's grammar starts
    the output with the call, even where the prompt opened `<think>` (DeepSeek-R1)."""
    if tool_parser is not None and tool_parser not in TOOL_PARSERS:
        raise ValueError(f"unknown tool parser {tool_parser!r}; known: {', '.join(sorted(TOOL_PARSERS))}")
    if reasoning_parser is not None and reasoning_parser not in REASONING_PARSERS:
        raise ValueError(
            f"unknown reasoning parser {reasoning_parser!r}; known: {', '.join(sorted(REASONING_PARSERS))}"
        )
    calling = bool(tools) and tool_choice != "none" and tool_parser is not None
    forced = calling and tool_choice != "auto"
    if "harmony" in (tool_parser, reasoning_parser):
        callable_tools = tools if calling and tool_parser == "harmony" else ()
        return SingleParser(HarmonyParser(callable_tools, parallel_tool_calls))
    reasoning = None
    if reasoning_parser is not None and thinking is not False and not forced:
        reasoning = REASONING_PARSERS[reasoning_parser](prompt_text)
    tool_reader = TOOL_PARSERS[tool_parser](tools, parallel_tool_calls) if calling else None
    return OutputParser(reasoning, tool_reader)


def forced_format(tool_parser, tools, name=None, parallel_tool_calls=True) -> dict:
    """The structured-output spec that makes the model call a tool in this family's own format: `name`
    (tool_choice names a function) or any tool, at least once (tool_choice "required"; only once when
    parallel_tool_calls is false). The family's parser reads back what it produces."""
    return TOOL_PARSERS[tool_parser or "json"].forced_format(tools, name, parallel_tool_calls)


def keeps_special_tokens(tool_parser, reasoning_parser) -> bool:
    """Whether these parsers need special tokens left in the decoded text (harmony's <|channel|>,
    Mistral's [TOOL_CALLS], Llama's <|python_tag|>). The parsers read the markers as plain text too."""
    return any(
        getattr(table.get(name), "keeps_special_tokens", False)
        for table, name in ((TOOL_PARSERS, tool_parser), (REASONING_PARSERS, reasoning_parser))
        if name is not None
    )
