"""The worker side of the embeddings node: token counts, length limits, token-id input, dimensions.

The pipeline lives in an engine process (engine.py) that embeds the texts of all workers'
concurrent requests in shared batches; this node checks a request, submits its texts through the
bridge and shapes the vectors it gets back.
"""

import logging

import numpy

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import EmbeddingsResult
from ovserve.graph.node import Embedder
from ovserve.nodes import model_files
from ovserve.nodes.embeddings.messages import EmbeddingRequest
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.unary import EngineResult

log = logging.getLogger("ovserve.embeddings")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.embeddings")


def cut_dimensions(vectors, dimensions, normalized):
    """The first `dimensions` components of each vector (Matryoshka), renormalised if the model's were."""
    cut = numpy.ascontiguousarray(vectors[:, :dimensions], dtype=numpy.float32)
    if normalized:
        norms = numpy.linalg.norm(cut, axis=1, keepdims=True)
        cut /= numpy.where(norms == 0, 1, norms)
    return cut


class EmbeddingsNode(EngineNode, Embedder):
    type_name = "embeddings"
    options_schema = OPTIONS_SCHEMA
    engine_factory = "ovserve.nodes.embeddings.engine:EmbeddingsEngine"
    engine_option_names = ("device", "plugin_config", "normalize", "batch_size", "max_queued_texts")

    def __init__(self, options, context):
        super().__init__(options, context)
        model_files.require_ir_folder(context, self.models_path, "embeddings")
        self.pooling = self.options.get("pooling") or model_files.pooling(self.models_path) or "cls"
        self.max_length = self.options.get("max_length") or model_files.max_length(self.models_path)
        self.tokenizer = None
        self.vocabulary_size = 0

    # --- life cycle ------------------------------------------------------------------------
    def engine_options(self):
        return dict(super().engine_options(), pooling=self.pooling, max_length=self.max_length)

    def load_worker_side(self):
        import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

        tokenizer = openvino_genai.Tokenizer(str(self.models_path))
        self.vocabulary_size = max(tokenizer.get_vocab().values()) + 1  # ids may have gaps: not len()
        self.tokenizer = tokenizer
        log.info("%s: tokenizer loaded", self.context.servable)

    @property
    def dimensions(self):
        """The length of the model's vectors, as its engine measured it (None until it connects)."""
        info = self.client.info if self.client is not None else None
        return info.get("dimensions") if info else None

    def describe(self):
        facts = {"max_model_len": self.max_length, "pooling": self.pooling, "normalize": self.options["normalize"]}
        if self.dimensions:
            facts["dimensions"] = self.dimensions
        return facts

    # --- requests --------------------------------------------------------------------------
    def _texts(self, embeddings_input):
        if embeddings_input.texts:
            return list(embeddings_input.texts)
        for index, ids in enumerate(embeddings_input.token_ids):
            outside = [token for token in ids if token >= self.vocabulary_size]
            if outside:
                raise InvalidRequest(
                    f"input[{index}] has token id {outside[0]}, outside the vocabulary "
                    f"(0..{self.vocabulary_size - 1}).",
                    param=f"input[{index}]",
                    code="invalid_value",
                )
        try:
            return [self.tokenizer.decode(list(ids), skip_special_tokens=True) for ids in embeddings_input.token_ids]
        except Exception as exc:  # an id outside the vocabulary, or a model shipped without a detokenizer
            raise InvalidRequest(
                f"The token ids can't be decoded by this model's tokenizer: {exc}", param="input", code="invalid_value"
            ) from None

    def _token_counts(self, texts):
        """Tokens the model sees for each text (after truncation); 400 for a text too long when not truncating."""
        truncate = self.options["truncate"] and self.max_length is not None
        settings = {"max_length": self.max_length, "truncation": True} if truncate else {}
        counts = self.tokenizer.encode(texts, add_special_tokens=True, **settings).attention_mask.data.sum(axis=1)
        if self.max_length is not None and not truncate:
            for index, count in enumerate(counts):
                if count > self.max_length:
                    raise InvalidRequest(
                        f"input[{index}] is {int(count)} tokens; this model takes at most {self.max_length}.",
                        param=f"input[{index}]",
                        code="context_length_exceeded",
                    )
        return [int(count) for count in counts]

    def _check_dimensions(self, requested):
        native = self.dimensions
        if requested is None or requested == native:
            return None
        allowed = self.options["matryoshka_dimensions"]
        if requested not in allowed or requested > native:
            offered = ", ".join(str(size) for size in sorted({native, *(d for d in allowed if d < native)}))
            raise InvalidRequest(
                f"'dimensions' is {requested}; this model gives vectors of {offered} dimensions.",
                param="dimensions",
                code="unsupported_value",
            )
        return requested

    def embed(self, embeddings_input):
        self.require_ready()
        dimensions = self._check_dimensions(embeddings_input.dimensions)
        texts = self._texts(embeddings_input)
        prompt_tokens = sum(self._token_counts(texts))
        stream = self.client.submit(EmbeddingRequest(tuple(texts)), timeout=self.options["request_timeout_seconds"])

        def convert(result):
            vectors = result.vectors
            if dimensions is not None:
                vectors = cut_dimensions(vectors, dimensions, self.options["normalize"])
            return EmbeddingsResult(vectors, prompt_tokens)

        return EngineResult(stream, convert)
