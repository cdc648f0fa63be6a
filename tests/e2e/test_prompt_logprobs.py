"""Prompt log-probabilities through the real server: completions' echo with logprobs (OpenAI's legacy object,
what lm-eval reads) and vLLM's prompt_logprobs on completions and chat, on the deterministic servable (no
prefix cache: the engine does not score a cached prefix, so the default servable refuses them with a 400)."""

import json
import math

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL

PROMPT_IDS = [504, 3575, 282, 4649, 314, 7042]  # "The capital of France is Paris"
TOLERANCE = 0.05  # the same tokens in another batch shape differ by float rounding only (measured: < 0.005)


def completion(http, base, **fields):
    body = {"model": DETERMINISTIC_MODEL, "prompt": PROMPT_IDS, "temperature": 0, **fields}
    return http.post(f"{base}/v3/completions", json=body, timeout=120)


def listed_scores(prompt_logprobs):
    return [None if entry is None else next(iter(entry.values()))["logprob"] for entry in prompt_logprobs]


def test_echo_with_logprobs_scores_the_prompt_then_the_generated_token(http, base_url):
    answer = completion(http, base_url, max_tokens=1, logprobs=1, echo=True, prompt_logprobs=0)
    assert answer.status_code == 200, answer.text
    (choice,) = answer.json()["choices"]
    logprobs = choice["logprobs"]
    assert len(logprobs["tokens"]) == len(PROMPT_IDS) + 1  # lm-eval slices these lists by its token count
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert all(value < 0 for value in logprobs["token_logprobs"][1:])
    offsets = logprobs["text_offset"]
    assert offsets[0] == 0
    assert all(offsets[i + 1] == offsets[i] + len(logprobs["tokens"][i]) for i in range(len(offsets) - 1))
    assert choice["text"].startswith("The capital of France is Paris")
    assert answer.json()["usage"]["completion_tokens"] == 1  # the echoed prompt is not generated output
    scores = listed_scores(choice["prompt_logprobs"])
    assert scores[0] is None and scores[1:] == logprobs["token_logprobs"][1 : len(PROMPT_IDS)]

    scored_only = completion(http, base_url, max_tokens=0, echo=True, prompt_logprobs=0)
    assert scored_only.status_code == 200, scored_only.text
    (alone,) = scored_only.json()["choices"]
    assert alone["text"] == "The capital of France is Paris" and alone["finish_reason"] == "length"
    assert scored_only.json()["usage"]["completion_tokens"] == 0
    for direct, echoed in zip(listed_scores(alone["prompt_logprobs"])[1:], scores[1:]):
        assert math.isclose(direct, echoed, abs_tol=TOLERANCE)


def test_a_stream_sends_the_whole_scored_prompt_first(http, base_url):
    answer = completion(http, base_url, max_tokens=4, logprobs=0, echo=True, stream=True)
    assert answer.status_code == 200, answer.text
    events = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: {")]
    first = events[0]["choices"][0]
    assert first["text"].startswith("The capital of France is Paris")
    assert len(first["logprobs"]["tokens"]) >= len(PROMPT_IDS) and first["logprobs"]["token_logprobs"][0] is None
    tokens = [
        token
        for event in events
        for choice in event["choices"]
        if choice["logprobs"]
        for token in choice["logprobs"]["tokens"]
    ]
    assert len(tokens) == len(PROMPT_IDS) + 4


def test_every_choice_of_every_prompt_gets_its_prompts_scores(client):
    answer = client.completions.create(
        model=DETERMINISTIC_MODEL,
        prompt=["The capital of France is", "One, two, three,"],
        n=2,
        temperature=0.8,
        max_tokens=3,
        echo=True,
        logprobs=0,
    )
    assert [choice.index for choice in answer.choices] == [0, 1, 2, 3]
    for choice in answer.choices:
        prompt = "The capital of France is" if choice.index < 2 else "One, two, three,"
        assert choice.text.startswith(prompt)
        assert choice.logprobs.token_logprobs[0] is None
        assert all(value < 0 for value in choice.logprobs.token_logprobs[1:])
    assert answer.choices[0].logprobs.token_logprobs[:5] == answer.choices[1].logprobs.token_logprobs[:5]


def test_chat_prompt_logprobs_score_the_templated_prompt(client):
    answer = client.chat.completions.create(
        model=DETERMINISTIC_MODEL,
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=3,
        temperature=0,
        extra_body={"prompt_logprobs": 0},
    )
    (choice,) = answer.choices
    listed = choice.model_extra["prompt_logprobs"]
    assert len(listed) == answer.usage.prompt_tokens and listed[0] is None
    for entry in listed[1:]:
        ((token_id, scored),) = entry.items()
        assert int(token_id) >= 0 and scored["logprob"] <= 0 and scored["rank"] is None
        assert isinstance(scored["decoded_token"], str)
    assert choice.message.content  # the generation is as without prompt_logprobs


def test_what_the_engine_cant_score_is_refused_naming_the_field(http, base_url):
    alternatives = completion(http, base_url, max_tokens=1, prompt_logprobs=2)
    assert alternatives.status_code == 400 and alternatives.json()["error"]["param"] == "prompt_logprobs"
    not_echoed = completion(http, base_url, max_tokens=0)
    assert not_echoed.status_code == 400 and not_echoed.json()["error"]["param"] == "max_tokens"
    cached = completion(http, base_url, model=DEFAULT_MODEL, max_tokens=1, logprobs=1, echo=True)
    assert cached.status_code == 400 and cached.json()["error"]["param"] == "logprobs"
    assert "enable_prefix_caching" in cached.json()["error"]["message"]
    chat = http.post(
        f"{base_url}/v3/chat/completions",
        json={"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "prompt_logprobs": 0},
        timeout=60,
    )
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "prompt_logprobs"
