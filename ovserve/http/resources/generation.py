"""POST /v3/chat/completions and /v3/completions: parse, route to the servable, answer."""

import falcon

from ovserve.errors import NotReady
from ovserve.graph.prompts import start_prompts
from ovserve.http.body import read_json
from ovserve.protocol.requests import parse_chat, parse_completion
from ovserve.protocol.responses import CHAT, COMPLETION, ResponseWriter

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _GenerationResource:
    capability = ""
    shape = None

    def __init__(self, registry, options):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes
        self.watch_disconnect = options.watch_disconnect
        self.is_draining = options.is_draining
        self.bound_writes = options.bound_stream_writes

    def start(self, servable, graph_input):
        raise NotImplementedError

    def parse(self, body, request_id):
        raise NotImplementedError

    def on_post(self, req, resp):
        body = read_json(req, self.max_body_bytes)
        req.context.metrics.model(body)
        model, graph_input, stream_options = self.parse(body, req.context.request_id)
        servable = self.registry.require(model, self.capability)
        if self.is_draining():
            raise NotReady("The server is shutting down; send the request to another replica or retry later.")
        generation = req.context.metrics.watch(self.start(servable, graph_input))
        # A client that leaves (queued, in prefill, mid-decode) cancels its generation at once.
        stop_watching = self.watch_disconnect(req.env.get("gunicorn.socket"), generation.close) if self.watch_disconnect else None
        params = graph_input.params
        writer = ResponseWriter(self.shape, model, graph_input.choices, params.logprobs, params.top_logprobs)
        if stream_options.stream:
            resp.content_type = "text/event-stream"
            resp.set_headers(SSE_HEADERS)
            body = writer.stream(generation, stream_options.include_usage)
            body.add_closer(stop_watching)
            # A client that stops reading would block its write for good, its generation still running.
            sock = req.env.get("gunicorn.socket")
            resp.stream = self.bound_writes(body, sock) if self.bound_writes else body
        else:
            try:
                resp.media = writer.unary(generation)
            finally:
                if stop_watching:
                    stop_watching()
        resp.status = falcon.HTTP_200


class ChatCompletionsResource(_GenerationResource):
    capability = "chat.completions"
    shape = CHAT

    def parse(self, body, request_id):
        return parse_chat(body, request_id)

    def start(self, servable, graph_input):
        return servable.chat(graph_input)


class CompletionsResource(_GenerationResource):
    capability = "completions"
    shape = COMPLETION

    def parse(self, body, request_id):
        return parse_completion(body, request_id)

    def start(self, servable, graph_input):
        return start_prompts(servable.complete, graph_input)
