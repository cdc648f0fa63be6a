"""The engine side of the rerank node: one TextRerankPipeline, stepped by the engine host.

`TextRerankPipeline.rerank` scores one query against many documents, so batches can't mix
requests. Each step scores the next batch_size documents of one request, taking requests in turn
(round robin), so a request with many documents does not hold back the short ones behind it; the
loop reads new requests and cancellations between steps.
"""

import collections
import logging

import openvino_genai

from ovserve.nodes.engine_errors import describe
from ovserve.nodes.rerank.messages import Scores
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.rerank")
ALL_DOCUMENTS = 2**31 - 1  # the pipeline's top_n: the node cuts to each request's own top_n


class _Request:
    def __init__(self, key, query, documents):
        self.key = key
        self.query = query
        self.documents = documents
        self.scores = []  # (document index, score)
        self.scored = 0


class RerankEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        config = openvino_genai.TextRerankPipeline.Config()
        config.top_n = ALL_DOCUMENTS
        if options.get("max_length"):
            config.max_length = options["max_length"]
        plugin_config = {key: str(value) for key, value in (options.get("plugin_config") or {}).items()}
        self.pipeline = openvino_genai.TextRerankPipeline(
            options["models_path"], options["device"], config, **plugin_config
        )
        self.pipeline.rerank("ovserve", ["warm-up"])
        self.queue = collections.deque()
        self.batches = 0

    def info(self):
        return {"kind": "rerank", "models_path": self.options["models_path"]}

    def submit(self, key, request):
        if len(self.queue) >= self.options["max_queued_requests"] + 1:
            raise EngineBusy(f"The server is at capacity ({len(self.queue)} rerank requests queued); retry shortly.")
        self.queue.append(_Request(key, request.query, list(request.documents)))

    def cancel(self, key):
        for request in self.queue:
            if request.key == key:
                self.queue.remove(request)
                return

    def has_work(self):
        return bool(self.queue)

    def step(self):
        request = self.queue[0]
        start = request.scored
        chunk = request.documents[start : start + self.options["batch_size"]]
        try:
            ranking = self.pipeline.rerank(request.query, chunk)
        except Exception as exc:  # a request the model can't run fails alone, not the engine
            log.exception("scoring %d documents failed", len(chunk))
            self.queue.popleft()
            return [(request.key, RequestFailure(FailureKind.ENGINE, describe(exc)), True)]
        for index, score in ranking:
            request.scores.append((start + int(index), float(score)))
        request.scored += len(chunk)
        self.batches += 1
        if request.scored < len(request.documents):
            self.queue.rotate(-1)
            return []
        self.queue.popleft()
        return [(request.key, Scores(tuple(request.scores)), True)]

    def stats(self):
        return {"queued_requests": len(self.queue), "batches": self.batches}
