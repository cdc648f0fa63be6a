"""The contract between ovserve and a node plugin.

A node type is a class with a `type_name`, a JSON Schema for its `options`, and one or more
capabilities. Construction must be cheap and free of side effects (it also runs in the supervisor
to validate the config); heavy resources are made in `load()`, inside an HTTP worker.

A node that owns a native engine (a pipeline that must exist once per servable, whatever the number
of HTTP workers) describes it with `engine_spec()`: the supervisor starts one engine process per
such node and the node reaches it through `runtime.engine_client(...)` in `load()`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from ovserve.config.paths import UnresolvablePath, resolve_path
from ovserve.errors import ConfigError
from ovserve.graph.messages import ChatInput, CompletionInput, EmbeddingsInput, Generation, RerankInput


@dataclass(frozen=True)
class NodeContext:
    servable: str
    node_name: str
    file: Path  # the graph file that declares the node
    json_path: str  # of the node's options inside that file, e.g. "$.nodes[0].options"

    def error(self, option: str, problem: str, fix: Optional[str] = None) -> ConfigError:
        return ConfigError(self.file, f"{self.json_path}.{option}", problem, fix)

    def resolve_path(self, option: str, value: str, must_exist: bool = True) -> Path:
        try:
            path = resolve_path(value, self.file.parent)
        except UnresolvablePath as exc:
            raise self.error(option, str(exc)) from None
        if must_exist and not path.exists():
            raise self.error(
                option,
                f"'{value}' resolves to {path}, which does not exist",
                "relative paths resolve against the graph file's folder",
            )
        return path


@dataclass(frozen=True)
class EngineSpec:
    """What the supervisor needs to start a node's engine process."""

    factory: str  # "package.module:Class"; built as Class(options) inside the engine process
    options: dict  # JSON-serialisable


class Node:
    type_name: ClassVar[str] = ""
    options_schema: ClassVar[dict] = {"type": "object"}

    def __init__(self, options: dict, context: NodeContext):
        self.options = options
        self.context = context

    def engine_spec(self) -> Optional[EngineSpec]:
        return None

    def load(self, runtime) -> None:
        """Make worker-side resources. `runtime` (a WorkerRuntime) gives access to engine clients."""

    def load_would_pause_worker(self) -> bool:
        """Whether load() in a serving worker would hold its GIL long enough to pause its other requests
        (seconds, not a fraction of one): a reload then replaces the worker instead (server/worker_roll.py)."""
        return False

    def is_ready(self) -> bool:
        return True

    def describe(self) -> dict:
        """Facts for `/v3/models` and logs."""
        return {}

    def stats(self) -> dict:
        """Live counters for `/v2/models/{name}/stats` (running requests, cache usage, ...)."""
        return {}


class RequestProcessor(Node):
    """A node that rewrites a request before the terminal node answers it."""

    def process_chat(self, chat_input: ChatInput) -> ChatInput:
        return chat_input

    def process_completion(self, completion_input: CompletionInput) -> CompletionInput:
        return completion_input

    def process_embeddings(self, embeddings_input: EmbeddingsInput) -> EmbeddingsInput:
        return embeddings_input

    def process_rerank(self, rerank_input: RerankInput) -> RerankInput:
        return rerank_input


class Terminal(Node):
    """A node that answers requests: the last node of a graph.

    `kind` says what it serves (text_generation, embeddings, rerank: shown in /v3/models);
    `capabilities` names the routes it answers, checked by `ServableRegistry.require`.
    """

    kind: ClassVar[str] = ""
    capabilities: ClassVar[tuple] = ()


class TextGenerator(Terminal):
    """A terminal node that answers chat and text-completion requests with a Generation."""

    kind = "text_generation"
    capabilities: ClassVar[tuple] = ("chat.completions", "completions")

    def chat(self, chat_input: ChatInput) -> Generation:
        raise NotImplementedError

    def complete(self, completion_input: CompletionInput) -> Generation:
        raise NotImplementedError


class Embedder(Terminal):
    """A terminal node that turns texts into vectors (`embed` returns an EmbeddingsResult)."""

    kind = "embeddings"
    capabilities: ClassVar[tuple] = ("embeddings",)

    def embed(self, embeddings_input: EmbeddingsInput):
        raise NotImplementedError


class Reranker(Terminal):
    """A terminal node that scores documents against a query (`rerank` returns a RerankResult)."""

    kind = "rerank"
    capabilities: ClassVar[tuple] = ("rerank",)

    def rerank(self, rerank_input: RerankInput):
        raise NotImplementedError


class ImageGenerator(Terminal):
    """A terminal node that makes images from a prompt (`generate_images`) and edits uploaded ones
    (`edit_images`); both take an ImagesInput and return a one-answer request giving an ImagesResult."""

    kind = "image_generation"
    capabilities: ClassVar[tuple] = ("images.generations", "images.edits")

    def generate_images(self, images_input):
        raise NotImplementedError

    def edit_images(self, images_input):
        raise NotImplementedError


class Transcriber(Terminal):
    """A terminal node that turns speech into text (`transcribe` takes a TranscriptionInput and returns work
    that iterates the transcript's deltas, or gives the whole Transcript by result())."""

    kind = "automatic_speech_recognition"
    capabilities: ClassVar[tuple] = ("audio.transcriptions", "audio.translations")

    def transcribe(self, transcription_input):
        raise NotImplementedError


class SpeechSynthesizer(Terminal):
    """A terminal node that speaks a text (`synthesize` takes a SpeechInput; its one answer is a Speech)."""

    kind = "text_to_speech"
    capabilities: ClassVar[tuple] = ("audio.speech",)

    def synthesize(self, speech_input):
        raise NotImplementedError
