"""POST /v3/embeddings and /v3/rerank: parse, route to an embeddings or rerank servable, answer."""

from ovserve.errors import NotReady
from ovserve.http.body import read_json
from ovserve.protocol.embeddings import embeddings_response, parse_embeddings
from ovserve.protocol.rerank import parse_rerank, rerank_response


class _RetrievalResource:
    def __init__(self, registry, options):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes
        self.watch_disconnect = options.watch_disconnect
        self.is_draining = options.is_draining

    def _servable(self, model):
        servable = self.registry.require(model, self.capability)
        if self.is_draining():
            raise NotReady("The server is shutting down; send the request to another replica or retry later.")
        return servable

    def _run(self, req, pending):
        """Wait for `pending` (a started request with result() and close()); a client that leaves cancels it."""
        stop_watching = self.watch_disconnect(req.env.get("gunicorn.socket"), pending.close) if self.watch_disconnect else None
        try:
            return pending.result()
        finally:
            if stop_watching:
                stop_watching()


class EmbeddingsResource(_RetrievalResource):
    capability = "embeddings"

    def on_post(self, req, resp):
        body = read_json(req, self.max_body_bytes)
        req.context.metrics.model(body)
        model, embeddings_input, encoding_format = parse_embeddings(body, req.context.request_id)
        result = self._run(req, self._servable(model).embed(embeddings_input))
        resp.media = embeddings_response(model, result, encoding_format)


class RerankResource(_RetrievalResource):
    capability = "rerank"

    def on_post(self, req, resp):
        body = read_json(req, self.max_body_bytes)
        req.context.metrics.model(body)
        model, rerank_input, return_documents = parse_rerank(body, req.context.request_id)
        result = self._run(req, self._servable(model).rerank(rerank_input))
        resp.media = rerank_response(model, result, body["documents"], return_documents)
