"""Every error a client can cause gets OpenAI's error object and the right status; the server stays up."""

import openai
import pytest

from tests.e2e.conftest import DEFAULT_MODEL, PREFIXED_MODEL

CHAT = "/v3/chat/completions"
HELLO = [{"role": "user", "content": "Hello"}]


def assert_openai_error(response, status, param=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize(
    "body, param",
    [
        ({"messages": HELLO}, "model"),
        ({"model": DEFAULT_MODEL}, "messages"),
        ({"model": DEFAULT_MODEL, "messages": []}, "messages"),
        ({"model": DEFAULT_MODEL, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": DEFAULT_MODEL, "messages": "hello"}, "messages"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "temperature": "hot"}, "temperature"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "temperature": 3}, "temperature"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "max_tokens": 1.5}, "max_tokens"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "top_p": 0}, "top_p"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": DEFAULT_MODEL, "messages": HELLO, "logit_bias": {"1": 5}}, "logit_bias"),
    ],
)
def test_invalid_bodies_are_400_naming_the_parameter(http, base_url, body, param):
    error = assert_openai_error(http.post(base_url + CHAT, json=body), 400, param)
    assert error["type"] == "invalid_request_error"


def test_malformed_json_and_wrong_content_type(http, base_url):
    assert_openai_error(
        http.post(base_url + CHAT, data=b'{"model": ', headers={"Content-Type": "application/json"}), 400
    )
    assert_openai_error(
        http.post(base_url + CHAT, data=b"\xff\xfe{}", headers={"Content-Type": "application/json"}), 400
    )
    # curl's form type is read as JSON (as OVMS does): this one isn't JSON. text/plain is refused.
    assert_openai_error(
        http.post(base_url + CHAT, data=b"model=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400
    )
    assert_openai_error(http.post(base_url + CHAT, data=b"model=x", headers={"Content-Type": "text/plain"}), 415)
    assert_openai_error(http.post(base_url + CHAT, data=b"model=x", headers={"Content-Type": "application/xml"}), 415)


def test_unknown_model_is_404_listing_served_models(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-5", messages=HELLO)
    message = caught.value.body["message"]
    assert DEFAULT_MODEL in message and PREFIXED_MODEL in message
    assert caught.value.body["param"] == "model"


def test_wrong_method_and_unknown_route(http, base_url):
    assert_openai_error(http.get(base_url + CHAT), 405)
    assert_openai_error(http.get(base_url + "/v3/nothing-here"), 404)


def test_prompt_plus_max_tokens_over_context_is_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=DEFAULT_MODEL, messages=HELLO, max_tokens=9000)
    assert caught.value.body["param"] == "max_tokens" and "8192" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=DEFAULT_MODEL, prompt="word " * 9000, max_tokens=1)
    assert caught.value.body["code"] == "context_length_exceeded"


def test_max_tokens_limit_of_the_node(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=PREFIXED_MODEL, messages=HELLO, max_tokens=4000)
    assert caught.value.body["param"] == "max_tokens" and "2048" in caught.value.body["message"]


def test_server_still_serves_after_errors(client):
    result = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=HELLO, max_tokens=3, extra_body={"ignore_eos": True}
    )
    assert result.usage.completion_tokens == 3
