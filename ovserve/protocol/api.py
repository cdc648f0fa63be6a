"""What an API of the HTTP edge is made of: the contract between a protocol module and the request
pipeline (ovserve/http/pipeline.py).

Each API (chat completions, completions, embeddings, rerank) is a protocol module that gives one `Api`.
Its `parse` turns a request body into a `Call`: the model named, the graph's typed input (ChatInput,
CompletionPrompts, ...) and the writer of the answer. The pipeline knows no API, and the servable,
the nodes and the engine never learn which API a request came from. Another API (OpenAI Responses,
Anthropic Messages) is one more such module, its own writer and error object included, and one route.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from ovserve.protocol.errors import openai_error


@dataclass(frozen=True)
class ApiContext:
    """What the server keeps across requests, for the Apis whose parse needs more than the body
    (Api.takes_context): the Responses API reads earlier responses from its store, and its writer saves."""

    responses_store: object = None  # a ResponsesStore (ovserve/protocol/responses_store.py)


@dataclass(frozen=True)
class Api:
    capability: str  # what the servable must serve (ServableRegistry.require); the metrics' method too
    parse: Callable  # (body, request id) -> Call; raises InvalidRequest
    # (servable, graph input) -> a Generation, or a one-answer request (result(), close()).
    start: Callable
    error_body: Callable = openai_error  # OvserveError -> this API's error object, for every error answer
    # OvserveError -> the HTTP status of its answer, where the API has statuses of its own (Anthropic's 529).
    error_status: Callable = lambda error: error.status
    # The metrics' `method` label when it is not the capability's (an API translated to another's input).
    method: Optional[str] = None
    takes_context: bool = False  # parse is (body, request id, ApiContext)
    # The body is a multipart/form-data form (file uploads): parse gets its MultipartForm (http/multipart.py).
    reads_form: bool = False


@dataclass(frozen=True)
class RawAnswer:
    """A unary answer that is not JSON (a transcript as text/srt/vtt, audio bytes): sent as is."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class Call:
    """A parsed request. `writer` is a GenerationWriter when the servable answers with a Generation;
    for a one-answer request, an object whose body(result) is the answer."""

    model: str
    graph_input: object
    writer: object
    stream: bool = False


class GenerationWriter:
    """Writes one request's generation in its API's format.

    Unary: add() gets each step's deltas (a list of ChoiceDelta), then body() is the answer (JSON-able).
    Streamed: opening(), chunks() for each step, then closing(); each returns the bytes to send, as a list
    of events. After an error (the headers are sent by then), failed() takes the place of closing().
    `counts` is the generation itself, read for its prompt_tokens and completion_tokens only.
    """

    def add(self, deltas):
        raise NotImplementedError

    def body(self, counts):
        raise NotImplementedError

    def opening(self, counts):
        raise NotImplementedError

    def chunks(self, deltas):
        raise NotImplementedError

    def closing(self, counts):
        raise NotImplementedError

    def failed(self, error):
        """Events telling a typed error (an OvserveError) that ended the stream."""
        raise NotImplementedError
