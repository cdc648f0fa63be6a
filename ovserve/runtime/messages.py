"""Every message between an HTTP worker and an engine process, named by the way it travels.

Worker -> engine: SubmitRequest, CancelRequest.
Engine -> worker: EngineHello, RequestAccepted, RequestUpdates, RequestFailed, EngineStats.

Requests and results are typed too (the request of a SubmitRequest, the results in RequestUpdates): each
node kind defines its own in its package's `messages.py` (llm: GenerationSettings, GenerationRequest,
TokenUpdate; embeddings: EmbeddingRequest, Vectors; rerank: RerankRequest, Scores).

On the wire (wire.py) a message travels as its tag and its fields, never as a pickled object: measured,
pickling 256 small frozen dataclasses cost 2-7x the plain tuples (class references and reconstruction);
tuples of fields, rebuilt on arrival, cost what the untyped frames did (benchmarks/wire_cost.py).
"""

import enum
import operator
from dataclasses import dataclass, fields
from typing import Optional

_BY_TAG = {}


class WireMessage:
    """Base of the typed messages: on the wire, `(tag, *fields)`; a message holding messages says how."""

    __slots__ = ()
    tag = ""
    _field_names = ()
    _fields_of = staticmethod(lambda message: ())  # the field values as a tuple (set by wire_message)

    def to_wire(self):
        return (self.tag, *self._fields_of(self))

    def fields_tuple(self):
        return self._fields_of(self)

    @classmethod
    def from_wire(cls, value):
        return cls(*value[1:])


def wire_message(cls):
    """Make `cls` a frozen, slotted dataclass known on the wire by its `tag`."""
    cls = dataclass(frozen=True, slots=True)(cls)
    _register(cls)
    cls._field_names = tuple(field.name for field in fields(cls))
    # attrgetter is the fastest way to read the fields; with one name it returns the value, not a tuple.
    getter = operator.attrgetter(*cls._field_names)
    cls._fields_of = staticmethod(getter if len(cls._field_names) > 1 else lambda message: (getter(message),))
    return cls


def wire_record(cls):
    """Make the NamedTuple `cls` known on the wire by its `tag`: for the results an engine sends every step,
    hundreds at a time, where a frozen dataclass costs twice the construction (measured: 256 of them, 250
    against 140 us) and the record is as immutable. It needs `def fields_tuple(self): return tuple(self)`."""
    _register(cls)
    return cls


def _register(cls):
    if cls.tag in _BY_TAG:
        raise TypeError(f"wire tag {cls.tag!r} is used by {_BY_TAG[cls.tag].__name__} already")
    _BY_TAG[cls.tag] = cls


def decode(value):
    """The message a `to_wire()` tuple stands for."""
    return _BY_TAG[value[0]].from_wire(value)


class FailureKind(str, enum.Enum):
    """Why a request failed: the one failure channel, mapped to HTTP in runtime/bridge.py."""

    REJECTED = "rejected"  # the request is at fault: 400
    OVERLOADED = "overloaded"  # the engine is full: 503 with Retry-After
    ENGINE = "engine"  # the engine could not run it: 500
    GONE = "gone"  # the engine stopped or went silent: 503 (decided in the worker)


# --- worker -> engine ------------------------------------------------------------------------
@wire_message
class SubmitRequest(WireMessage):
    """A new request; `request` is the node kind's own (GenerationRequest, EmbeddingRequest, ...)."""

    tag = "submit"
    request_id: int
    request: WireMessage
    sent_at: float = 0.0  # the worker's time.monotonic() as it sent it (follow_ups.py)

    def to_wire(self):
        return (self.tag, self.request_id, self.request.to_wire(), self.sent_at)

    @classmethod
    def from_wire(cls, value):
        return cls(value[1], decode(value[2]), value[3])


@wire_message
class CancelRequest(WireMessage):
    tag = "cancel"
    request_id: int


# --- engine -> worker ------------------------------------------------------------------------
@wire_message
class EngineHello(WireMessage):
    """The first message on every connection: facts about the engine (kind, model, eos token)."""

    tag = "hello"
    info: dict


@wire_message
class RequestAccepted(WireMessage):
    tag = "accepted"
    request_id: int


@wire_message
class RequestUpdates(WireMessage):
    """Every request's news after one engine step, in one frame: `updates` holds (request id, result, done)
    triples, `result` the engine's typed result since the last step (TokenUpdate, Vectors, ...), `done`
    ending the request.

    The one message sent at every step, hundreds of triples at a time, so it skips objects that cost without
    telling more: measured (benchmarks/wire_cost.py), a triple object per request on each side made the
    frame 1.6x as slow as the untyped frame it replaced; plain triples around typed results make it as fast
    (32 requests) or faster (256: 0.83x)."""

    tag = "updates"
    updates: tuple

    def to_wire(self):
        return (
            self.tag,
            [(request_id, result.tag, result.fields_tuple(), done) for request_id, result, done in self.updates],
        )

    @classmethod
    def from_wire(cls, value):
        by_tag = _BY_TAG
        return cls(tuple((request_id, by_tag[tag](*result), done) for request_id, tag, result, done in value[1]))


@wire_message
class RequestFailed(WireMessage):
    """A request failed: the only way a failure travels, whatever its cause."""

    tag = "failed"
    request_id: int
    kind: FailureKind
    message: str
    param: Optional[str] = None

    def __post_init__(self):
        object.__setattr__(self, "kind", FailureKind(self.kind))

    def to_wire(self):
        return (self.tag, self.request_id, self.kind.value, self.message, self.param)


@wire_message
class EngineStats(WireMessage):
    """The engine's counters, every second even when idle (silence means a stuck loop)."""

    tag = "stats"
    stats: dict
