"""Typed messages that travel through a servable's graph.

The protocol layer turns OpenAI JSON into these inputs (`*Input`), nodes transform or answer them,
and the answer travels back as `Generation` events (`ChoiceDelta`). No HTTP or OpenAI types below
this line.
"""

from dataclasses import dataclass, field, replace
from typing import Optional


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: Optional[int] = None  # None: until EOS or the context is full
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no limit
    min_p: float = 0.0
    seed: Optional[int] = None
    stop: tuple = ()
    ignore_eos: bool = False
    min_tokens: int = 0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    n: int = 1


@dataclass(frozen=True)
class ChatInput:
    messages: tuple  # of dicts: {"role": ..., "content": str, ...}; content already flattened to text
    params: SamplingParams = field(default_factory=SamplingParams)
    add_generation_prompt: bool = True
    request_id: str = ""

    def with_messages(self, messages):
        return replace(self, messages=tuple(messages))


@dataclass(frozen=True)
class CompletionInput:
    prompt: str
    params: SamplingParams = field(default_factory=SamplingParams)
    request_id: str = ""

    def with_prompt(self, prompt):
        return replace(self, prompt=prompt)


@dataclass
class ChoiceDelta:
    """New output of one choice since the previous event."""

    index: int
    text: str
    finish_reason: Optional[str] = None  # "stop" | "length" once the choice is finished


class Generation:
    """A started generation: iterate for lists of ChoiceDelta; close() cancels it if unfinished.

    `prompt_tokens` is known at once; `completion_tokens` grows as tokens arrive.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __iter__(self):
        raise NotImplementedError

    def close(self):
        pass
