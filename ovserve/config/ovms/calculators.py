"""OVMS calculator options -> the options of the ovserve node that does the same job.

Every field OVMS's options messages define has a rule here (a unit test checks it): it sets an ovserve
option (renamed or converted), is accepted because it only tunes what ovserve does anyway, or is refused
with the reason — never silently dropped.
"""

import json
from dataclasses import dataclass, field
from typing import Callable, Optional


class UnsupportedValue(ValueError):
    """An OVMS option value ovserve can't honour; the message says why."""


class OptionRefused(ValueError):
    """An OVMS option ovserve can't honour, named, with the reason."""

    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class OptionRule:
    ours: Optional[str] = None  # the ovserve option it sets; None: accepted without effect, or refused
    convert: Optional[Callable] = None  # OVMS value -> ours; raises UnsupportedValue
    refused: Optional[str] = None  # why ovserve can't honour it
    accepted: Optional[str] = None  # why it needs no ovserve option


@dataclass(frozen=True)
class Calculator:
    options_type: str  # the OVMS options message (schema.py)
    node_type: str  # the ovserve node type
    rules: dict  # OVMS field -> OptionRule
    # ovserve option -> value: OVMS's default of a field the graph leaves out, where it differs from ovserve's
    ovms_defaults: dict = field(default_factory=dict)


def _choice(mapping, what):
    def convert(value):
        if value not in mapping:
            raise UnsupportedValue(f"{what} '{value}' is not one ovserve has; use one of: {', '.join(mapping)}")
        return mapping[value]

    return convert


def _true_is_refused(reason):
    def convert(value):
        if value:
            raise UnsupportedValue(reason)
        return None

    return convert


def plugin_config(text):
    """OVMS writes plugin_config as a JSON string: the JSON object it holds, or UnsupportedValue."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnsupportedValue(f"is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise UnsupportedValue(f"must hold a JSON object, got {type(value).__name__}")
    for key, item in value.items():
        if isinstance(item, (dict, list)) or item is None:
            raise UnsupportedValue(f"'{key}' must be a string, number or boolean")
    return value


# OVMS's parser names -> ovserve's (nodes/llm/options.schema.json).
TOOL_PARSERS = {
    "hermes3": "hermes",
    "llama3": "llama3_json",
    "phi4": "phi4",
    "mistral": "mistral",
    "qwen3coder": "qwen3_coder",
    "gptoss": "harmony",
}
REASONING_PARSERS = {"qwen3": "qwen3", "gptoss": "harmony"}

_DRAFT = "ovserve has no draft-model speculative decoding (its speculative decoding is prompt lookup: plugin_config '{\"prompt_lookup\": true}')"
_PLUGIN = OptionRule("plugin_config", plugin_config)

LLM = Calculator(
    "LLMCalculatorOptions",
    "llm_continuous_batching",
    {
        "models_path": OptionRule("models_path"),
        "max_num_batched_tokens": OptionRule("max_num_batched_tokens"),
        "cache_size": OptionRule("cache_size"),
        "max_num_seqs": OptionRule("max_num_seqs"),
        "dynamic_split_fuse": OptionRule("dynamic_split_fuse"),
        "device": OptionRule("device"),
        "plugin_config": _PLUGIN,
        "best_of_limit": OptionRule(accepted="ovserve answers every best_of above 1 with a 400 (use n)"),
        "max_tokens_limit": OptionRule("max_tokens_limit"),
        "enable_prefix_caching": OptionRule("enable_prefix_caching"),
        **{
            name: OptionRule(refused=_DRAFT)
            for name in (
                "draft_models_path",
                "draft_device",
                "draft_max_num_batched_tokens",
                "draft_cache_size",
                "draft_block_size",
                "draft_max_num_seqs",
                "draft_dynamic_split_fuse",
                "draft_eagle3_mode",
            )
        },
        "pipeline_type": OptionRule(
            convert=_choice(
                {"AUTO": None, "LM_CB": None, "LM": None},
                "pipeline_type (ovserve serves text-only models, always with continuous batching)",
            )
        ),
        "cache_eviction_config": OptionRule(
            refused="ovserve does not evict KV cache blocks mid-generation (it changes the output); "
            "bound the context with cache_size instead"
        ),
        "tool_parser": OptionRule("tool_parser", _choice(TOOL_PARSERS, "tool_parser")),
        "reasoning_parser": OptionRule("reasoning_parser", _choice(REASONING_PARSERS, "reasoning_parser")),
        "enable_tool_guided_generation": OptionRule(
            convert=_true_is_refused(
                "ovserve constrains tool calls only when tool_choice forces one; set it false or remove it"
            )
        ),
        "sparse_attention_config": OptionRule(
            refused="ovserve runs dense attention (sparse attention changes the output)"
        ),
        "cache_interval_multiplier": OptionRule(
            refused="it tunes cache eviction and sparse attention, which ovserve has not"
        ),
        "chat_template_mode": OptionRule(
            accepted="ovserve renders chat templates with Python Jinja2 (as OVMS's JINJA) whichever is named"
        ),
        "generation_config_path": OptionRule(
            refused="ovserve reads generation_config.json beside the model; other defaults go in an ovserve "
            "graph's generation_defaults option"
        ),
    },
    # OVMS caches prefixes only when the graph says so (export_model.py's graphs do); ovserve's default is on.
    ovms_defaults={"enable_prefix_caching": False},
)

EMBEDDINGS = Calculator(
    "EmbeddingsCalculatorOVOptions",
    "embeddings",
    {
        "models_path": OptionRule("models_path"),
        "normalize_embeddings": OptionRule("normalize"),
        "target_device": OptionRule("device"),
        "plugin_config": _PLUGIN,
        "pooling": OptionRule("pooling", _choice({"CLS": "cls", "LAST": "last_token", "MEAN": "mean"}, "pooling")),
        "truncate": OptionRule("truncate"),
        "max_position_embeddings": OptionRule("max_length"),
    },
)

RERANK = Calculator(
    "RerankCalculatorOVOptions",
    "rerank",
    {
        "models_path": OptionRule("models_path"),
        # ovserve truncates a long document instead of splitting it into chunks: one chunk per document.
        "max_allowed_chunks": OptionRule("max_documents"),
        "max_length": OptionRule("max_length"),
        "max_position_embeddings": OptionRule("max_length"),
        "target_device": OptionRule("device"),
        "plugin_config": _PLUGIN,
    },
)

CALCULATORS = {"HttpLLMCalculator": LLM, "EmbeddingsCalculatorOV": EMBEDDINGS, "RerankCalculatorOV": RERANK}


def translate(calculator, options):
    """(ovserve options, {ovserve option: the OVMS field it came from}) for a parsed options message;
    OptionRefused for a field ovserve can't honour. Enum values are matched by name."""
    ours, sources = {}, {}
    for descriptor, value in options.ListFields():
        rule = calculator.rules[descriptor.name]
        if rule.refused:
            raise OptionRefused(descriptor.name, rule.refused)
        if descriptor.enum_type is not None:
            value = descriptor.enum_type.values_by_number[value].name
        if rule.convert is not None:
            try:
                value = rule.convert(value)
            except UnsupportedValue as exc:
                raise OptionRefused(descriptor.name, str(exc)) from None
        if rule.ours is None:
            continue
        if rule.ours == "plugin_config" and calculator is LLM and "prompt_lookup" in value:
            # OVMS turns prompt-lookup decoding on in plugin_config; ovserve has an option for it.
            value = dict(value)
            ours["prompt_lookup"] = bool(value.pop("prompt_lookup"))
            sources["prompt_lookup"] = descriptor.name
        ours[rule.ours] = value
        sources[rule.ours] = descriptor.name
    return ours, sources
