"""What a request may ask of an LLM servable: its token budget and the choices the engine can make.

Checked in the worker with the effective settings (the request's, else the servable's defaults), so the
engine only ever sees what it can run, and a client hears why in a 400 naming the field.
"""

from dataclasses import dataclass
from typing import Optional

from ovserve.errors import InvalidRequest


@dataclass(frozen=True)
class GenerationLimits:
    max_model_len: int
    max_tokens_limit: Optional[int]
    default_max_tokens: Optional[int]
    max_n: int
    prompt_lookup: bool

    def max_new_tokens(self, prompt_tokens, requested, prompt_param, max_param):
        """The tokens this request may generate; requested None: the default, cut to the room left."""
        if not prompt_tokens:
            raise InvalidRequest(
                "The prompt is empty (0 tokens); send some text.", param=prompt_param, code="invalid_value"
            )
        room = self.max_model_len - prompt_tokens
        if room <= 0:
            raise InvalidRequest(
                f"This model's maximum context length is {self.max_model_len} tokens; the prompt alone is "
                f"{prompt_tokens} tokens.",
                param=prompt_param,
                code="context_length_exceeded",
            )
        if requested is None:
            # The servable's default is a cap, not a request: cut to the room left, never refused.
            return min(cap for cap in (room, self.max_tokens_limit, self.default_max_tokens) if cap)
        if self.max_tokens_limit and requested > self.max_tokens_limit:
            raise InvalidRequest(
                f"{max_param} is {requested}; this model allows at most {self.max_tokens_limit}.",
                param=max_param,
                code="max_tokens_exceeded",
            )
        if requested > room:
            raise InvalidRequest(
                f"This model's maximum context length is {self.max_model_len} tokens. However, you requested "
                f"{prompt_tokens + requested} tokens ({prompt_tokens} in the prompt, {requested} for the completion). "
                f"Reduce the prompt or {max_param}.",
                param=max_param,
                code="context_length_exceeded",
            )
        return requested

    def check_choices(self, params, max_new_tokens, temperature_given):
        """Refuse what the engine can't do with these effective settings."""
        temperature = f"temperature {params.temperature}" + ("" if temperature_given else " (this model's default)")
        if params.min_tokens > max_new_tokens:
            raise InvalidRequest(
                f"min_tokens ({params.min_tokens}) can't exceed max_tokens ({max_new_tokens}).",
                param="min_tokens",
                code="invalid_value",
            )
        if params.n > self.max_n:
            raise InvalidRequest(f"n is {params.n}; this model allows at most {self.max_n}.", param="n")
        if self.prompt_lookup and params.n > 1 and params.temperature > 0:
            # The engine's prompt lookup draws one sequence per request (GenerationConfig.validate refuses more).
            raise InvalidRequest(
                f"n is {params.n} with {temperature}; this model runs prompt-lookup "
                "decoding, which samples one choice per request. Use n=1, or temperature 0.",
                param="n",
            )
        if params.logprobs and params.top_logprobs and params.temperature > 0:
            # The engine reports the sampled token's log-probability only; it is the most likely token only when greedy.
            name = params.top_logprobs_param
            raise InvalidRequest(
                f"{name} {params.top_logprobs} asks for the most likely token, which this server knows "
                f"only in greedy decoding, and this request samples ({temperature}). Set temperature 0, "
                f"or {name} 0 for the sampled tokens' own log-probabilities.",
                param=name,
                code="unsupported_value",
            )
