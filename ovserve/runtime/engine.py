"""The contract of an engine: the object an engine process steps on behalf of all HTTP workers.

The engine host (`engine_host.py`) is the only caller, from its single thread, so an engine never
needs locks and its native objects have exactly one owner.
"""

from dataclasses import dataclass
from typing import Optional

from ovserve.runtime.messages import FailureKind


class RequestRejected(Exception):
    """The engine refuses one request (bad parameters); others are unaffected."""

    def __init__(self, message, param=None):
        super().__init__(message)
        self.param = param


class EngineBusy(Exception):
    """The engine's wait queue is full: the client should retry later (HTTP 503 + Retry-After)."""


@dataclass(frozen=True)
class RequestFailure:
    """A result that ends one request with an error, found while stepping (the host sends it as
    RequestFailed): `kind` is FailureKind.REJECTED (the request itself is at fault: HTTP 400) or
    FailureKind.ENGINE (the engine could not finish it: HTTP 500)."""

    kind: FailureKind
    message: str
    param: Optional[str] = None


class Engine:
    def __init__(self, options):
        self.options = options

    def info(self) -> dict:
        """Facts sent to every client when it connects."""
        return {}

    def submit(self, key, request):
        """Start a request (the node kind's typed request: GenerationRequest, EmbeddingRequest, ...).
        Raise RequestRejected for a request the engine can't run, EngineBusy when full."""
        raise NotImplementedError

    def cancel(self, key):
        """Stop a request and free what it holds. Unknown keys are ignored."""
        raise NotImplementedError

    def has_work(self):
        raise NotImplementedError

    def step(self):
        """Advance every live request once; return [(key, result, done), ...] for those with news: `result`
        is the node kind's typed result (TokenUpdate, Vectors, ...), or a RequestFailure (with done True):
        that request failed, the others go on."""
        raise NotImplementedError

    def stats(self) -> dict:
        return {}
