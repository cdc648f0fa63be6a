"""The worker side of a one-shot engine request (embeddings, rerank): one answer, then done."""


class EngineResult:
    """result() waits for the engine's answer and converts it; close() cancels the request if unfinished."""

    def __init__(self, stream, convert):
        self._stream = stream
        self._convert = convert

    def result(self):
        # The engine sends one result, marked done; a failure raises from the stream (bridge.py).
        for result in self._stream:
            return self._convert(result)
        raise RuntimeError("the engine finished the request without an answer")

    def close(self):
        self._stream.close()
