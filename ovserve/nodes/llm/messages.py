"""What crosses between the LLM node and its engine: the generation settings, the request, its updates.

This module owns the generation settings for both sides: the node fills a GenerationSettings, the engine
copies its fields onto an `openvino_genai.GenerationConfig` of the same names. Pure: the worker imports
it without OpenVINO.
"""

import random
from typing import NamedTuple, Optional

from ovserve.runtime.messages import WireMessage, decode, wire_message, wire_record


@wire_message
class GenerationSettings(WireMessage):
    """Fields of `openvino_genai.GenerationConfig`, by name; None leaves the engine's default."""

    tag = "llm.settings"
    max_new_tokens: int
    min_new_tokens: int = 0
    ignore_eos: bool = False
    do_sample: bool = False
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    min_p: Optional[float] = None
    rng_seed: Optional[int] = None
    presence_penalty: Optional[float] = None
    frequency_penalty: Optional[float] = None
    repetition_penalty: Optional[float] = None
    stop_token_ids: tuple = ()
    logprobs: int = 0
    num_return_sequences: int = 1
    # The engine scores the prompt too: its first read of each sequence starts with the prompt's ids and their
    # log-probabilities, which the engine takes off before anything else sees them (engine_request.py). Also what lets
    # max_new_tokens be 0 (score only).
    echo: bool = False

    def given(self):
        """(name, value) of every field that is set, as GenerationConfig takes them."""
        for name in self._field_names:
            value = getattr(self, name)
            if value is not None:
                yield name, value


@wire_message
class GenerationRequest(WireMessage):
    """One request for the engine: token ids (the worker templates and tokenizes) and how to generate.

    `structured_output` is the wire text of the constraint the output must match (output_constraints.py;
    its JSON schemas already checked by schema_guard.py), or None.

    A request with images (a vision-language model) also carries `prompt_text`, the templated prompt
    with openvino_genai's image tags, and `images`, (width, height, RGB bytes) each (media/decoding.py
    documents the layout): the pipeline tokenizes that text and embeds the images itself, and
    `prompt_ids` are then the worker's count of the prompt, not what the engine runs."""

    tag = "llm.request"
    prompt_ids: tuple
    settings: GenerationSettings
    structured_output: Optional[str] = None
    prompt_text: Optional[str] = None
    images: tuple = ()

    def to_wire(self):
        return (
            self.tag,
            self.prompt_ids,
            self.settings.to_wire(),
            self.structured_output,
            self.prompt_text,
            self.images,
        )

    @classmethod
    def from_wire(cls, value):
        return cls(value[1], decode(value[2]), value[3], value[4], value[5])


@wire_record
class TokenUpdate(NamedTuple):
    """A request's new tokens since the last step (sent at every step: a NamedTuple, see wire_record).

    `sequences`: (index, token ids, log-probabilities, finish reason or None) per sequence with news;
    `status`: the engine's status of the request ("running", "finished", "cancel", ...);
    `prompt_logprobs`: once, in the update that completes them, the prompt tokens' log-probabilities (the
    first None: no token comes before it), when the settings echo; the ids of `sequences` are generated only."""

    sequences: tuple
    status: str
    prompt_logprobs: tuple = ()
    tag = "llm.tokens"

    def fields_tuple(self):
        return tuple(self)


def generation_settings(params, max_new_tokens, sampled, score_prompt=False):
    """The engine's settings for effective SamplingParams (every field resolved) and a checked token budget;
    `score_prompt`: also the prompt tokens' log-probabilities."""
    common = dict(
        max_new_tokens=max_new_tokens,
        min_new_tokens=params.min_tokens,
        ignore_eos=params.ignore_eos,
        # Greedy choices are identical: generate one and copy it (OpenAI's n at temperature 0).
        num_return_sequences=params.n if sampled else 1,
        presence_penalty=params.presence_penalty,
        frequency_penalty=params.frequency_penalty,
        repetition_penalty=params.repetition_penalty,
        stop_token_ids=tuple(params.stop_token_ids),
        logprobs=max(1, params.top_logprobs) if params.logprobs or score_prompt else 0,
        echo=score_prompt or max_new_tokens == 0,
    )
    if not sampled:
        return GenerationSettings(do_sample=False, **common)
    return GenerationSettings(
        do_sample=True,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k if params.top_k > 0 else 2**31 - 1,
        min_p=params.min_p,
        # An unseeded request gets a fresh seed (the engine's default is a constant); OpenAI seeds are signed
        # 64-bit, the engine's unsigned: wrapped, the same seed gives the same stream.
        rng_seed=params.seed % 2**64 if params.seed is not None else random.getrandbits(31),
        **common,
    )
