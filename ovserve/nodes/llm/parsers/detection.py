"""Which parsers a chat template implies, read from its text: the syntax it teaches the model to write."""

import re


def detect_tool_parser(template):
    if "<|channel|>" in template:
        return "harmony"
    if "<tool_call>" in template:
        return "qwen3_coder" if "<function=" in template else "hermes"
    if "[TOOL_CALLS]" in template:
        return "mistral"
    if "functools" in template:
        return "phi4"
    if "<|python_start|>" in template or re.search(r"python list (of|for) (the )?(function )?calls", template):
        return "pythonic"
    if "[func_name1(" in template:
        return "pythonic"
    if "<|python_tag|>" in template or '"parameters": dictionary of argument name' in template:
        return "llama3_json"
    return None


def detect_reasoning_parser(template):
    if "<|channel|>" in template:
        return "harmony"
    if "<think>" not in template and "</think>" not in template:
        return None
    if "<|im_sep|>" in template:
        return "phi4_reasoning"  # Phi-4-reasoning: ChatML with <|im_sep|>, thinking asked in the system prompt
    # DeepSeek-R1's templates open <think> in the generation prompt, after their assistant marker.
    if re.search(r"Assistant\|?｜?>\s*<think>", template) or "｜Assistant｜" in template:
        return "deepseek_r1"
    return "qwen3"


def detect_parsers(template_source):
    """(tool parser name or None, reasoning parser name or None) a chat template's text implies."""
    if not template_source:
        return None, None
    return detect_tool_parser(template_source), detect_reasoning_parser(template_source)
