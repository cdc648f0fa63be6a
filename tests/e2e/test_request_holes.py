"""Requests that used to get a 500, a wrong count, a minute of generation or a mislabelled answer (issue 10)."""

import pytest

from tests.e2e.conftest import DEFAULT_MODEL

HELLO = [{"role": "user", "content": "Hello"}]
WORDS = ("apple", "river", "stone", "cloud", "music", "green")


def post(http, base_url, path, body):
    return http.post(base_url + path, json=body, timeout=120)


def error_of(response, status=400):
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.mark.parametrize("name", ["add_generation_prompt", "messages", "self"])
def test_chat_template_kwargs_the_server_sets_are_a_400_naming_the_key(http, base_url, name):
    body = {"model": DEFAULT_MODEL, "messages": HELLO, "max_tokens": 1, "chat_template_kwargs": {name: True}}
    error = error_of(post(http, base_url, "/v3/chat/completions", body))  # was a 500 (TypeError in render_chat)
    assert (error["param"], error["code"]) == (f"chat_template_kwargs.{name}", "invalid_value")


def words(count, start=0):
    return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(count))


def count(http, base_url, **body):
    response = post(http, base_url, "/v3/tokenize", {"model": DEFAULT_MODEL, **body})
    assert response.status_code == 200, response.text
    return response.json()["count"]


def test_tokenize_counts_a_prompt_past_the_gguf_tokenizers_8192_token_cut(http, base_url):
    text = words(9000)
    # The whole is the sum of its parts: splitting before " word" does not change byte-level BPE tokens.
    pieces = [
        count(http, base_url, prompt=(" " if start else "") + words(1000, start), add_special_tokens=False)
        for start in range(0, 9000, 1000)
    ]
    whole = count(http, base_url, prompt=text, add_special_tokens=False)
    assert whole == sum(pieces) > 8192  # was 8192
    chat_count = count(http, base_url, messages=[{"role": "user", "content": text}])
    assert chat_count > whole
    error = error_of(
        post(
            http,
            base_url,
            "/v3/chat/completions",
            {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 1},
        )
    )
    assert error["code"] == "context_length_exceeded"
    assert f"the prompt alone is {chat_count} tokens" in error["message"]  # was "... is 8192 tokens"


@pytest.mark.parametrize(
    "messages, param",
    [
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "system", "content": None}, {"role": "user", "content": "Hi"}], "messages[0].content"),
        (
            [{"role": "user", "content": "Hi"}, {"role": "assistant"}, {"role": "user", "content": "Go on"}],
            "messages[1].content",
        ),
    ],
)
def test_a_message_without_content_is_a_400_naming_it(http, base_url, messages, param):
    # max_tokens keeps the old behaviour short: it answered 200, and without max_tokens generated for over a minute.
    error = error_of(
        post(http, base_url, "/v3/chat/completions", {"model": DEFAULT_MODEL, "messages": messages, "max_tokens": 1})
    )
    assert (error["param"], error["code"]) == (param, "invalid_value")
    assert (
        error_of(post(http, base_url, "/v3/tokenize", {"model": DEFAULT_MODEL, "messages": messages}))["param"] == param
    )


@pytest.mark.parametrize(
    "path, body, param",
    [
        (
            "/v3/chat/completions",
            {"messages": HELLO, "logprobs": True, "top_logprobs": 1, "temperature": 0.8},
            "top_logprobs",
        ),
        (
            "/v3/chat/completions",
            {"messages": HELLO, "logprobs": True, "top_logprobs": 1},
            "top_logprobs",
        ),  # the default: 0.2
        ("/v3/completions", {"prompt": "Hello", "logprobs": 1, "temperature": 0.8}, "logprobs"),
    ],
)
def test_top_logprobs_while_sampling_is_a_400_naming_it(http, base_url, path, body, param):
    # It used to answer 200 and list the sampled token as the most likely one.
    error = error_of(post(http, base_url, path, {"model": DEFAULT_MODEL, "max_tokens": 3, **body}))
    assert (error["param"], error["code"]) == (param, "unsupported_value")


def test_sampled_tokens_logprobs_are_served_without_alternatives_and_greedy_top_logprobs_is_the_token(http, base_url):
    body = {"model": DEFAULT_MODEL, "messages": HELLO, "max_tokens": 4, "logprobs": True}
    sampled = post(http, base_url, "/v3/chat/completions", {**body, "temperature": 0.8})
    assert sampled.status_code == 200, sampled.text
    entries = sampled.json()["choices"][0]["logprobs"]["content"]
    assert entries and all(entry["top_logprobs"] == [] for entry in entries)
    greedy = post(http, base_url, "/v3/chat/completions", {**body, "temperature": 0, "top_logprobs": 1})
    assert greedy.status_code == 200, greedy.text
    for entry in greedy.json()["choices"][0]["logprobs"]["content"]:
        assert entry["top_logprobs"] == [
            {"token": entry["token"], "logprob": entry["logprob"], "bytes": entry["bytes"]}
        ]
