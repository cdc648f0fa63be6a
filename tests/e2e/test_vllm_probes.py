"""vLLM's root routes on the real server, as vLLM clients call them: guidellm's and balancers' GET /health,
lm-eval's remote tokenizer (GET /tokenizer_info, POST /tokenize and /detokenize without a model), and
the model cards' client fields. Also: a multi-turn tool conversation reaches the default model's prompt."""

import json

import pytest
import requests
from lm_eval.utils import RemoteTokenizer, check_remote_tokenizer_support

from tests.e2e.conftest import DEFAULT_MODEL
from tests.unit.conftest import load_fixture

CONVERSATION = load_fixture("tool_conversations", "weather_two_turns.json")


def _openai_messages(messages):
    """The fixture's messages as a client sends them: tool call arguments as JSON text."""
    sent = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": json.dumps(call["function"]["arguments"])}}
                for call in message["tool_calls"]
            ]
        sent.append(message)
    return sent


@pytest.fixture(scope="module")
def info(base_url):
    response = requests.get(base_url + "/tokenizer_info", timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_is_200_with_an_empty_body(http, base_url):
    response = http.get(base_url + "/health")
    assert response.status_code == 200 and response.content == b""
    assert http.head(base_url + "/health").status_code == 200


def test_tokenizer_info_describes_the_default_model(http, base_url, info):
    assert info["model"] == DEFAULT_MODEL
    assert info["eos_token"] and isinstance(info["eos_token_id"], int)
    assert "{%" in info["chat_template"] and info["model_max_length"] > 0
    assert http.get(base_url + "/tokenizer_info", params={"model": DEFAULT_MODEL}).json() == info
    missing = http.get(base_url + "/tokenizer_info", params={"model": "no-such-model"})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model"


def test_lm_evals_remote_tokenizer_works_against_the_server(http, base_url, info):
    # lm-eval strips /v1/completions from its base_url to find the root routes.
    assert check_remote_tokenizer_support(base_url + "/v1/completions")
    tokenizer = RemoteTokenizer(base_url + "/v1/completions")
    ids = tokenizer.encode("The capital of France is")
    served = http.post(
        base_url + "/v3/tokenize",
        json={"model": DEFAULT_MODEL, "prompt": "The capital of France is", "add_special_tokens": False},
    ).json()
    assert ids == served["tokens"] and served["count"] == len(ids)
    assert tokenizer.decode(ids) == "The capital of France is"
    assert tokenizer.eos_token == info["eos_token"] and tokenizer.eos_token_id == info["eos_token_id"]
    # Its copy of the chat template renders the prompt the server renders itself.
    messages = [{"role": "user", "content": "Hi there"}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    as_chat = http.post(base_url + "/v3/tokenize", json={"model": DEFAULT_MODEL, "messages": messages}).json()
    assert tokenizer.encode(rendered) == as_chat["tokens"]


def test_root_tokenize_and_detokenize_answer_vllms_shape(http, base_url):
    tokenized = http.post(base_url + "/tokenize", json={"prompt": "Hello"})
    assert tokenized.status_code == 200
    body = tokenized.json()
    assert {"tokens", "count", "max_model_len"} <= set(body) and body["count"] == len(body["tokens"])
    detokenized = http.post(base_url + "/detokenize", json={"tokens": body["tokens"]})
    assert detokenized.status_code == 200 and "Hello" in detokenized.json()["prompt"]
    refused = http.post(base_url + "/tokenize", json={"prompt": "Hello", "return_token_strs": True})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "return_token_strs"


def test_model_cards_carry_context_length_modalities_and_parsers(client, http, base_url):
    card = http.get(f"{base_url}/v3/models/{DEFAULT_MODEL}").json()
    assert card["context_length"] == card["max_model_len"] > 0
    assert card["architecture"]["input_modalities"] == ["text"] == card["architecture"]["output_modalities"]
    assert "tool_parser" in card and "reasoning_parser" in card
    listed = {model.id: model for model in client.models.list().data}
    assert listed[DEFAULT_MODEL].context_length == card["context_length"]  # the openai client keeps extra fields


def test_a_tool_conversation_puts_earlier_calls_and_results_into_the_default_models_prompt(http, base_url):
    body = {
        "model": DEFAULT_MODEL,
        "tools": CONVERSATION["tools"],
        "messages": _openai_messages(CONVERSATION["messages"]),
    }
    tokens = http.post(base_url + "/v3/tokenize", json=body)
    assert tokens.status_code == 200, tokens.text
    prompt = http.post(base_url + "/detokenize", json={"tokens": tokens.json()["tokens"]}).json()["prompt"]
    for city in ("Paris", "Rome"):
        call = {"name": "get_weather", "arguments": {"city": city, "unit": "celsius"}}
        assert "<tool_call>" + json.dumps(call) + "</tool_call>" in prompt
    assert "<tool_response>\n18 C, sunny\n</tool_response>\n<tool_response>\n24 C, clear\n</tool_response>" in prompt
    assert "FUNCTION_NAME" not in prompt and '{"name": "get_weather", "arguments": {"city": "...", ' in prompt
