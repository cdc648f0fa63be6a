"""Typed messages that travel through a servable's graph.

The protocol layer turns OpenAI JSON into these inputs (`*Input`), nodes transform or answer them,
and the answer travels back as `Generation` events (`ChoiceDelta`). No HTTP or OpenAI types below
this line.
"""

from dataclasses import dataclass, field, replace
from typing import Optional

# Sampling fields a request may leave out: None in SamplingParams until the answering node fills them
# from its servable's defaults (the protocol layer knows no servable).
DEFAULTED_SAMPLING_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
)


@dataclass(frozen=True)
class SamplingParams:
    """A request's sampling settings; the fields of DEFAULTED_SAMPLING_FIELDS are None when not given."""

    max_tokens: Optional[int] = None
    max_tokens_param: str = "max_tokens"  # the request field it came from, for error messages
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None  # 0: no limit
    min_p: Optional[float] = None
    seed: Optional[int] = None
    stop: tuple = ()
    ignore_eos: bool = False
    min_tokens: int = 0
    presence_penalty: Optional[float] = None
    frequency_penalty: Optional[float] = None
    repetition_penalty: Optional[float] = None
    n: int = 1
    stop_token_ids: tuple = ()
    include_stop_str_in_output: bool = False
    logprobs: bool = False  # report the log-probability of each generated token
    top_logprobs: int = 0
    top_logprobs_param: str = "top_logprobs"  # the request field it came from (completions: logprobs)
    # Constrained decoding: ("json_schema", schema JSON text), ("json_object", None) or ("regex", pattern), else None.
    structured_output: Optional[tuple] = None
    # vLLM's prompt_logprobs: report each prompt token's log-probability (0: the token's own; None: not asked).
    prompt_logprobs: Optional[int] = None


# Chat template variables the server sets itself (`self` is Jinja's own name for the template).
RESERVED_TEMPLATE_VARIABLES = frozenset({"messages", "add_generation_prompt", "tools", "documents", "self"})


@dataclass(frozen=True)
class ImagePart:
    """An image a chat request carries, by reference: a `data:` URL (the APIs' base64 sources become one),
    an http(s) URL or a local file URL; the node that takes images fetches and decodes it, by its own
    policy. `param` is where it was in the request (e.g. "messages[0].content[1].image_url")."""

    url: str
    param: str
    detail: Optional[str] = None  # OpenAI's "auto" | "low" | "high": accepted; the model's processor decides


@dataclass(frozen=True)
class ChatInput:
    # Of dicts: {"role": ..., "content": str, ...}; content flattened to text, except in a message with
    # images: a list of {"type": "text", "text": ...} and {"type": "image"} parts, in order.
    messages: tuple
    params: SamplingParams = field(default_factory=SamplingParams)
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    tools: tuple = ()  # OpenAI function tool definitions (dicts), passed to the chat template
    tool_choice: object = "auto"  # "none" | "auto" | "required" | the name of one function
    parallel_tool_calls: bool = True
    documents: tuple = ()
    template_kwargs: tuple = ()  # extra chat template variables, as (name, value) pairs; none of RESERVED_TEMPLATE_VARIABLES
    request_id: str = ""
    # Reasoning models: None leaves the chat template's default. `thinking` False switches thinking off
    # where the template can (Qwen3's enable_thinking); `reasoning_effort` is "low" | "medium" | "high"
    # (gpt-oss's template reads it). The protocol layer maps each API's own fields onto these two.
    thinking: Optional[bool] = None
    reasoning_effort: Optional[str] = None
    images: tuple = ()  # ImagePart, one for each {"type": "image"} part of the messages, in order

    @property
    def choices(self):
        return self.params.n

    def with_messages(self, messages):
        return replace(self, messages=tuple(messages))


@dataclass(frozen=True)
class CompletionInput:
    """One prompt to continue: text, or token ids used as they are (then `prompt` is empty, and text
    processors leave it alone)."""

    prompt: str
    params: SamplingParams = field(default_factory=SamplingParams)
    echo: bool = False
    request_id: str = ""
    prompt_ids: tuple = ()

    def with_prompt(self, prompt):
        return replace(self, prompt=prompt)


@dataclass(frozen=True)
class CompletionPrompts:
    """The prompts of one completions request (OpenAI takes a list): each runs as its own generation,
    and choice j of prompt i is choice i·n + j of the answer."""

    inputs: tuple  # of CompletionInput, all with the same params

    @property
    def params(self):
        return self.inputs[0].params

    @property
    def choices(self):
        return len(self.inputs) * self.params.n


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: Optional[float]  # None for an echoed prompt's first token, which nothing comes before
    token_bytes: tuple  # UTF-8 bytes of the token (a token may hold part of a character)


@dataclass(frozen=True)
class PromptTokenLogprob:
    """A prompt token's log-probability given the tokens before it (None for the first)."""

    token_id: int
    logprob: Optional[float]
    decoded_token: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call: the first piece of a call has its id and name, later ones add arguments."""

    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""


@dataclass
class ChoiceDelta:
    """New output of one choice since the previous event. `text` is the answer's content; `reasoning`
    is the model's thinking, separated from it by the servable's reasoning parser."""

    index: int
    text: str
    finish_reason: Optional[str] = None  # "stop" | "length" | "tool_calls" once the choice is finished
    logprobs: tuple = ()  # TokenLogprob of each token this delta adds, when asked for
    tool_calls: tuple = ()  # ToolCallDelta
    reasoning: str = ""
    stop_string: Optional[str] = None  # the request's stop string that ended the choice, if one did
    prompt_logprobs: tuple = ()  # PromptTokenLogprob of every prompt token, once, when asked for


class Generation:
    """A started generation: iterate for lists of ChoiceDelta; close() cancels it if unfinished.

    `prompt_tokens` is known at once; `completion_tokens` grows as tokens arrive; `reasoning_tokens` is the
    part of completion_tokens generated as reasoning.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def __iter__(self):
        raise NotImplementedError

    def close(self):
        pass


@dataclass(frozen=True)
class EmbeddingsInput:
    """Texts to embed, or token id lists (then `texts` is empty); `dimensions` None: the model's own."""

    texts: tuple = ()
    token_ids: tuple = ()  # of tuples of ints
    dimensions: Optional[int] = None
    request_id: str = ""

    @property
    def count(self):
        return len(self.texts) or len(self.token_ids)


@dataclass(frozen=True)
class EmbeddingsResult:
    vectors: object  # a float32 numpy array, one row per input, in input order
    prompt_tokens: int


@dataclass(frozen=True)
class RerankInput:
    query: str
    documents: tuple  # of str: the text scored for each document
    top_n: Optional[int] = None  # None: every document
    request_id: str = ""


@dataclass(frozen=True)
class RerankResult:
    ranking: tuple  # of (document index, relevance score), best first, at most top_n
    prompt_tokens: int = 0
