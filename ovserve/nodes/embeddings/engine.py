"""The engine side of the embeddings node: one TextEmbeddingPipeline, stepped by the engine host.

Requests queue here from every HTTP worker. Each step embeds up to batch_size queued texts in one
inference, taken in arrival order across requests, so concurrent requests share batches instead of
waiting for one another's inferences; a request is answered when all its texts are embedded.
"""

import collections
import logging

import numpy
import openvino_genai

from ovserve.runtime.engine import Engine, EngineBusy

log = logging.getLogger("ovserve.engine.embeddings")
POOLING = {
    "cls": openvino_genai.TextEmbeddingPipeline.PoolingType.CLS,
    "mean": openvino_genai.TextEmbeddingPipeline.PoolingType.MEAN,
    "last_token": openvino_genai.TextEmbeddingPipeline.PoolingType.LAST_TOKEN,
}


class _Request:
    def __init__(self, key, texts):
        self.key = key
        self.texts = texts
        self.vectors = []  # numpy rows, in text order
        self.embedded = 0  # texts embedded or in the current batch

    @property
    def remaining(self):
        return len(self.texts) - self.embedded


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
        self.pipeline = openvino_genai.TextEmbeddingPipeline(options["models_path"], options["device"],
                                                             pipeline_config(options), **plugin_config)
        # One probe text: tells the vector length (a Dense head may change it) and warms the model up.
        self.dimensions = len(self.pipeline.embed_documents(["ovserve"])[0])
        self.queue = collections.deque()
        self.queued_texts = 0
        self.batches = 0
        self.embedded_texts = 0

    def info(self):
        return {"kind": "embeddings", "models_path": self.options["models_path"], "dimensions": self.dimensions}

    def submit(self, key, payload):
        texts = list(payload["texts"])
        if self.queued_texts + len(texts) > self.options["max_queued_texts"]:
            raise EngineBusy(f"The server is at capacity ({self.queued_texts} texts queued); retry shortly.")
        self.queue.append(_Request(key, texts))
        self.queued_texts += len(texts)

    def cancel(self, key):
        for request in self.queue:
            if request.key == key:
                self.queue.remove(request)
                self.queued_texts -= request.remaining
                return

    def has_work(self):
        return bool(self.queue)

    def _next_batch(self):
        """[(request, count)]: the next batch_size texts in arrival order, across requests."""
        room, taken = self.options["batch_size"], []
        for request in self.queue:
            count = min(room, request.remaining)
            if count:
                taken.append((request, count))
                room -= count
            if not room:
                break
        return taken

    def step(self):
        taken = self._next_batch()
        texts = []
        for request, count in taken:
            texts += request.texts[request.embedded:request.embedded + count]
            request.embedded += count
        self.queued_texts -= len(texts)
        vectors = numpy.asarray(self.pipeline.embed_documents(texts), dtype=numpy.float32)
        self.batches += 1
        self.embedded_texts += len(texts)
        updates, position = [], 0
        for request, count in taken:
            request.vectors.append(vectors[position:position + count])
            position += count
            if request.remaining == 0:
                self.queue.remove(request)
                updates.append((request.key, {"vectors": numpy.concatenate(request.vectors)}, True))
        return updates

    def stats(self):
        return {"queued_requests": len(self.queue), "queued_texts": self.queued_texts, "batches": self.batches,
                "embedded_texts": self.embedded_texts}
