"""ovserve.http: the Falcon app over a registry of fake nodes (no engine, no server process)."""

import json
import logging
from pathlib import Path

import falcon
import pytest
from falcon import testing

from ovserve.errors import InvalidRequest
from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http import app as app_module
from ovserve.http.body import BodyTooLarge, read_json
from ovserve.http.middleware import PrintableFormatter
from ovserve.http.pipeline import Pipeline
from ovserve.http.resources.api import ApiResource
from ovserve.protocol.api import Api
from ovserve.protocol.chat_completions import parse_chat_call
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
        data = block[len("data: ") :]
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
    assert body["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 3,
        "total_tokens": 7,
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
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
    result = client.simulate_post(
        "/v3/chat/completions",
        json=load_fixture("payloads", "chat_basic.json"),
        headers={"x-request-id": "client-chosen-id"},
    )
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


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_curls_form_type_and_no_type_are_read_as_json(client, content_type):
    """As OVMS: `curl -d` without -H sends the form type; the body is JSON all the same."""
    headers = {"Content-Type": content_type} if content_type else {}
    result = client.simulate_post(
        "/v3/chat/completions", body=read_fixture("payloads", "chat_basic.json"), headers=headers
    )
    assert result.status_code == 200, result.text


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=x", "application/xml", "application/octet-stream", "text/plain"]
)
def test_other_content_types_are_415(client, content_type):
    result = client.simulate_post(
        "/v3/chat/completions", body=read_fixture("payloads", "chat_basic.json"), headers={"Content-Type": content_type}
    )
    error = assert_openai_error(result, 415)
    assert content_type.split(";")[0] in error["message"]


def test_a_form_body_that_is_not_json_is_400_not_415(client):
    result = client.simulate_post(
        "/v3/chat/completions", body="model=x&prompt=y", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "not valid JSON" in assert_openai_error(result, 400)["message"]


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
    error = assert_openai_error(
        client.simulate_post("/v3/chat/completions", json=load_fixture("payloads", "chat_basic.json")), 500
    )
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
    assert result.status_code == 200 and result.json == {"name": MODEL, "ready": True, "state": "ready"}
    registry.get(MODEL).terminal.ready = False
    result = client.simulate_get(f"/v2/models/{MODEL}/ready")
    assert result.status_code == 503 and result.json == {"name": MODEL, "ready": False, "state": "loading"}
    assert client.simulate_get(f"/v2/models/{OTHER}/ready").status_code == 200


def test_model_ready_unknown_model_is_404(client):
    error = assert_openai_error(client.simulate_get("/v2/models/org/nope/ready"), 404)
    assert error["code"] == "model_not_found"


def test_model_ready_wrong_method_is_405(client):
    assert_openai_error(client.simulate_post(f"/v2/models/{MODEL}/ready"), 405, "method_not_allowed")


# --- the WSGI server closing a stream early (client gone) ----------------------------------------------


def start_stream(registry, options=None):
    """Call the WSGI app as a server would; return the response iterable and the node's generation."""
    app = app_module.create_app(registry, options) if options else build_app(registry, MAX_BODY)
    environ = testing.create_environ(
        path="/v3/chat/completions",
        method="POST",
        headers=JSON,
        body=json.dumps(dict(load_fixture("payloads", "chat_basic.json"), stream=True)),
    )
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


def test_the_stream_body_goes_through_the_runtime_s_write_bound_and_closes_once(registry):
    bounded = []

    def bound_stream_writes(body, sock):
        bounded.append(body)
        return body

    app = app_module.create_app(registry, app_module.AppOptions(bound_stream_writes=bound_stream_writes))
    result = testing.TestClient(app).simulate_post(
        "/v3/chat/completions", json=dict(load_fixture("payloads", "chat_basic.json"), stream=True)
    )
    assert sse_events(result)[-1] == "[DONE]" and len(bounded) == 1
    assert registry.get(MODEL).terminal.generations[-1].close_calls == 1


def test_a_client_that_leaves_cancels_its_generation(registry):
    leaving = []

    def watch_disconnect(sock, on_disconnect):
        leaving.append(on_disconnect)
        return lambda: None

    iterable, generation = start_stream(registry, app_module.AppOptions(watch_disconnect=watch_disconnect))
    leaving[0]()
    assert generation.close_calls == 1
    iterable.close()
    assert generation.close_calls == 1


def test_a_draining_server_refuses_new_requests_with_503(registry):
    app = app_module.create_app(registry, app_module.AppOptions(is_draining=lambda: True))
    result = testing.TestClient(app).simulate_post(
        "/v3/chat/completions", json=load_fixture("payloads", "chat_basic.json")
    )
    assert "shutting down" in assert_openai_error(result, 503, "service_unavailable")["message"]
    assert registry.get(MODEL).terminal.requests == []


def test_several_prompts_are_one_answer_each_generation_closed_once(client, registry):
    body = dict(load_fixture("payloads", "completion_basic.json"), model=OTHER, prompt=["a", "b"], n=1)
    result = client.simulate_post("/v3/completions", json=body)
    assert [(c["index"], c["text"]) for c in result.json["choices"]] == [(0, "Hello!"), (1, "Hello!")]
    generations = registry.get(OTHER).terminal.generations
    assert len(generations) == 2 and [g.close_calls for g in generations] == [1, 1]


def anthropic_like_error(error):
    return {"type": "error", "error": {"type": error.error_type, "message": error.message}}


@pytest.mark.parametrize(
    "method, body, status",
    [
        ("POST", {"model": "no-such-model", "messages": [{"role": "user", "content": "Hi"}]}, 404),
        ("POST", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"}, 400),
        ("GET", None, 405),
    ],
)
def test_an_api_answers_every_error_in_its_own_shape(registry, method, body, status):
    """What another API (Anthropic's Messages) needs of the edge: a route, an Api with its error object."""
    app = app_module.create_app(registry)
    api = Api("chat.completions", parse_chat_call, Servable.chat, anthropic_like_error)
    app.add_route("/v3/other-chat", ApiResource(Pipeline(registry, app_module.AppOptions()), api))
    result = testing.TestClient(app).simulate_request(method, "/v3/other-chat", json=body)
    assert result.status_code == status
    assert result.json["type"] == "error" and set(result.json["error"]) == {"type", "message"}
    assert_openai_error(testing.TestClient(app).simulate_get("/v3/nowhere"), 404)  # other paths keep OpenAI's


# --- body reading without Content-Length ----------------------------------------------------------------


def chunked_environ(path, raw, terminated=True):
    """A POST as gunicorn hands it over with `Transfer-Encoding: chunked`: no CONTENT_LENGTH, the chunks
    already decoded in wsgi.input, which ends after the last one (wsgi.input_terminated)."""
    environ = testing.create_environ(
        path=path, method="POST", body=raw, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = terminated
    return environ


def call_app(app, environ):
    """(status code, JSON body) of one request, calling the WSGI app as a server would."""
    statuses = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return int(statuses[0][:3]), json.loads(body)


def chunked_request(raw, terminated=True):
    return falcon.Request(chunked_environ("/v3/completions", raw, terminated))


def test_chunked_body_is_read():
    assert read_json(chunked_request(b'{"a": 1}'), max_bytes=8) == {"a": 1}


def test_chunked_body_over_the_limit_is_413():
    with pytest.raises(BodyTooLarge, match="exceeds the limit of 10 bytes"):
        read_json(chunked_request(b'{"a": "0123456789"}'), max_bytes=10)


def test_chunked_chat_completion_is_answered_and_an_oversized_one_is_413(registry):
    app = build_app(registry, MAX_BODY)
    body = read_fixture("payloads", "chat_basic.json").encode()
    status, answer = call_app(app, chunked_environ("/v3/chat/completions", body))
    assert status == 200 and answer["choices"][0]["message"]["content"] == "Hello!"
    padded = body[:-1] + b" " * MAX_BODY + b"}"
    status, answer = call_app(app, chunked_environ("/v3/chat/completions", padded))
    assert status == 413 and f"exceeds the limit of {MAX_BODY} bytes" in answer["error"]["message"]


def test_body_without_length_is_empty_when_the_server_does_not_end_the_stream():
    """Reading to the end of a wsgi.input that the server does not terminate could block for good."""
    with pytest.raises(InvalidRequest, match="empty"):
        read_json(chunked_request(b'{"a": 1}', terminated=False))


def test_lone_surrogate_escape_is_400_and_an_escaped_pair_is_fine():
    with pytest.raises(InvalidRequest, match="lone surrogate"):
        read_json(chunked_request(b'{"messages": [{"content": "a\\ud800b"}]}'))
    with pytest.raises(InvalidRequest, match="lone surrogate"):
        read_json(chunked_request(b'{"\\udc00": 1}'))
    assert read_json(chunked_request(b'{"a": "\\ud83d\\ude00 \\\\ud800"}')) == {"a": "\U0001f600 \\ud800"}


def test_deeply_nested_json_is_a_400_not_a_crash():
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        read_json(chunked_request(b"[" * 100000 + b"]" * 100000), max_bytes=10**6)


# --- the access log: one line per request, whatever the request holds -----------------------------------


def access_lines(caplog):
    formatter = PrintableFormatter("%(levelname)s %(name)s: %(message)s")
    return [formatter.format(record) for record in caplog.records if record.name == "ovserve.access"]


def test_a_newline_in_the_path_cannot_forge_an_access_log_line(client, caplog):
    forged = read_fixture("requests", "forged_log_line.txt").strip()  # %0A: a newline once URL-decoded
    caplog.set_level("INFO", logger="ovserve.access")
    assert client.simulate_get(forged).status_code == 404
    [line] = access_lines(caplog)
    assert "\n" not in line and line.startswith("INFO ovserve.access: GET /v3/models\\x0a2030-01-01 00:00:00,000")
    assert "request_id=FORGED 404 " in line  # the forged text stays in the path, the real status follows


def test_control_characters_in_the_request_id_and_separators_in_the_path_are_escaped(client, caplog):
    caplog.set_level("INFO", logger="ovserve.access")
    # A header arrives as latin-1: the bytes of U+0085 (NEL, a line break to some readers) are "\xc2\x85".
    client.simulate_get("/v2/health/live%E2%80%A8%E2%80%AE%1B[2J\\x0a", headers={"x-request-id": "id\xc2\x85zwei"})
    [line] = access_lines(caplog)
    assert "/v2/health/live\\u2028\\u202e\\x1b[2J\\\\x0a" in line and "request_id=id\xc2\\x85zwei" in line
    assert line.isprintable()


def test_printable_formatter_keeps_each_record_on_one_line():
    record = logging.LogRecord(
        "ovserve.protocol", logging.WARNING, __file__, 1, "stream %s ended: %s", ("x", "a\nb\r\x85c"), None
    )
    assert PrintableFormatter("%(message)s").format(record) == "stream x ended: a\\x0ab\\x0d\\x85c"
