"""Sampled choices (n > 1, temperature > 0) stream as they are generated. The pipeline sends a multinomial
handle with several sequences only when it ends, so the engine runs each sampled choice as a handle of its own
(engine.py); proven here by chunk counts per choice, never by timing."""

from collections import Counter

from tests.e2e.conftest import DETERMINISTIC_MODEL

REQUEST = dict(model=DETERMINISTIC_MODEL, n=2, temperature=0.9, seed=11, max_tokens=16)
NO_EOS = {"ignore_eos": True}


def test_each_sampled_chat_choice_streams_before_the_end(client):
    chunks_with_text, finished = Counter(), {}
    stream = client.chat.completions.create(
        messages=[{"role": "user", "content": "Tell me a story about a fox."}],
        stream=True,
        extra_body=NO_EOS,
        **REQUEST,
    )
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                assert choice.index not in finished, "text came after the choice finished"
                chunks_with_text[choice.index] += 1
            if choice.finish_reason:
                finished[choice.index] = choice.finish_reason
    assert finished == {0: "length", 1: "length"}
    assert chunks_with_text[0] >= 3 and chunks_with_text[1] >= 3, chunks_with_text

    unary = client.chat.completions.create(
        messages=[{"role": "user", "content": "Tell me a story about a fox."}], extra_body=NO_EOS, **REQUEST
    )
    assert [choice.index for choice in unary.choices] == [0, 1]
    assert all(choice.message.content for choice in unary.choices)
    assert unary.usage.completion_tokens == 32


def test_each_sampled_completion_choice_streams_before_the_end(client):
    chunks_with_text = Counter()
    for chunk in client.completions.create(prompt="Once upon a time", stream=True, extra_body=NO_EOS, **REQUEST):
        for choice in chunk.choices:
            if choice.text:
                chunks_with_text[choice.index] += 1
    assert chunks_with_text[0] >= 3 and chunks_with_text[1] >= 3, chunks_with_text
