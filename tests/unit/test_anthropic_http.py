"""The Messages routes of the Falcon app over fake nodes: answers, Anthropic's error shape on every error of
these routes (before and after the body is read), x-api-key, CORS preflights."""

import pytest
from falcon import testing

from ovserve.graph.registry import ServableRegistry
from ovserve.http.app import AppOptions, create_app
from tests.unit.test_http import MODEL, OTHER, fake_servable

KEY = "sk-unit-anthropic"
HELLO = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}


def build(**options):
    return testing.TestClient(
        create_app(ServableRegistry([fake_servable(MODEL), fake_servable(OTHER)]), AppOptions(**options))
    )


def assert_anthropic_error(result, status, error_type):
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["type"] == "error" and set(result.json["error"]) == {"type", "message"}, result.json
    assert result.json["error"]["type"] == error_type and result.json["error"]["message"]
    return result.json["error"]["message"]


@pytest.mark.parametrize("prefix", ["/v1", "/v3"])
def test_a_message_and_its_stream(prefix):
    client = build()
    message = client.simulate_post(f"{prefix}/messages", json=HELLO).json
    assert message["content"] == [{"type": "text", "text": "Hello!"}] and message["stop_reason"] == "end_turn"
    stream = client.simulate_post(f"{prefix}/messages", json={**HELLO, "stream": True})
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text.startswith("event: message_start\n") and stream.text.endswith(
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


@pytest.mark.parametrize(
    "kwargs, status, error_type",
    [
        ({"body": b'{"model": '}, 400, "invalid_request_error"),
        ({"json": {**HELLO, "model": "nope"}}, 404, "not_found_error"),
        ({"json": {key: value for key, value in HELLO.items() if key != "max_tokens"}}, 400, "invalid_request_error"),
        ({"json": {**HELLO, "temperature": 1.5}}, 400, "invalid_request_error"),
        ({"body": b"x" * 5000}, 413, "request_too_large"),
        ({"body": b"<x/>", "headers": {"Content-Type": "application/xml"}}, 415, "invalid_request_error"),
    ],
)
def test_errors_on_the_messages_route_are_in_anthropics_shape(kwargs, status, error_type):
    kwargs.setdefault("headers", {"Content-Type": "application/json"})
    client = testing.TestClient(create_app(ServableRegistry([fake_servable(MODEL)]), AppOptions(max_body_bytes=2048)))
    assert_anthropic_error(client.simulate_post("/v1/messages", **kwargs), status, error_type)
    if "body" in kwargs:  # an error before the body is parsed: the chat route keeps OpenAI's shape
        assert set(client.simulate_post("/v1/chat/completions", **kwargs).json) == {"error"}


def test_wrong_method_and_count_tokens_errors_are_anthropics_too():
    client = build()
    assert_anthropic_error(client.simulate_get("/v1/messages"), 405, "invalid_request_error")
    # the fake node can't tokenize: a 400 naming the model, in Anthropic's shape
    message = assert_anthropic_error(
        client.simulate_post("/v1/messages/count_tokens", json={"model": MODEL, "messages": HELLO["messages"]}),
        400,
        "invalid_request_error",
    )
    assert "model" in message
    assert_anthropic_error(
        client.simulate_post("/v1/messages/count_tokens", json={**HELLO}), 400, "invalid_request_error"
    )


def test_x_api_key_is_accepted_and_a_bad_key_is_an_authentication_error():
    client = build(api_keys=(KEY,))
    assert client.simulate_post("/v1/messages", json=HELLO, headers={"x-api-key": KEY}).status_code == 200
    assert (
        client.simulate_post("/v1/messages", json=HELLO, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    )
    assert_anthropic_error(client.simulate_post("/v1/messages", json=HELLO), 401, "authentication_error")
    bad = client.simulate_post("/v1/messages", json=HELLO, headers={"x-api-key": "nope"})
    assert_anthropic_error(bad, 401, "authentication_error")
    counted = client.simulate_post("/v1/messages/count_tokens", json=HELLO, headers={"x-api-key": "nope"})
    assert_anthropic_error(counted, 401, "authentication_error")
    # an empty x-api-key next to a Bearer one that is wrong is still refused
    both = client.simulate_post(
        "/v1/chat/completions", json=HELLO, headers={"Authorization": "Bearer nope", "x-api-key": ""}
    )
    assert both.status_code == 401 and both.json["error"]["code"] == "invalid_api_key"


def test_cors_preflight_offers_anthropics_headers():
    client = build(api_keys=(KEY,), cors_origins=("https://app.example",))
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    result = client.simulate_options("/v1/messages", headers=preflight)
    assert result.status_code == 200
    allowed = result.headers["access-control-allow-headers"].lower()
    assert {"x-api-key", "anthropic-version", "anthropic-beta"} <= {h.strip() for h in allowed.split(",")}
    asked = dict(preflight, **{"Access-Control-Request-Headers": "x-api-key, anthropic-version, content-type"})
    assert (
        "anthropic-version"
        in client.simulate_options("/v1/messages", headers=asked).headers["access-control-allow-headers"]
    )
