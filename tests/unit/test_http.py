"""ovserve.http: the Falcon app over a registry of fake nodes (no engine, no server process)."""

import io
import json
from pathlib import Path

import pytest
from falcon import testing

from ovserve.errors import InvalidRequest
from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http import app as app_module
from ovserve.http.body import BodyTooLarge, read_json
from tests.unit.conftest import load_fixture, read_fixture
from tests.unit.fakes import FakeGenerator

MODEL = "org/echo-model"
OTHER = "plain"
MAX_BODY = 2048
JSON = {"Content-Type": "application/json"}


def fake_servable(name):
    context = NodeContext(name, "gen", Path("/fake") / name / "graph.json", "$.nodes[0].options")
    return Servable(name, [], FakeGenerator({}, context))


@pytest.fixture
def registry():
    return ServableRegistry([fake_servable(MODEL), fake_servable(OTHER)])


def build_app(registry, max_body_bytes):
    """create_app with a body limit, whether it takes AppOptions or keyword arguments."""
    options_class = getattr(app_module, "AppOptions", None)
    if options_class is not None:
        return app_module.create_app(registry, options_class(max_body_bytes=max_body_bytes))
    return app_module.create_app(registry, max_body_bytes=max_body_bytes)


@pytest.fixture
def client(registry):
    return testing.TestClient(build_app(registry, MAX_BODY))


def assert_openai_error(result, status, error_type=None):
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    error = result.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    if error_type:
        assert error["type"] == error_type
    return error


def sse_events(result):
    assert result.headers["content-type"] == "text/event-stream"
    assert result.text.endswith("\n\n")
    events = []
    for block in result.text.split("\n\n")[:-1]:
        assert block.startswith("data: ")
        data = block[len("data: "):]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


# --- generation routes ----------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["/v3", "/v1"])
def test_chat_completion_unary_on_both_prefixes(client, registry, prefix):
    result = client.simulate_post(prefix + "/chat/completions", json=load_fixture("payloads", "chat_basic.json"))
    assert result.status_code == 200
    body = result.json
    assert body["object"] == "chat.completion" and body["model"] == MODEL
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello!"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    node = registry.get(MODEL).terminal
    assert node.requests[-1].messages[-1]["content"] == "Hello"
    assert node.generations[-1].close_calls == 1
    assert registry.get(OTHER).terminal.requests == []


@pytest.mark.parametrize("prefix", ["/v3", "/v1"])
def test_text_completion_unary_on_both_prefixes(client, prefix):
    body = dict(load_fixture("payloads", "completion_basic.json"), model=OTHER)
    result = client.simulate_post(prefix + "/completions", json=body)
    assert result.status_code == 200
    assert result.json["object"] == "text_completion"
    assert result.json["choices"][0]["text"] == "Hello!"


def test_chat_completion_stream_is_sse(client, registry):
    body = load_fixture("payloads", "chat_all_sampling.json")
    body["n"] = 1
    result = client.simulate_post("/v3/chat/completions", json=body)
    assert result.status_code == 200
    assert result.headers["cache-control"] == "no-cache"
    events = sse_events(result)
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["delta"].get("content", "") for e in events[1:-2] for c in e["choices"])
    assert text == "Hello!"
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] == 7
    assert registry.get(MODEL).terminal.generations[-1].close_calls == 1


def test_completion_stream_is_sse(client):
    result = client.simulate_post("/v1/completions", json=load_fixture("payloads", "completion_prompt_list.json"))
    events = sse_events(result)
    assert events[-1] == "[DONE]"
    assert all(event["object"] == "text_completion" for event in events[:-1])
    assert "".join(event["choices"][0]["text"] for event in events[:-1]) == "Hello!"


def test_request_id_reaches_the_node_and_is_echoed(client, registry):
    result = client.simulate_post("/v3/chat/completions", json=load_fixture("payloads", "chat_basic.json"),
                                  headers={"x-request-id": "client-chosen-id"})
    assert result.headers["x-request-id"] == "client-chosen-id"
    assert registry.get(MODEL).terminal.requests[-1].request_id == "client-chosen-id"


def test_long_request_id_is_truncated_to_128_characters(client):
    result = client.simulate_get("/v2/health/live", headers={"x-request-id": "r" * 500})
    assert result.headers["x-request-id"] == "r" * 128


def test_request_id_is_made_when_not_sent(client):
    first = client.simulate_get("/v2/health/live").headers["x-request-id"]
    second = client.simulate_get("/v2/health/live").headers["x-request-id"]
    assert first and second and first != second


def test_request_id_is_echoed_on_errors_too(client):
    result = client.simulate_get("/v3/nowhere", headers={"x-request-id": "abc"})
    assert result.headers["x-request-id"] == "abc"


# --- errors in OpenAI's shape ----------------------------------------------------------------------

def test_unknown_model_is_404_listing_served_names(client):
    body = dict(load_fixture("payloads", "chat_basic.json"), model="gpt-4o")
    error = assert_openai_error(client.simulate_post("/v3/chat/completions", json=body), 404, "invalid_request_error")
    assert error["param"] == "model" and error["code"] == "model_not_found"
    assert MODEL in error["message"] and OTHER in error["message"]


def test_unknown_route_is_404_in_openai_shape(client):
    error = assert_openai_error(client.simulate_get("/v3/embeddings-not-here"), 404, "not_found")
    assert "/v3/embeddings-not-here" in error["message"]


def test_wrong_method_is_405_in_openai_shape(client):
    error = assert_openai_error(client.simulate_get("/v3/chat/completions"), 405, "method_not_allowed")
    assert "GET" in error["message"]


def test_text_plain_is_415(client):
    result = client.simulate_post("/v3/chat/completions", body=read_fixture("payloads", "chat_basic.json"),
                                  headers={"Content-Type": "text/plain"})
    error = assert_openai_error(result, 415)
    assert "text/plain" in error["message"]


def test_json_with_charset_and_vendor_json_types_are_accepted(client):
    body = read_fixture("payloads", "chat_basic.json")
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        result = client.simulate_post("/v3/chat/completions", body=body, headers={"Content-Type": content_type})
        assert result.status_code == 200, content_type


def test_invalid_json_is_400(client):
    result = client.simulate_post("/v3/chat/completions", body='{"model": "x",', headers=JSON)
    error = assert_openai_error(result, 400, "invalid_request_error")
    assert "not valid JSON" in error["message"] and "line 1" in error["message"]


def test_invalid_utf8_is_400(client):
    result = client.simulate_post("/v3/chat/completions", body=b'{"model": "\xff\xfe"}', headers=JSON)
    error = assert_openai_error(result, 400, "invalid_request_error")
    assert "not valid UTF-8" in error["message"]


def test_empty_body_is_400(client):
    assert_openai_error(client.simulate_post("/v3/completions", body=b"", headers=JSON), 400)


def test_body_over_the_limit_is_413(client):
    body = dict(load_fixture("payloads", "chat_basic.json"))
    body["messages"] = [{"role": "user", "content": "x" * MAX_BODY}]
    raw = json.dumps(body).encode()
    error = assert_openai_error(client.simulate_post("/v3/chat/completions", body=raw, headers=JSON), 413)
    # rejected from the declared Content-Length, before the body is read
    assert f"The request body is {len(raw)} bytes; the limit is {MAX_BODY}." in error["message"]


def test_body_at_the_limit_is_accepted(client):
    body = load_fixture("payloads", "chat_basic.json")
    raw = json.dumps(body)
    raw = raw[:-1] + " " * (MAX_BODY - len(raw)) + "}"
    assert len(raw.encode()) == MAX_BODY
    assert client.simulate_post("/v3/chat/completions", body=raw, headers=JSON).status_code == 200


def test_invalid_parameter_is_400_naming_it(client):
    body = dict(load_fixture("payloads", "chat_basic.json"), temperature="hot")
    error = assert_openai_error(client.simulate_post("/v3/chat/completions", json=body), 400, "invalid_request_error")
    assert error["param"] == "temperature"


def test_unexpected_exception_is_500_without_internals(client, registry):
    def explode(chat_input):
        raise RuntimeError("secret internal detail")

    registry.get(MODEL).terminal.chat = explode
    error = assert_openai_error(client.simulate_post("/v3/chat/completions",
                                                     json=load_fixture("payloads", "chat_basic.json")), 500)
    assert error["type"] == "internal_error" and "secret" not in error["message"]


# --- models, health, readiness ------------------------------------------------------------------------

def test_models_listing(client):
    result = client.simulate_get("/v1/models")
    assert result.status_code == 200
    assert result.json["object"] == "list"
    assert [card["id"] for card in result.json["data"]] == [MODEL, OTHER]
    card = result.json["data"][0]
    assert card["object"] == "model" and card["owned_by"] == "ovserve" and card["max_model_len"] == 2048


def test_model_card_for_a_name_with_a_slash(client):
    result = client.simulate_get(f"/v3/models/{MODEL}")
    assert result.status_code == 200 and result.json["id"] == MODEL
    assert_openai_error(client.simulate_get("/v3/models/org/other"), 404)


def test_health_live(client):
    result = client.simulate_get("/v2/health/live")
    assert result.status_code == 200 and result.json == {"live": True}


def test_health_ready_is_503_when_a_node_is_not_ready(client, registry):
    result = client.simulate_get("/v2/health/ready")
    assert result.status_code == 200
    assert result.json["ready"] is True and result.json["not_ready"] == []
    registry.get(OTHER).terminal.ready = False
    result = client.simulate_get("/v2/health/ready")
    assert result.status_code == 503
    assert result.json["ready"] is False and result.json["not_ready"] == [OTHER]


def test_health_live_does_not_depend_on_readiness(client, registry):
    registry.get(MODEL).terminal.ready = False
    assert client.simulate_get("/v2/health/live").status_code == 200


def test_model_ready_with_a_slash_in_the_name(client, registry):
    result = client.simulate_get(f"/v2/models/{MODEL}/ready")
    assert result.status_code == 200 and result.json == {"name": MODEL, "ready": True}
    registry.get(MODEL).terminal.ready = False
    result = client.simulate_get(f"/v2/models/{MODEL}/ready")
    assert result.status_code == 503 and result.json == {"name": MODEL, "ready": False}
    assert client.simulate_get(f"/v2/models/{OTHER}/ready").status_code == 200


def test_model_ready_unknown_model_is_404(client):
    error = assert_openai_error(client.simulate_get("/v2/models/org/nope/ready"), 404)
    assert error["code"] == "model_not_found"


def test_model_ready_wrong_method_is_405(client):
    assert_openai_error(client.simulate_post(f"/v2/models/{MODEL}/ready"), 405, "method_not_allowed")


# --- the WSGI server closing a stream early (client gone) ----------------------------------------------

def start_stream(registry):
    """Call the WSGI app as a server would; return the response iterable and the node's generation."""
    app = build_app(registry, MAX_BODY)
    environ = testing.create_environ(path="/v3/chat/completions", method="POST", headers=JSON,
                                     body=json.dumps(dict(load_fixture("payloads", "chat_basic.json"), stream=True)))
    statuses = []
    iterable = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    assert statuses == ["200 OK"]
    return iterable, registry.get(MODEL).terminal.generations[-1]


def test_server_closing_the_response_mid_stream_closes_the_generation(registry):
    iterable, generation = start_stream(registry)
    iterator = iter(iterable)
    assert next(iterator).startswith(b"data: ")
    iterable.close()
    assert generation.close_calls == 1


def test_server_closing_the_response_before_reading_closes_the_generation(registry):
    iterable, generation = start_stream(registry)
    iterable.close()
    assert generation.close_calls == 1


# --- body reading without Content-Length ----------------------------------------------------------------

class ChunkedRequest:
    """Just what read_json needs of a request sent with chunked encoding (no Content-Length)."""

    content_type = "application/json"
    content_length = None

    def __init__(self, raw):
        self.bounded_stream = io.BytesIO(raw)


def test_chunked_body_over_the_limit_is_413():
    with pytest.raises(BodyTooLarge, match="exceeds the limit of 10 bytes"):
        read_json(ChunkedRequest(b'{"a": "0123456789"}'), max_bytes=10)


def test_chunked_body_within_the_limit_is_read():
    assert read_json(ChunkedRequest(b'{"a": 1}'), max_bytes=8) == {"a": 1}


def test_deeply_nested_json_is_a_400_not_a_crash():
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        read_json(ChunkedRequest(b"[" * 100000 + b"]" * 100000), max_bytes=10 ** 6)
