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


@dataclass(frozen=True)
class NodeContext:
    servable: str
    node_name: str
    file: Path  # the graph file that declares the node
    json_path: str  # of the node's options inside that file, e.g. "$.nodes[0].options"

    def error(self, option, problem, fix=None):
        return ConfigError(self.file, f"{self.json_path}.{option}", problem, fix)

    def resolve_path(self, option, value, must_exist=True):
        try:
            path = resolve_path(value, self.file.parent)
        except UnresolvablePath as exc:
            raise self.error(option, str(exc)) from None
        if must_exist and not path.exists():
            raise self.error(option, f"'{value}' resolves to {path}, which does not exist",
                             "relative paths resolve against the graph file's folder")
        return path


@dataclass(frozen=True)
class EngineSpec:
    """What the supervisor needs to start a node's engine process."""

    factory: str  # "package.module:Class"; built as Class(options) inside the engine process
    options: dict  # JSON-serialisable


class Node:
    type_name: ClassVar[str] = ""
    options_schema: ClassVar[dict] = {"type": "object"}

    def __init__(self, options, context):
        self.options = options
        self.context = context

    def engine_spec(self) -> Optional[EngineSpec]:
        return None

    def load(self, runtime):
        """Make worker-side resources. `runtime` gives access to engine clients."""

    def is_ready(self):
        return True

    def describe(self):
        """Facts for `/v3/models` and logs."""
        return {}

    def stats(self):
        """Live counters for `/v2/models/{name}/stats` (running requests, cache usage, ...)."""
        return {}


class RequestProcessor(Node):
    """A node that rewrites a request before the terminal node answers it."""

    def process_chat(self, chat_input):
        return chat_input

    def process_completion(self, completion_input):
        return completion_input

    def process_embeddings(self, embeddings_input):
        return embeddings_input

    def process_rerank(self, rerank_input):
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

    def chat(self, chat_input):
        raise NotImplementedError

    def complete(self, completion_input):
        raise NotImplementedError


class Embedder(Terminal):
    """A terminal node that turns texts into vectors (`embed` returns an EmbeddingsResult)."""

    kind = "embeddings"
    capabilities: ClassVar[tuple] = ("embeddings",)

    def embed(self, embeddings_input):
        raise NotImplementedError


class Reranker(Terminal):
    """A terminal node that scores documents against a query (`rerank` returns a RerankResult)."""

    kind = "rerank"
    capabilities: ClassVar[tuple] = ("rerank",)

    def rerank(self, rerank_input):
        raise NotImplementedError
