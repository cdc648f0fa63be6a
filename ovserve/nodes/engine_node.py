"""The base of nodes whose model runs in an engine process of its own (LLM, embeddings, rerank).

What they share: the options with their defaults, the model path, the engine process's spec, the worker's
connection to it, the worker-side resources (a tokenizer, a chat template) loaded before the worker serves,
one readiness rule and one stats path.
"""

import json
from importlib import resources
from typing import ClassVar

from ovserve.errors import NotReady
from ovserve.graph.node import EngineSpec


def load_schema(package):
    """The `options.schema.json` shipped in a node's package."""
    return json.loads(resources.files(package).joinpath("options.schema.json").read_text())


def with_defaults(options, schema):
    merged = {name: prop["default"] for name, prop in schema["properties"].items() if "default" in prop}
    merged.update(options)
    return merged


class EngineNode:
    """Mixed into a Terminal: `class MyNode(EngineNode, Embedder)`.

    A subclass names its engine (`engine_factory`, "module:Class", built in the engine process) and the
    options that engine takes (`engine_option_names`), and loads its worker side in `load_worker_side()`.
    """

    engine_factory: ClassVar[str] = ""
    engine_option_names: ClassVar[tuple] = ()

    def __init__(self, options, context):
        super().__init__(with_defaults(options, self.options_schema), context)
        self.models_path = context.resolve_path("models_path", self.options["models_path"])
        self.client = None
        self.worker_side_loaded = False

    # --- the engine process --------------------------------------------------------------------
    def engine_options(self) -> dict:
        options = {name: self.options.get(name) for name in self.engine_option_names}
        options["models_path"] = str(self.models_path)
        return options

    def engine_spec(self):
        return EngineSpec(self.engine_factory, self.engine_options())

    # --- the worker side -----------------------------------------------------------------------
    def load(self, runtime):
        self.client = runtime.engine_client(self.context.servable, self.context.node_name)
        # Before the worker takes connections (gunicorn accepts on a worker once its app is built): loaded in
        # the background, a fresh worker answered 503 "still loading" while another worker's readiness said
        # 200 (seen with --workers 2, right after readiness turned 200).
        self.load_worker_side()
        self.worker_side_loaded = True

    def load_worker_side(self):
        """Load what this worker needs besides the engine (a tokenizer...), before it serves."""

    def is_ready(self):
        """Loaded here, and the engine connected and heard from recently (a stuck engine is not ready)."""
        return self.worker_side_loaded and self.client is not None and self.client.responsive

    def require_ready(self):
        if not self.is_ready():
            raise NotReady(f"The model '{self.context.servable}' is still loading; retry shortly.")

    def stats(self):
        if self.client is None:
            return {}
        return {"worker_open_requests": self.client.open_streams, "engine": dict(self.client.stats)}
