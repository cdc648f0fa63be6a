"""What a request gets for the sampling fields it leaves out, per servable.

Precedence, field by field: the request, then the node option `generation_defaults`, then the
model's `generation_config.json`, then OpenAI's defaults. Resolved once per request, so every later
decision (greedy or sampled, copies for n, top_logprobs) reads the same effective values.
"""

import json
import logging
from dataclasses import replace
from pathlib import Path

from ovserve.graph.messages import DEFAULTED_SAMPLING_FIELDS

log = logging.getLogger("ovserve.llm")

# OpenAI's defaults; max_tokens None: until the model stops or the context is full.
BUILT_IN = {
    "max_tokens": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}
# Hugging Face generation_config.json names -> ours (the fields vLLM's --generation-config reads too).
_GENERATION_CONFIG_NAMES = {
    "max_new_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repetition_penalty",
}
GENERATION_CONFIG_FILE = "generation_config.json"


def _in_range(value, schema):
    """Whether a value from a model file fits the option's schema (a JSON Schema subset: type and bounds)."""
    kind = schema["type"]
    if isinstance(value, bool) or not isinstance(value, int if kind == "integer" else (int, float)):
        return False
    return (
        value >= schema.get("minimum", value)
        and value <= schema.get("maximum", value)
        and value > schema.get("exclusiveMinimum", value - 1)
    )


def from_generation_config(data, option_schemas, source="generation_config.json"):
    """The defaults a Hugging Face generation_config.json sets. `do_sample: false` means greedy, as in
    transformers. Values outside what a request may send are skipped with a warning."""
    values = {}
    for theirs, ours in _GENERATION_CONFIG_NAMES.items():
        value = data.get(theirs)
        if value is None:
            continue
        if not _in_range(value, option_schemas[ours]):
            log.warning("%s: %s %r is out of range; ignored", source, theirs, value)
            continue
        values[ours] = value
    if data.get("do_sample") is False:
        values["temperature"] = 0.0
    return values


def generation_config_next_to(models_path):
    """The model's generation_config.json (in its folder, or beside a GGUF file), or None."""
    path = Path(models_path)
    candidate = (path.parent if path.is_file() else path) / GENERATION_CONFIG_FILE
    return candidate if candidate.is_file() else None


class GenerationDefaults:
    def __init__(self, options=None, model_file_values=None, max_tokens_limit=None):
        self.values = {**BUILT_IN, **(model_file_values or {}), **(options or {})}
        if self.values["top_k"] < 0:
            self.values["top_k"] = 0  # -1, as in requests: no limit
        if max_tokens_limit and (self.values["max_tokens"] or 0) > max_tokens_limit:
            self.values["max_tokens"] = max_tokens_limit  # a model file's max_new_tokens above the servable's limit

    @classmethod
    def for_model(cls, options, models_path, option_schemas, max_tokens_limit=None):
        file = generation_config_next_to(models_path)
        file_values = {}
        if file is not None:
            try:
                data = json.loads(file.read_text())
            except ValueError as exc:
                raise ValueError(f"{file} is not valid JSON: {exc}") from None
            if isinstance(data, dict):
                file_values = from_generation_config(data, option_schemas, str(file))
        return cls(options, file_values, max_tokens_limit)

    @property
    def max_tokens(self):
        return self.values["max_tokens"]

    def resolve(self, params):
        """The params with every sampling field the request left out (None) filled in; max_tokens stays as
        requested, because a default is cut to the room left in the context while a request is refused."""
        missing = {
            name: self.values[name]
            for name in DEFAULTED_SAMPLING_FIELDS
            if name != "max_tokens" and getattr(params, name) is None
        }
        return replace(params, **missing) if missing else params

    def describe(self):
        return dict(self.values)
