"""Chat completions through the real server with the official openai client and raw HTTP.

Tests that compare generated text between requests use the deterministic servable (see conftest.py).
"""

import json

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL

CAPITAL = [{"role": "user", "content": "What is the capital of France?"}]


def test_unary_chat_has_openai_shape_and_true_usage(http, base_url):
    response = http.post(
        f"{base_url}/v3/chat/completions", json={"model": DEFAULT_MODEL, "messages": CAPITAL, "temperature": 0}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "object", "created", "model", "choices", "usage"}
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == DEFAULT_MODEL and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": choice["message"]["content"]},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert "Paris" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # ChatML with the template's default system prompt: far more than the 8 words of the question
    assert usage["prompt_tokens"] > 20 and usage["completion_tokens"] >= 5


def test_multi_turn_conversation(client):
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada!"},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    result = client.chat.completions.create(model=DEFAULT_MODEL, messages=messages, temperature=0, max_tokens=30)
    assert "Ada" in result.choices[0].message.content
    single = client.chat.completions.create(model=DEFAULT_MODEL, messages=messages[-1:], temperature=0, max_tokens=1)
    assert result.usage.prompt_tokens > single.usage.prompt_tokens + 10  # all turns reached the prompt


def test_streaming_chat_yields_tokens_one_by_one_and_matches_unary(client):
    kwargs = dict(model=DETERMINISTIC_MODEL, messages=CAPITAL, temperature=0, max_tokens=40)
    unary = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 5  # token by token, not one blob
    assert "".join(pieces) == unary.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [unary.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == unary.usage.completion_tokens
    assert all(c.id == chunks[0].id and c.object == "chat.completion.chunk" for c in chunks)


def test_seeded_sampling_is_reproducible_and_stream_equals_unary(client):
    kwargs = dict(
        model=DETERMINISTIC_MODEL,
        messages=[{"role": "user", "content": "Invent a name for a cat."}],
        temperature=1.0,
        top_p=0.9,
        seed=1234,
        max_tokens=24,
    )
    first = client.chat.completions.create(**kwargs).choices[0].message.content
    second = client.chat.completions.create(**kwargs).choices[0].message.content
    streamed = "".join(
        c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kwargs) if c.choices
    )
    assert first == second == streamed


def test_max_tokens_gives_length_finish_reason(client):
    result = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Count to 100."}],
        max_completion_tokens=7,
        temperature=0,
    )
    assert result.choices[0].finish_reason == "length"
    assert result.usage.completion_tokens == 7


def test_stop_string_cuts_output_in_unary_and_stream(client):
    kwargs = dict(model=DETERMINISTIC_MODEL, messages=CAPITAL, temperature=0, max_tokens=40)
    full = client.chat.completions.create(**kwargs).choices[0].message.content
    assert "Paris" in full
    cut = client.chat.completions.create(stop=["Paris"], **kwargs)
    assert cut.choices[0].message.content == full[: full.index("Paris")]
    assert cut.choices[0].finish_reason == "stop"
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(stream=True, stop="Paris", **kwargs)
        if c.choices
    )
    assert streamed == cut.choices[0].message.content


def test_raw_sse_framing(http, base_url):
    response = http.post(
        f"{base_url}/v1/chat/completions",
        stream=True,
        json={"model": DEFAULT_MODEL, "messages": CAPITAL, "max_tokens": 5, "stream": True, "ignore_eos": True},
    )  # sampled: without ignore_eos it may stop early
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.iter_lines(decode_unicode=True) if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(line[6:]) for line in events[:-1]]
    assert payloads[-1]["choices"][0]["finish_reason"] == "length"
