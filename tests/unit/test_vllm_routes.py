"""vLLM's root routes (/health, /tokenize, /detokenize, /tokenizer_info) and the model cards' client fields,
through the Falcon app with fake nodes. The real tokenizer's answers are in tests/e2e/test_vllm_probes.py."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from falcon import testing

from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http.app import AppOptions, create_app
from ovserve.http.resources.models import architecture
from tests.unit.fakes import FakeGenerator
from tests.unit.test_http import assert_openai_error

PLAIN, TOKENIZING = "plain-first", "org/tokenizing"
EOS = "<|im_end|>"


class FakeTokenizingGenerator(FakeGenerator):
    """Tokenizes one character a token (its code point); the end-of-turn marker is token 2."""

    capabilities = ("chat.completions", "completions", "tokenize")

    def __init__(self, options, context):
        super().__init__(options, context)
        self.tokenizer = SimpleNamespace(special_tokens={"bos_token": "", "eos_token": EOS}, max_model_len=2048)
        self.prompts = SimpleNamespace(template=SimpleNamespace(source="{{ messages }}"))

    def tokenize_text(self, text, add_special_tokens=True):
        return [2] if text == EOS else [ord(character) for character in text]

    def detokenize(self, ids):
        return "".join(EOS if token == 2 else chr(token) for token in ids)


def servable(name, node_class):
    return Servable(name, [], node_class({}, NodeContext(name, "gen", Path("/fake") / name, "$.nodes[0]")))


@pytest.fixture
def registry():
    # The first servable doesn't tokenize: the default model is the first that does.
    return ServableRegistry([servable(PLAIN, FakeGenerator), servable(TOKENIZING, FakeTokenizingGenerator)])


@pytest.fixture
def draining():
    return {"now": False}


@pytest.fixture
def client(registry, draining):
    return testing.TestClient(create_app(registry, AppOptions(is_draining=lambda: draining["now"])))


def test_health_is_200_with_an_empty_body_when_ready(client):
    for method in ("GET", "HEAD"):
        result = client.simulate_request(method, "/health")
        assert result.status_code == 200 and result.content == b""


def test_health_is_503_while_a_servable_loads_or_the_server_drains(client, registry, draining):
    registry.get(TOKENIZING).terminal.ready = False
    assert client.simulate_get("/health").status_code == 503
    registry.get(TOKENIZING).terminal.ready = True
    draining["now"] = True
    result = client.simulate_get("/health")
    assert result.status_code == 503 and result.content == b""


def test_root_tokenize_without_model_uses_the_first_model_that_tokenizes(client):
    result = client.simulate_post("/tokenize", json={"prompt": "Hi", "add_special_tokens": False})
    assert result.status_code == 200, result.text
    assert result.json == {"model": TOKENIZING, "tokens": [72, 105], "count": 2, "max_model_len": 2048}
    named = client.simulate_post("/tokenize", json={"model": TOKENIZING, "prompt": "Hi"})
    assert named.json["tokens"] == [72, 105]


def test_root_detokenize_without_model(client):
    result = client.simulate_post("/detokenize", json={"tokens": [72, 105, 2]})
    assert result.status_code == 200 and result.json == {"model": TOKENIZING, "prompt": "Hi" + EOS}


def test_the_v3_routes_still_need_the_model(client):
    error = assert_openai_error(client.simulate_post("/v3/tokenize", json={"prompt": "Hi"}), 400)
    assert error["param"] == "model"


def test_return_token_strs_is_refused_naming_it(client):
    result = client.simulate_post("/tokenize", json={"prompt": "Hi", "return_token_strs": True})
    assert assert_openai_error(result, 400)["param"] == "return_token_strs"
    assert client.simulate_post("/tokenize", json={"prompt": "Hi", "return_token_strs": False}).status_code == 200


def test_root_tokenize_of_a_model_that_does_not_tokenize_is_400(client):
    result = client.simulate_post("/tokenize", json={"model": PLAIN, "prompt": "Hi"})
    assert assert_openai_error(result, 400)["param"] == "model"


def test_tokenizer_info_of_the_default_model(client):
    result = client.simulate_get("/tokenizer_info")
    assert result.status_code == 200, result.text
    assert result.json == {
        "model": TOKENIZING,
        "tokenizer_class": "openvino_genai.Tokenizer",
        "model_max_length": 2048,
        "eos_token": EOS,  # no bos_token: the model has none
        "eos_token_id": 2,
        "chat_template": "{{ messages }}",
    }


def test_tokenizer_info_by_name_and_its_errors(client, registry):
    assert client.simulate_get("/tokenizer_info", params={"model": TOKENIZING}).json["model"] == TOKENIZING
    assert assert_openai_error(client.simulate_get("/tokenizer_info", params={"model": "nope"}), 404)
    assert assert_openai_error(client.simulate_get("/tokenizer_info", params={"model": PLAIN}), 400)["param"] == "model"
    registry.get(TOKENIZING).terminal.ready = False
    assert_openai_error(client.simulate_get("/tokenizer_info"), 503)


def test_root_routes_need_the_key_but_health_does_not(registry):
    client = testing.TestClient(create_app(registry, AppOptions(api_keys=("sk-1",))))
    assert client.simulate_get("/health").status_code == 200
    assert client.simulate_get("/tokenizer_info").status_code == 401
    assert client.simulate_post("/tokenize", json={"prompt": "Hi"}).status_code == 401
    key = {"Authorization": "Bearer sk-1"}
    assert client.simulate_post("/tokenize", json={"prompt": "Hi"}, headers=key).status_code == 200


def test_model_cards_give_the_context_length_under_both_names_and_the_modalities(client):
    card = client.simulate_get(f"/v3/models/{TOKENIZING}").json
    assert card["context_length"] == card["max_model_len"] == 2048
    assert card["architecture"] == {
        "modality": "text->text",
        "input_modalities": ["text"],
        "output_modalities": ["text"],
    }
    assert {c["id"]: c["context_length"] for c in client.simulate_get("/v1/models").json["data"]} == {
        PLAIN: 2048,
        TOKENIZING: 2048,
    }


def test_modalities_by_kind():
    assert architecture("embeddings")["architecture"]["output_modalities"] == ["embeddings"]
    assert architecture("rerank")["architecture"]["modality"] == "text->scores"
    assert architecture("a_plugin_kind") == {}
