"""Telling a model about tools when its chat template has no place for them.

The instructions follow the Hermes format (`<tool_call>{...}</tool_call>`), which the servable's tool
parser then reads back. They go into the system message (a new one when there is none), with an example
call built from a real tool: a placeholder name in the example (it once said FUNCTION_NAME) is what a
small model copies.

Such a template doesn't render the conversation's earlier tool calls either (it reads only `content`):
without them the model can't see what it already called and calls it again. So each earlier
assistant call is written into its message's content, in the format the instructions teach, and each
tool result becomes a user turn wrapped in `<tool_response>`, as Hermes and Qwen templates render them.
A user turn, not a `tool` one: templates that check that user and assistant turns alternate (Mistral's,
Llama 2's) refuse any other role; consecutive results share one turn for the same reason.
"""

import json

OPEN_CALL, CLOSE_CALL = "<tool_call>", "</tool_call>"
OPEN_RESPONSE, CLOSE_RESPONSE = "<tool_response>", "</tool_response>"
MAX_EXAMPLE_ARGUMENTS = 4
# A value of the parameter's JSON type for the example call; strings get a visible blank.
EXAMPLE_VALUES = {"string": "...", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}


def call_text(name, arguments):
    """One call as the instructions teach it (and the Hermes parser reads it)."""
    return OPEN_CALL + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) + CLOSE_CALL


def _example_value(schema):
    if not isinstance(schema, dict):
        return "..."
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return EXAMPLE_VALUES.get(kind, "...")


def example_call(tool):
    """A call of this tool with its required parameters (else its first ones), each a value of its type."""
    function = tool["function"]
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    required = [name for name in parameters.get("required") or () if name in properties]
    names = (required or list(properties))[:MAX_EXAMPLE_ARGUMENTS]
    return call_text(function["name"], {name: _example_value(properties[name]) for name in names})


def _example_tool(tools, tool_choice):
    named = [tool for tool in tools if tool["function"]["name"] == tool_choice]
    return named[0] if named else tools[0]


def tool_instructions(tools, tool_choice):
    signatures = "\n".join(json.dumps(tool["function"], ensure_ascii=False) for tool in tools)
    listing = "You can call these functions:\n<tools>\n" + signatures + "\n</tools>\n"
    if tool_choice == "none":
        return listing + "Don't call any of them in this answer: answer in text."
    if tool_choice == "required":
        must = "You must call one of them."
    elif tool_choice != "auto":
        must = f"You must call {tool_choice}."
    else:
        must = "Call one only when it helps."
    return (
        listing
        + must
        + " To call a function, answer with its name and arguments as JSON between "
        + f"{OPEN_CALL} and {CLOSE_CALL}, one call per pair, for example:\n"
        + example_call(_example_tool(tools, tool_choice))
    )


def _assistant_with_calls(message):
    calls = "\n".join(
        call_text(call["function"]["name"], call["function"]["arguments"]) for call in message["tool_calls"]
    )
    content = message.get("content") or ""
    written = {key: value for key, value in message.items() if key != "tool_calls"}
    written["content"] = content + "\n" + calls if content else calls
    return written


def _tool_response(message):
    return OPEN_RESPONSE + "\n" + (message.get("content") or "") + "\n" + CLOSE_RESPONSE


def written_history(messages):
    """The messages with earlier tool calls and results in their content, for a template that reads only
    content: assistant calls as `<tool_call>` text, results as user turns of `<tool_response>` blocks."""
    written = []
    results = None  # the user turn that collects consecutive tool results
    for message in messages:
        if message["role"] == "tool":
            if results is None:
                results = {"role": "user", "content": _tool_response(message)}
                written.append(results)
            else:
                results["content"] += "\n" + _tool_response(message)
            continue
        results = None
        if message["role"] == "assistant" and message.get("tool_calls"):
            written.append(_assistant_with_calls(message))
        else:
            written.append(message)
    return written


def with_tool_instructions(messages, tools, tool_choice):
    messages = written_history(messages)
    instructions = tool_instructions(tools, tool_choice)
    if messages and messages[0]["role"] in ("system", "developer"):
        first = dict(messages[0], content=messages[0]["content"] + "\n\n" + instructions)
        return [first] + list(messages[1:])
    return [{"role": "system", "content": instructions}] + list(messages)
