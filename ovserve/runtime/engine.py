"""The contract of an engine: the object an engine process steps on behalf of all HTTP workers.

The engine host (`engine_host.py`) is the only caller, from its single thread, so an engine never
needs locks and its native objects have exactly one owner.
"""

from dataclasses import dataclass


class RequestRejected(Exception):
    """The engine refuses one request (bad parameters); others are unaffected."""


class EngineBusy(Exception):
    """The engine's wait queue is full: the client should retry later (HTTP 503 + Retry-After)."""


@dataclass(frozen=True)
class RequestFailure:
    """An update that ends one request with an error, found while stepping: `kind` is "rejected" (the
    request itself is at fault: HTTP 400) or "engine" (the engine could not finish it: HTTP 500)."""

    kind: str
    message: str


class Engine:
    def __init__(self, options):
        self.options = options

    def info(self):
        """Facts sent to every client when it connects."""
        return {}

    def submit(self, key, payload):
        """Start a request. Raise RequestRejected for a request the engine can't run, EngineBusy when full."""
        raise NotImplementedError

    def cancel(self, key):
        """Stop a request and free what it holds. Unknown keys are ignored."""
        raise NotImplementedError

    def has_work(self):
        raise NotImplementedError

    def step(self):
        """Advance every live request once; return [(key, update, done), ...] for those with news. An update
        may be a RequestFailure (with done True): that request failed, the others go on."""
        raise NotImplementedError

    def stats(self):
        return {}
