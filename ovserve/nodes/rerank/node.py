"""The worker side of the rerank node: limits and token counts, then the query and documents go to
the engine.

The cross-encoder lives in an engine process (engine.py); its scores come back here and are cut
to the request's top_n.
"""

import logging

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import RerankResult
from ovserve.graph.node import Reranker
from ovserve.nodes import model_files
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.rerank.messages import RerankRequest
from ovserve.nodes.unary import EngineResult

log = logging.getLogger("ovserve.rerank")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.rerank")


class RerankNode(EngineNode, Reranker):
    type_name = "rerank"
    options_schema = OPTIONS_SCHEMA
    engine_factory = "ovserve.nodes.rerank.engine:RerankEngine"
    engine_option_names = ("device", "plugin_config", "batch_size", "max_queued_requests")

    def __init__(self, options, context):
        super().__init__(options, context)
        model_files.require_ir_folder(context, self.models_path, "rerank")
        self.max_length = self.options.get("max_length") or model_files.max_length(self.models_path)
        self.tokenizer = None

    def engine_options(self):
        return dict(super().engine_options(), max_length=self.max_length)

    def load_worker_side(self):
        import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

        # As TextRerankPipeline does: query and document as a pair where the tokenizer supports it.
        tokenizer = openvino_genai.Tokenizer(str(self.models_path), add_second_input=True)
        self.tokenizer = tokenizer
        log.info("%s: tokenizer loaded", self.context.servable)

    def _token_count(self, query, documents):
        """Tokens the model reads for all query-document pairs, after truncation (for `usage`)."""
        settings = {"max_length": self.max_length, "truncation": True} if self.max_length else {}
        if self.tokenizer.supports_paired_input():
            encoded = self.tokenizer.encode([query], documents, add_special_tokens=True, **settings)
        else:
            encoded = self.tokenizer.encode(
                [query + document for document in documents], add_special_tokens=True, **settings
            )
        return int(encoded.attention_mask.data.sum())

    def describe(self):
        return {"max_model_len": self.max_length}

    def rerank(self, rerank_input):
        self.require_ready()
        documents = list(rerank_input.documents)
        if len(documents) > self.options["max_documents"]:
            raise InvalidRequest(
                f"{len(documents)} documents were sent; this model takes at most "
                f"{self.options['max_documents']} per request.",
                param="documents",
            )
        prompt_tokens = self._token_count(rerank_input.query, documents)
        stream = self.client.submit(
            RerankRequest(rerank_input.query, tuple(documents)), timeout=self.options["request_timeout_seconds"]
        )
        top_n = rerank_input.top_n

        def convert(result):
            ranking = sorted(result.scores, key=lambda pair: (-pair[1], pair[0]))
            return RerankResult(tuple(ranking[:top_n] if top_n else ranking), prompt_tokens)

        return EngineResult(stream, convert)
