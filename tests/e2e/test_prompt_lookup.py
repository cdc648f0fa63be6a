"""The prompt-lookup servable (node option prompt_lookup: true) against the default one, on the real server.

Prompt lookup proposes several tokens per step and the model checks them in one pass, so a step can
yield several tokens at once. Greedy output is the same as without it except at near-ties, where
the several-token pass can pick the other token (measured: 3 of 5 prompts identical to the end, 2
diverged after 33 and 70 tokens, in f32 too); the input-grounded prompts below were identical.
Both servables compared here are deterministic (f32, no prefix cache): in bf16 the text also depends
on the batch, differently on each CPU.
"""

import json

import openai
import pytest

from tests.e2e.conftest import DETERMINISTIC_MODEL, PROMPT_LOOKUP_MODEL
from tests.e2e.server import FIXTURES

GROUNDED = json.loads((FIXTURES / "payloads/grounded_prompts.json").read_text())


def chat(client, model, text, **kwargs):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], temperature=0, **kwargs
    )


@pytest.mark.parametrize("name", sorted(GROUNDED))
def test_greedy_text_and_usage_equal_the_default_servables(client, name):
    plain = chat(client, DETERMINISTIC_MODEL, GROUNDED[name], max_tokens=100)
    looked_up = chat(client, PROMPT_LOOKUP_MODEL, GROUNDED[name], max_tokens=100)
    assert looked_up.choices[0].message.content == plain.choices[0].message.content
    assert looked_up.choices[0].finish_reason == plain.choices[0].finish_reason == "stop"
    assert looked_up.usage == plain.usage


def test_stream_equals_unary_with_usage(client):
    unary = chat(client, PROMPT_LOOKUP_MODEL, GROUNDED["repeat"], max_tokens=100)
    chunks = list(
        chat(
            client,
            PROMPT_LOOKUP_MODEL,
            GROUNDED["repeat"],
            max_tokens=100,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == unary.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage == unary.usage


def test_several_tokens_a_step_never_overshoot_max_tokens(client):
    """37 is no multiple of the 6 tokens a step can accept: the last step must be cut short."""
    for stream in (False, True):
        kwargs = dict(max_tokens=37, extra_body={"ignore_eos": True})
        if stream:
            chunks = list(
                chat(
                    client,
                    PROMPT_LOOKUP_MODEL,
                    GROUNDED["repeat"],
                    stream=True,
                    stream_options={"include_usage": True},
                    **kwargs,
                )
            )
            usage, finish = chunks[-1].usage, [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        else:
            result = chat(client, PROMPT_LOOKUP_MODEL, GROUNDED["repeat"], **kwargs)
            usage, finish = result.usage, result.choices[0].finish_reason
        assert usage.completion_tokens == 37 and finish == "length"
    completion = client.completions.create(
        model=PROMPT_LOOKUP_MODEL,
        prompt="one two three one two three one two",
        max_tokens=21,
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    assert completion.usage.completion_tokens == 21


def test_sampling_logprobs_and_structured_output_work(client):
    sampled = client.chat.completions.create(
        model=PROMPT_LOOKUP_MODEL,
        temperature=0.8,
        seed=7,
        max_tokens=30,
        logprobs=True,
        messages=[{"role": "user", "content": GROUNDED["typos"]}],
    )
    assert len(sampled.choices[0].logprobs.content) == sampled.usage.completion_tokens > 0
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    structured = chat(
        client,
        PROMPT_LOOKUP_MODEL,
        'Give Bob, aged 42, as JSON: {"name": "Bob", "age": 42}',
        max_tokens=60,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )
    assert set(json.loads(structured.choices[0].message.content)) == {"name", "age"}


def test_several_sampled_choices_get_400_and_greedy_copies_work(client):
    messages = [{"role": "user", "content": GROUNDED["typos"]}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=PROMPT_LOOKUP_MODEL, messages=messages, n=2, temperature=0.7, max_tokens=5)
    assert caught.value.body["param"] == "n" and "prompt-lookup" in caught.value.body["message"]
    greedy = client.chat.completions.create(
        model=PROMPT_LOOKUP_MODEL, messages=messages, n=2, temperature=0, max_tokens=5
    )
    assert len(greedy.choices) == 2 and greedy.choices[0].message.content == greedy.choices[1].message.content
