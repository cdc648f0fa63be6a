"""Per-servable generation defaults on a real server: shown in /v3/models, applied to what a request leaves out."""

import requests

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL

OPENAIS = {
    "max_tokens": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}


def card(base_url, model):
    response = requests.get(f"{base_url}/v3/models/{model}", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_models_show_each_servables_defaults(base_url):
    # servables/smollm2/graph.json: SmolLM2's model card's sampling, and a default length
    assert card(base_url, DEFAULT_MODEL)["generation_defaults"] == dict(
        OPENAIS, temperature=0.2, top_p=0.9, max_tokens=512
    )
    assert (
        card(base_url, DETERMINISTIC_MODEL)["generation_defaults"] == OPENAIS
    )  # no options, no generation_config.json
    listed = requests.get(f"{base_url}/v3/models", timeout=30).json()["data"]
    assert {
        model["id"]: model["generation_defaults"]["temperature"]
        for model in listed
        if model["kind"] == "text_generation"
    }[DEFAULT_MODEL] == 0.2


def test_a_request_without_max_tokens_stops_at_the_default_with_finish_reason_length(client, base_url):
    default = card(base_url, DEFAULT_MODEL)["generation_defaults"]["max_tokens"]
    result = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Count to a million."}],
        extra_body={"ignore_eos": True},
    )
    assert result.usage.completion_tokens == default  # was: until the 8,192-token context was full
    assert result.choices[0].finish_reason == "length"
