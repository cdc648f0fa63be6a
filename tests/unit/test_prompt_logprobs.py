"""Prompt log-probabilities: what a request asks (requests.py), the worker's prompt deltas
(nodes/llm/prompt_logprobs.py) and how the writers put them (completions' legacy object, vLLM's list)."""

import json

import pytest

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import ChoiceDelta, PromptTokenLogprob, SamplingParams, TokenLogprob
from ovserve.nodes.llm.prompt_logprobs import (
    PromptScoring,
    check_scorable,
    listing_special_tokens,
    merged,
    scoring_param,
)
from ovserve.protocol.chat_completions import ChatWriter
from ovserve.protocol.completions import CompletionWriter, completion_logprobs
from ovserve.protocol.prompt_logprobs import prompt_logprobs_list
from ovserve.protocol.requests import parse_chat, parse_completion
from tests.unit.conftest import load_fixture

PROMPT_IDS = (504, 3575, 282)
TEXTS = {504: "The", 3575: " capital", 282: " of"}
SCORES = (None, -11.06, -0.46)


def token_text(token):
    return TEXTS[token], tuple(TEXTS[token].encode())


def body(kind, **changes):
    loaded = load_fixture("payloads", f"{kind}_basic.json")
    loaded.update(changes)
    return loaded


def refused(parse, request, param):
    with pytest.raises(InvalidRequest) as caught:
        parse(request)
    assert caught.value.status == 400 and caught.value.param == param
    return caught.value


# --- requests ------------------------------------------------------------------------------------
def test_prompt_logprobs_zero_is_read_on_both_apis():
    assert parse_completion(body("completion", prompt_logprobs=0))[1].params.prompt_logprobs == 0
    assert parse_chat(body("chat", prompt_logprobs=0))[1].params.prompt_logprobs == 0
    assert parse_chat(body("chat"))[1].params.prompt_logprobs is None


@pytest.mark.parametrize("value", [1, 5, -1])
def test_prompt_alternatives_are_refused_naming_the_field(value):
    error = refused(parse_chat, body("chat", prompt_logprobs=value), "prompt_logprobs")
    assert "alternatives" in str(error)
    refused(parse_completion, body("completion", prompt_logprobs=value), "prompt_logprobs")


def test_max_tokens_zero_scores_only_with_echo():
    refused(parse_completion, body("completion", max_tokens=0), "max_tokens")
    assert parse_completion(body("completion", max_tokens=0, echo=True))[1].params.max_tokens == 0
    refused(parse_chat, body("chat", max_tokens=0), "max_tokens")  # chat has no echo: the schema's minimum 1


def test_which_field_asks_for_the_prompts_scores():
    assert scoring_param(SamplingParams(), echo=True) is None
    assert scoring_param(SamplingParams(logprobs=True), echo=False) is None
    echoed = SamplingParams(logprobs=True, top_logprobs=1, top_logprobs_param="logprobs")
    assert scoring_param(echoed, echo=True) == "logprobs"
    assert scoring_param(SamplingParams(prompt_logprobs=0), echo=False) == "prompt_logprobs"


def test_a_servable_with_a_prefix_cache_refuses_scoring_the_prompt():
    check_scorable("prompt_logprobs", prefix_caching=False)
    with pytest.raises(InvalidRequest) as caught:
        check_scorable("logprobs", prefix_caching=True)
    assert caught.value.param == "logprobs" and "enable_prefix_caching" in str(caught.value)


# --- the worker's prompt deltas --------------------------------------------------------------------
def test_an_echo_with_logprobs_lists_every_prompt_token_first_none():
    deltas = PromptScoring(PROMPT_IDS, token_text, "The capital of", echo_logprobs=True).first_deltas(SCORES, 2)
    assert sorted(deltas) == [0, 1]
    first = deltas[1]
    assert first.index == 1 and first.text == "The capital of" and first.prompt_logprobs == ()
    assert [(entry.token, entry.logprob) for entry in first.logprobs] == [
        ("The", None),
        (" capital", -11.06),
        (" of", -0.46),
    ]


def test_vllm_list_without_an_echo():
    (delta,) = PromptScoring(PROMPT_IDS, token_text, as_list=True).first_deltas(SCORES, 1).values()
    assert delta.text == "" and delta.logprobs == ()
    assert delta.prompt_logprobs[2] == PromptTokenLogprob(282, -0.46, " of")


def test_the_prompt_delta_goes_in_front_of_the_first_generated_one():
    prompt = ChoiceDelta(0, "The", None, (TokenLogprob("The", None, (84,)),), prompt_logprobs=("listed",))
    generated = ChoiceDelta(0, " end", "length", (TokenLogprob(" end", -1.0, (32,)),))
    joined = merged(prompt, generated)
    assert joined.text == "The end" and joined.finish_reason == "length"
    assert [entry.token for entry in joined.logprobs] == ["The", " end"]
    assert joined.prompt_logprobs == ("listed",)


# --- the writers ---------------------------------------------------------------------------------
def test_legacy_logprobs_of_an_echo_have_a_null_first_token_and_continuous_offsets():
    entries = [TokenLogprob("The", None, ()), TokenLogprob(" capital", -11.0, ()), TokenLogprob(" is", -1.0, ())]
    written = completion_logprobs(entries, top_logprobs=1, text_offset=0)
    assert written["token_logprobs"] == [None, -11.0, -1.0]
    assert written["top_logprobs"] == [None, {" capital": -11.0}, {" is": -1.0}]
    assert written["text_offset"] == [0, 3, 11]


def test_vllm_prompt_logprobs_shape():
    listed = prompt_logprobs_list([PromptTokenLogprob(504, None, "The"), PromptTokenLogprob(3575, -11.0, " capital")])
    assert listed == [None, {"3575": {"logprob": -11.0, "rank": None, "decoded_token": " capital"}}]


@pytest.mark.parametrize("writer_class", [ChatWriter, CompletionWriter])
def test_writers_put_prompt_logprobs_on_each_choice_when_asked(writer_class):
    entries = (PromptTokenLogprob(504, None, "The"), PromptTokenLogprob(3575, -11.0, " capital"))
    asked = writer_class("m", 1, prompt_logprobs=True)
    asked.add([ChoiceDelta(0, "x", "stop", prompt_logprobs=entries)])
    (choice,) = _choices(asked)
    assert choice["prompt_logprobs"][1]["3575"]["logprob"] == -11.0
    (streamed,) = asked.chunks([ChoiceDelta(0, "x", prompt_logprobs=entries)])
    (chunk_choice,) = json.loads(streamed.removeprefix(b"data: "))["choices"]
    assert chunk_choice["prompt_logprobs"][0] is None
    not_asked = writer_class("m", 1)
    not_asked.add([ChoiceDelta(0, "x", "stop")])
    assert "prompt_logprobs" not in _choices(not_asked)[0]


class _Counts:
    prompt_tokens = 2
    completion_tokens = 1
    reasoning_tokens = 0


def _choices(writer):
    return writer.body(_Counts())["choices"]


def test_an_echo_lists_a_generated_special_token_by_its_marker():
    def plain(token):
        return ("", ()) if token == 2 else token_text(token)

    named = listing_special_tokens(plain, lambda ids: "<|im_end|>")
    assert named(2) == ("<|im_end|>", tuple(b"<|im_end|>"))
    assert named(504) == token_text(504)
