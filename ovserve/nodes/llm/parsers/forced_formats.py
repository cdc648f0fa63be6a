"""The structured-output specs that force a tool call in a family's own format: each function's arguments
schema between the tags the family writes around a call, one named call or at least one of any tool."""

from ovserve.nodes.llm.parsers.pieces import parameters_of


def call_tag(tools, function_name, begin, end, content="json_schema"):
    """The tag of one call: `begin` (a %s for the function's name), its arguments as `content` says
    (`json_schema`, or Qwen3-Coder's `qwen_xml_parameters`), then `end`."""
    return {
        "begin": begin % function_name,
        "content": {content: parameters_of(tools, function_name)},
        "end": end,
    }


def tagged_calls(tools, name, parallel_tool_calls, begin, end, separator, content="json_schema"):
    """Calls as tags around each function's arguments: the call of `name`, or at least one of any tool
    (only one when parallel_tool_calls is false), `separator` between them."""
    if name is not None:
        return {"tag": call_tag(tools, name, begin, end, content)}
    return {
        "tags_with_separator": {
            "tags": [call_tag(tools, tool["function"]["name"], begin, end, content) for tool in tools],
            "separator": separator,
            "at_least_one": True,
            "stop_after_first": not parallel_tool_calls,
        }
    }


def listed_calls(tools, name, parallel_tool_calls, before, after):
    """Call objects `{"name": ..., "arguments": ...}` between `before` and `after`, separated by ", ".

    With several calls allowed the list is left without its `after`: the engine refuses a sequence with
    anything after an unbounded element ("Only the last element in a sequence can be unlimited"), and the
    parsers read a list that the output ends before it closes."""
    begin, end = '{"name": "%s", "arguments": ', "}"
    bounded = name is not None or not parallel_tool_calls
    if name is None and not parallel_tool_calls:
        # One call of any tool: a union is bounded (tags_with_separator counts as unbounded even with
        # stop_after_first, so nothing could follow it), and so the list still closes.
        calls = {"union": [{"tag": call_tag(tools, tool["function"]["name"], begin, end)} for tool in tools]}
    else:
        calls = tagged_calls(tools, name, parallel_tool_calls, begin, end, ", ")
    closing = {"const": after} if after and bounded else None
    parts = [spec for spec in ({"const": before} if before else None, calls, closing) if spec]
    return parts[0] if len(parts) == 1 else {"concat": parts}
