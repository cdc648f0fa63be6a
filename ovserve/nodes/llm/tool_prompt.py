"""Telling a model about tools when its chat template has no place for them.

The instructions follow the Hermes format (`<tool_call>{...}</tool_call>`), which the default
`tool_parser` reads back. They go into the system message (a new one when there is none).
"""

import json


def tool_instructions(tools, tool_choice):
    signatures = "\n".join(json.dumps(tool["function"], ensure_ascii=False) for tool in tools)
    must = "You must call one of them." if tool_choice == "required" else "Call one only when it helps."
    return (
        "You can call these functions:\n<tools>\n"
        + signatures
        + "\n</tools>\n"
        + must
        + ' To call a function, answer with <tool_call>{"name": "FUNCTION_NAME", "arguments": {...}}</tool_call>.'
    )


def with_tool_instructions(messages, tools, tool_choice):
    instructions = tool_instructions(tools, tool_choice)
    if messages and messages[0]["role"] in ("system", "developer"):
        first = dict(messages[0], content=messages[0]["content"] + "\n\n" + instructions)
        return [first] + list(messages[1:])
    return [{"role": "system", "content": instructions}] + list(messages)
