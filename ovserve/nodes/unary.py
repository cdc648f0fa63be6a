"""The worker side of a one-shot engine request (embeddings, rerank): one answer, then done."""

from ovserve.errors import EngineFailure


class EngineResult:
    """result() waits for the engine's answer and converts it; close() cancels the request if unfinished."""

    def __init__(self, stream, convert):
        self._stream = stream
        self._convert = convert

    def result(self):
        for update in self._stream:  # the engine sends one update, marked done
            if "error" in update:
                raise EngineFailure(f"The engine failed the request: {update['error']}")
            return self._convert(update)
        raise RuntimeError("the engine finished the request without an answer")

    def close(self):
        self._stream.close()
