"""The worker side of the rerank node: limits and token counts, then the query and documents go to
the engine.

The cross-encoder lives in an engine process (engine.py); its scores come back here and are cut
to the request's top_n.
"""

import logging

from ovserve.errors import InvalidRequest, NotReady
from ovserve.graph.messages import RerankResult
from ovserve.graph.node import EngineSpec, Reranker
from ovserve.nodes import model_folder
from ovserve.nodes.options import load_schema, with_defaults
from ovserve.nodes.unary import EngineResult

log = logging.getLogger("ovserve.rerank")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.rerank")
ENGINE_OPTIONS = ("device", "plugin_config", "max_length", "batch_size", "max_queued_requests")


class RerankNode(Reranker):
    type_name = "rerank"
    options_schema = OPTIONS_SCHEMA

    def __init__(self, options, context):
        super().__init__(with_defaults(options, OPTIONS_SCHEMA), context)
        self.models_path = context.resolve_path("models_path", self.options["models_path"])
        model_folder.require_ir_folder(context, self.models_path, "rerank")
        self.max_length = self.options.get("max_length") or model_folder.max_length(self.models_path)
        self.client = None
        self.tokenizer = None

    def engine_spec(self):
        options = {name: self.options.get(name) for name in ENGINE_OPTIONS}
        options.update(models_path=str(self.models_path), max_length=self.max_length)
        return EngineSpec("ovserve.nodes.rerank.engine:RerankEngine", options)

    def load(self, runtime):
        self.client = runtime.engine_client(self.context.servable, self.context.node_name)
        runtime.in_background(self._load_tokenizer)

    def _load_tokenizer(self):
        import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

        # As TextRerankPipeline does: query and document as a pair where the tokenizer supports it.
        tokenizer = openvino_genai.Tokenizer(str(self.models_path), add_second_input=True)
        self.tokenizer = tokenizer
        log.info("%s: tokenizer loaded", self.context.servable)

    def is_ready(self):
        return self.tokenizer is not None and self.client is not None and self.client.connected

    def _token_count(self, query, documents):
        """Tokens the model reads for all query-document pairs, after truncation (for `usage`)."""
        settings = {"max_length": self.max_length, "truncation": True} if self.max_length else {}
        if self.tokenizer.supports_paired_input():
            encoded = self.tokenizer.encode([query], documents, add_special_tokens=True, **settings)
        else:
            encoded = self.tokenizer.encode([query + document for document in documents], add_special_tokens=True,
                                            **settings)
        return int(encoded.attention_mask.data.sum())

    def describe(self):
        return {"max_model_len": self.max_length}

    def stats(self):
        if self.client is None:
            return {}
        return {"worker_open_requests": self.client.open_streams, "engine": dict(self.client.stats)}

    def rerank(self, rerank_input):
        if not self.is_ready():
            raise NotReady(f"The model '{self.context.servable}' is still loading; retry shortly.")
        documents = list(rerank_input.documents)
        if len(documents) > self.options["max_documents"]:
            raise InvalidRequest(f"{len(documents)} documents were sent; this model takes at most "
                                 f"{self.options['max_documents']} per request.", param="documents")
        prompt_tokens = self._token_count(rerank_input.query, documents)
        stream = self.client.submit({"query": rerank_input.query, "documents": documents},
                                    timeout=self.options["request_timeout_seconds"])
        top_n = rerank_input.top_n

        def convert(update):
            ranking = sorted(update["scores"], key=lambda pair: (-pair[1], pair[0]))
            return RerankResult(tuple(ranking[:top_n] if top_n else ranking), prompt_tokens)

        return EngineResult(stream, convert)
