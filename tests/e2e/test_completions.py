"""Text completions (/v3/completions) through the real server."""

from tests.e2e.conftest import DEFAULT_MODEL


def test_unary_completion_shape(client):
    result = client.completions.create(model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert result.object == "text_completion" and result.id.startswith("cmpl-")
    (choice,) = result.choices
    assert choice.index == 0 and choice.finish_reason in ("stop", "length") and choice.text
    assert result.usage.prompt_tokens == 5
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_streaming_completion_matches_unary(client):
    kwargs = dict(model=DEFAULT_MODEL, prompt="Once upon a time", max_tokens=20, temperature=0)
    unary = client.completions.create(**kwargs)
    chunks = list(client.completions.create(stream=True, **kwargs))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == unary.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_list_with_one_prompt(client):
    result = client.completions.create(model=DEFAULT_MODEL, prompt=["Hello"], max_tokens=3, temperature=0)
    assert result.usage.completion_tokens == 3
