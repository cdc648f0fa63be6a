"""The engine side of the embeddings node: one TextEmbeddingPipeline, stepped by the engine host.

Requests queue here from every HTTP worker. Each step embeds up to batch_size queued texts in one
inference, taken in arrival order across requests (batching.py), so concurrent requests share
batches instead of waiting for one another's inferences; a request is answered when all its texts
are embedded.
"""

import logging

import numpy
import openvino_genai

from ovserve.nodes.embeddings.batching import TextQueue
from ovserve.nodes.embeddings.messages import Vectors
from ovserve.nodes.engine_errors import describe
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.embeddings")
POOLING = {
    "cls": openvino_genai.TextEmbeddingPipeline.PoolingType.CLS,
    "mean": openvino_genai.TextEmbeddingPipeline.PoolingType.MEAN,
    "last_token": openvino_genai.TextEmbeddingPipeline.PoolingType.LAST_TOKEN,
}


def pipeline_config(options):
    config = openvino_genai.TextEmbeddingPipeline.Config()
    config.pooling_type = POOLING[options["pooling"]]
    config.normalize = options["normalize"]
    if options.get("max_length"):
        config.max_length = options["max_length"]
    return config


class EmbeddingsEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        plugin_config = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
        self.pipeline = openvino_genai.TextEmbeddingPipeline(
            options["models_path"], options["device"], pipeline_config(options), **plugin_config
        )
        # One probe text: tells the vector length (a Dense head may change it) and warms the model up.
        self.dimensions = len(self.pipeline.embed_documents(["ovserve"])[0])
        self.queue = TextQueue(options["batch_size"])
        self.batches = 0
        self.embedded_texts = 0

    def info(self):
        return {"kind": "embeddings", "models_path": self.options["models_path"], "dimensions": self.dimensions}

    def submit(self, key, request):
        texts = list(request.texts)
        if self.queue.waiting_texts + len(texts) > self.options["max_queued_texts"]:
            raise EngineBusy(f"The server is at capacity ({self.queue.waiting_texts} texts queued); retry shortly.")
        self.queue.add(key, texts)

    def cancel(self, key):
        self.queue.cancel(key)

    def has_work(self):
        return len(self.queue) > 0

    def step(self):
        texts, plan = self.queue.take_batch()
        try:
            vectors = numpy.asarray(self.pipeline.embed_documents(texts), dtype=numpy.float32)
        except Exception as exc:  # a batch the model can't run fails its requests, not the engine
            log.exception("embedding a batch of %d texts failed", len(texts))
            failure = RequestFailure(FailureKind.ENGINE, describe(exc))
            return [(key, failure, True) for key in self.queue.fail(plan)]
        self.batches += 1
        self.embedded_texts += len(texts)
        return [(key, Vectors(rows), True) for key, rows in self.queue.finish(plan, vectors)]

    def stats(self):
        return {
            "queued_requests": len(self.queue),
            "queued_texts": self.queue.waiting_texts,
            "batches": self.batches,
            "embedded_texts": self.embedded_texts,
        }
