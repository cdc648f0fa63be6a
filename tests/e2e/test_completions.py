"""Text completions (/v3/completions) through the real server.

Tests that compare generated text between requests use the deterministic servable: in bf16 (the
default) greedy output depends on the batch and the prefix cache, differently on each CPU.
"""

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL


def test_unary_completion_shape(client):
    result = client.completions.create(
        model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert result.object == "text_completion" and result.id.startswith("cmpl-")
    (choice,) = result.choices
    assert choice.index == 0 and choice.finish_reason in ("stop", "length") and choice.text
    assert result.usage.prompt_tokens == 5
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_streaming_completion_matches_unary(client):
    kwargs = dict(model=DETERMINISTIC_MODEL, prompt="Once upon a time", max_tokens=20, temperature=0)
    unary = client.completions.create(**kwargs)
    chunks = list(client.completions.create(stream=True, **kwargs))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == unary.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_list_with_one_prompt(client):
    result = client.completions.create(model=DEFAULT_MODEL, prompt=["Hello"], max_tokens=3, temperature=0)
    assert result.usage.completion_tokens == 3


def test_several_prompts_are_answered_prompt_by_prompt(client):
    prompts = ["The capital of France is", "Once upon a time", "1, 2, 3,"]
    singles = [
        client.completions.create(model=DETERMINISTIC_MODEL, prompt=p, max_tokens=6, temperature=0) for p in prompts
    ]
    alone = [single.choices[0].text for single in singles]
    result = client.completions.create(model=DETERMINISTIC_MODEL, prompt=prompts, max_tokens=6, temperature=0, n=2)
    # Choice j of prompt i is choice i·n + j; greedy choices of one prompt are equal.
    assert [c.index for c in result.choices] == list(range(6))
    assert [c.text for c in result.choices] == [text for text in alone for _ in range(2)]
    assert result.usage.prompt_tokens == sum(single.usage.prompt_tokens for single in singles)
    assert result.usage.completion_tokens == 2 * sum(single.usage.completion_tokens for single in singles)
    chunks = list(
        client.completions.create(
            model=DETERMINISTIC_MODEL,
            prompt=prompts,
            max_tokens=6,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = [""] * 3
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    assert texts == alone
    assert chunks[-1].usage.completion_tokens == sum(single.usage.completion_tokens for single in singles)


def test_token_id_prompts_are_used_as_they_are(client, http, base_url):
    text = "The capital of France is"
    ids = http.post(f"{base_url}/v3/tokenize", json={"model": DETERMINISTIC_MODEL, "prompt": text}).json()["tokens"]
    by_text = client.completions.create(model=DETERMINISTIC_MODEL, prompt=text, max_tokens=6, temperature=0)
    by_ids = client.completions.create(model=DETERMINISTIC_MODEL, prompt=ids, max_tokens=6, temperature=0, echo=True)
    assert by_ids.choices[0].text == text + by_text.choices[0].text
    assert by_ids.usage.prompt_tokens == len(ids) == by_text.usage.prompt_tokens
    both = client.completions.create(model=DETERMINISTIC_MODEL, prompt=[ids, ids[:2]], max_tokens=2, temperature=0)
    assert both.choices[0].text == by_text.choices[0].text[: len(both.choices[0].text)]
    assert both.usage.prompt_tokens == len(ids) + 2


def test_a_bad_prompt_among_several_fails_the_request_and_starts_nothing(client, http, base_url):
    outside = http.post(
        f"{base_url}/v3/completions", json={"model": DEFAULT_MODEL, "prompt": [[1, 2], [3, 10**9]], "max_tokens": 2}
    )
    assert outside.status_code == 400 and "outside the vocabulary" in outside.json()["error"]["message"]
    too_long = http.post(
        f"{base_url}/v3/completions", json={"model": DEFAULT_MODEL, "prompt": ["Hi", "word " * 9000], "max_tokens": 2}
    )
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "context_length_exceeded"
    stats = http.get(f"{base_url}/v2/models/{DEFAULT_MODEL}/stats").json()["nodes"]["llm"]
    assert stats["worker_open_requests"] == 0
