"""ovserve.http.exchange: one request's work from its start to the end of its answer, closed once however
it ends (no engine, no server)."""

import json
import logging

import pytest

from ovserve.errors import EngineFailure
from ovserve.http.exchange import Exchange, StreamBody
from ovserve.http.metrics import RequestRecord
from ovserve.protocol.chat_completions import ChatWriter
from ovserve.protocol.completions import CompletionWriter
from tests.unit.fakes import FakeGeneration, canned_steps

MODEL = "org/exchange-model"


def record():
    started = RequestRecord("Chat", 0.0, {MODEL})
    started.model({"model": MODEL})
    return started


class Watcher:
    """A stand-in for the runtime's watch_disconnect: the test plays the client that leaves."""

    def __init__(self):
        self.leave = None
        self.stopped = 0

    def __call__(self, sock, on_disconnect):
        self.leave = on_disconnect
        return self.stop

    def stop(self):
        self.stopped += 1


def stream(generation, writer=None, watcher=None):
    exchange = Exchange(generation, record(), watcher)
    return exchange, StreamBody(exchange, writer or ChatWriter(MODEL, 1), "request-1")


def events(body):
    payloads = []
    for block in b"".join(body).split(b"\n\n")[:-1]:
        data = block[len(b"data: ") :].decode()
        payloads.append(data if data == "[DONE]" else json.loads(data))
    return payloads


def test_a_stream_read_to_its_end_closes_the_generation_once_and_stops_watching():
    generation, watcher = FakeGeneration(canned_steps(["a", "b"])), Watcher()
    exchange, body = stream(generation, watcher=watcher)
    assert events(body)[-1] == "[DONE]"
    body.close()
    assert generation.close_calls == 1 and watcher.stopped == 1
    assert exchange.record.finished


@pytest.mark.parametrize("chunks_read", [0, 2])
def test_the_server_closing_the_body_early_closes_the_generation_once(chunks_read):
    generation = FakeGeneration(canned_steps(["a", "b", "c"]))
    _, body = stream(generation)
    for _ in range(chunks_read):
        next(body)
    body.close()
    body.close()
    assert generation.close_calls == 1


def test_an_engine_failure_mid_stream_becomes_an_error_event_then_done_without_usage():
    generation = FakeGeneration(
        canned_steps(["partial"], finish_reason=None), fail_with=EngineFailure("the engine process exited")
    )
    _, body = stream(generation, ChatWriter(MODEL, 1, include_usage=True))
    sent = events(body)
    body.close()
    assert sent[-1] == "[DONE]"
    assert sent[-2] == {
        "error": {"message": "the engine process exited", "type": "engine_error", "param": None, "code": None}
    }
    assert sent[1]["choices"][0]["delta"] == {"content": "partial"}
    assert not any(event["choices"] == [] for event in sent[:-2])
    assert generation.close_calls == 1


def test_an_unexpected_exception_mid_stream_is_a_generic_error_event_and_is_logged(caplog):
    generation = FakeGeneration(canned_steps(["x"]), fail_with=KeyError("secret internal detail"))
    _, body = stream(generation, CompletionWriter(MODEL, 1))
    with caplog.at_level(logging.ERROR, logger="ovserve.http"):
        sent = events(body)
    body.close()
    assert sent[-1] == "[DONE]"
    error = sent[-2]["error"]
    assert error["type"] == "internal_error" and "secret" not in error["message"]
    assert "request-1" in caplog.text and "secret internal detail" in caplog.text  # the traceback stays here
    assert generation.close_calls == 1


def test_a_client_that_leaves_cancels_the_generation_once():
    generation, watcher = FakeGeneration(canned_steps(["a", "b"])), Watcher()
    _, body = stream(generation, watcher=watcher)
    next(body)
    watcher.leave()
    watcher.leave()
    body.close()
    assert generation.close_calls == 1 and watcher.stopped == 1


def test_unary_closes_the_generation_once_whether_it_ends_or_fails():
    generation = FakeGeneration(canned_steps(["Hel", "lo"]))
    exchange = Exchange(generation, record())
    assert exchange.unary(ChatWriter(MODEL, 1))["choices"][0]["message"]["content"] == "Hello"
    assert generation.close_calls == 1

    failing = FakeGeneration(canned_steps(["x"]), fail_with=EngineFailure("engine died"))
    with pytest.raises(EngineFailure):
        Exchange(failing, record()).unary(ChatWriter(MODEL, 1))
    assert failing.close_calls == 1


class OneAnswer:
    """A one-answer request (embeddings, rerank) as a node starts it."""

    def __init__(self, answer):
        self.answer = answer
        self.close_calls = 0

    def result(self):
        return self.answer

    def close(self):
        self.close_calls += 1


class EchoWriter:
    def body(self, result):
        return {"result": result}


def test_a_one_answer_request_is_its_writer_s_body_of_the_result():
    work = OneAnswer(42)
    exchange = Exchange(work, record())
    assert exchange.unary(EchoWriter()) == {"result": 42}
    assert work.close_calls == 1 and exchange.record.finished
