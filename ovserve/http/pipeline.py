"""The one path of every API request: read the body, parse it, find the servable, start, answer.

What differs between APIs is the `Api` its protocol module gives (ovserve/protocol/api.py): how a body
becomes a typed graph input and a writer, and what its answers and errors look like. Errors raised
here become responses in ovserve/http/errors.py.
"""

from ovserve.errors import NotReady
from ovserve.http import metrics
from ovserve.http.body import read_json
from ovserve.http.exchange import Exchange, StreamBody
from ovserve.http.multipart import read_multipart
from ovserve.protocol.api import ApiContext, RawAnswer

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Pipeline:
    def __init__(self, registry, options, context=None):
        self.registry = registry
        self.options = options
        self.context = context or ApiContext()  # given to the Apis that take it (Api.takes_context)

    def answer(self, req, resp, api):
        method = api.method or metrics.METHODS[api.capability]
        # The names served now: a reload adds and removes servables (a removed one's series keep their values).
        record = metrics.RequestRecord(method, req.context.started, self.registry.served_names)
        try:
            if api.reads_form:
                body = read_multipart(req, self.options.max_body_bytes)
                record.model({"model": next(iter(body.texts("model")), None)})
            else:
                body = read_json(req, self.options.max_body_bytes)
                record.model(body)
            context = (self.context,) if api.takes_context else ()
            call = api.parse(body, req.context.request_id, *context)
            servable = self.registry.require(call.model, api.capability)
            if self.options.is_draining():
                raise NotReady("The server is shutting down; send the request to another replica or retry later.")
            work = api.start(servable, call.graph_input)
        except BaseException:
            record.finish(False)
            raise
        sock = req.env.get("gunicorn.socket")
        exchange = Exchange(work, record, self.options.watch_disconnect, sock)
        if not call.stream:
            answer = exchange.unary(call.writer)
            if isinstance(answer, RawAnswer):
                resp.data, resp.content_type = answer.data, answer.content_type
            else:
                resp.media = answer
            return
        resp.content_type = "text/event-stream"
        resp.set_headers(SSE_HEADERS)
        stream = StreamBody(exchange, call.writer, req.context.request_id)
        # A client that stops reading would block its write for good, its generation still running.
        bound_writes = self.options.bound_stream_writes
        resp.stream = bound_writes(stream, sock) if bound_writes else stream
