"""One request's work, from its start on the servable to the end of its answer, unary or streamed."""

import time

from ovserve.graph.messages import Generation
from ovserve.http.errors import stream_error


class Exchange:
    """The started work of one request: a Generation, or a one-answer request (result(), close()).

    However the answer ends (its last token, an error, the client leaving, the WSGI server closing the
    body), end() does, once, what every end needs: the work is closed, which cancels it in the engine if
    it is unfinished; the client is no longer watched; the metrics record the outcome.
    """

    def __init__(self, work, record, watch_disconnect=None, sock=None):
        self.work = work
        self.record = record
        self.generates = isinstance(work, Generation)
        self._closed = self._ended = False
        # A client that leaves (queued, in prefill, mid-decode) cancels its work at once.
        self._stop_watching = watch_disconnect(sock, self._close) if watch_disconnect else None

    def unary(self, writer):
        """The whole answer, as the writer's body."""
        try:
            if self.generates:
                for deltas in self.work:
                    self.arrived(deltas)
                    writer.add(deltas)
                answer = writer.body(self.work)
            else:
                answer = writer.body(self.work.result())
        except BaseException:
            self.end(False)
            raise
        self.end(True)
        return answer

    def arrived(self, deltas):
        """A step of the generation reached this worker (the metrics read its tokens and finish reasons)."""
        self.record.arrived(self.work.completion_tokens, time.monotonic(), deltas)

    def end(self, succeeded):
        if self._ended:
            return
        self._ended = True
        try:
            self._close()
        finally:
            if self._stop_watching is not None:
                self._stop_watching()
            self.record.finish(succeeded, self.work if self.generates else None)

    def _close(self):
        if not self._closed:
            self._closed = True
            self.work.close()


class StreamBody:
    """A streamed answer as the WSGI response body: the writer's events as the generation goes, then its
    closing events; an error, the headers being sent, becomes the writer's error events instead.

    The WSGI server calls close() whether it read the body to its end or dropped it (a client that left
    or stopped reading), and close() ends the exchange. A generator alone would not do: its `finally`
    never runs if it is closed before its first next(), which would leave the generation running.
    """

    def __init__(self, exchange, writer, request_id):
        self._exchange = exchange
        self._events = self._produce(writer, request_id)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._events)

    def close(self):
        self._events.close()
        self._exchange.end(False)  # a no-op once the generation ended

    def _produce(self, writer, request_id):
        exchange, generation = self._exchange, self._exchange.work
        try:
            yield from writer.opening(generation)
            for deltas in generation:
                exchange.arrived(deltas)
                yield from writer.chunks(deltas)
        except Exception as error:
            exchange.end(False)
            yield from writer.failed(stream_error(error, request_id))
            return
        exchange.end(True)
        yield from writer.closing(generation)
