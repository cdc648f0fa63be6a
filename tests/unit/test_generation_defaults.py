"""Per-servable generation defaults: request -> node option -> generation_config.json -> OpenAI's, and what reaches
the engine for a request that leaves fields out (the LLM node with a fake engine client; no model loaded)."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest

from ovserve.errors import ConfigError, InvalidRequest
from ovserve.graph.node import NodeContext
from ovserve.nodes.llm.chat_prompt import ChatPrompts
from ovserve.nodes.llm.chat_template import DEFAULT_CHAT_TEMPLATE, ChatTemplate
from ovserve.nodes.llm.generation_defaults import BUILT_IN, GenerationDefaults, from_generation_config
from ovserve.nodes.llm.node import OPTIONS_SCHEMA, ContinuousBatchingLLMNode
from ovserve.nodes.llm.output_parsing import OutputParsing
from ovserve.nodes.llm.tokenizer import LLMTokenizer
from ovserve.protocol.requests import parse_chat, parse_completion
from tests.unit.conftest import copy_fixture, load_fixture
from tests.unit.test_bench_target import tiny_gguf  # context length 2048

REPO = Path(__file__).resolve().parents[2]
OPTION_SCHEMAS = OPTIONS_SCHEMA["properties"]["generation_defaults"]["properties"]


def file_values(name):
    return from_generation_config(load_fixture("generation_configs", name, "generation_config.json"), OPTION_SCHEMAS)


# --- the defaults themselves -------------------------------------------------------------------------


def test_without_options_or_file_a_request_gets_openais_defaults():
    assert (
        GenerationDefaults().describe()
        == BUILT_IN
        == {
            "max_tokens": None,
            "temperature": 1.0,
            "top_p": 1.0,
            "top_k": 0,
            "min_p": 0.0,
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            "repetition_penalty": 1.0,
        }
    )


def test_generation_config_json_gives_the_fields_vllm_reads():
    assert file_values("sampling") == {
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "max_tokens": 2048,
        "repetition_penalty": 1.05,
    }


def test_do_sample_false_means_greedy_whatever_the_temperature_says():
    assert file_values("greedy") == {"temperature": 0.0, "top_p": 0.8}


def test_values_a_request_could_not_send_are_skipped(caplog):
    assert file_values("out_of_range") == {}
    assert "temperature 5.0 is out of range" in caplog.text


def test_options_win_over_the_file_field_by_field_and_top_k_minus_one_is_no_limit():
    defaults = GenerationDefaults({"temperature": 0.2, "top_k": -1}, file_values("sampling"))
    assert defaults.describe() == dict(
        BUILT_IN, temperature=0.2, top_p=0.95, top_k=0, max_tokens=2048, repetition_penalty=1.05
    )


def test_resolve_fills_only_what_the_request_left_out():
    defaults = GenerationDefaults({"temperature": 0.2, "top_p": 0.9, "max_tokens": 64})
    params = parse_chat(
        {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0, "presence_penalty": 0}
    )[1].params
    resolved = defaults.resolve(params)
    assert (resolved.temperature, resolved.top_p, resolved.presence_penalty, resolved.repetition_penalty) == (
        0,
        0.9,
        0,
        1.0,
    )
    assert resolved.max_tokens is None  # a default max_tokens is a cap the node cuts to the room left, never refused


# --- the node: what reaches the engine ------------------------------------------------------------------


class FakeClient:
    responsive = True

    def __init__(self):
        self.payloads = []

    def submit(self, payload, timeout=None):
        self.payloads.append(payload)
        return iter(())


class FakeTokenizer:
    """openvino_genai.Tokenizer's surface, one token per word."""

    def encode(self, text, add_special_tokens=True):
        ids = [len(word) for word in text.split()]
        return SimpleNamespace(input_ids=SimpleNamespace(data=numpy.array([ids])))

    def decode(self, ids, skip_special_tokens=True):
        return " ".join("w" * token for token in ids)

    def get_vocab(self):
        vocab = {f"w{index}": index for index in range(99)}
        vocab["<|a long special token|>" * 4] = 99  # words are one token each, however long
        return vocab


def llm_node(tmp_path, generation_config=None, **options):
    tiny_gguf(tmp_path / "model.gguf")
    if generation_config:
        copy_fixture(
            ("generation_configs", generation_config, "generation_config.json"), tmp_path / "generation_config.json"
        )
    context = NodeContext("m", "llm", tmp_path / "graph.json", "$.nodes[0].options")
    node = ContinuousBatchingLLMNode({"models_path": "model.gguf", **options}, context)
    node.client = FakeClient()
    node.tokenizer = LLMTokenizer(FakeTokenizer(), node.max_model_len, cuts_long_texts=False)
    node.prompts = ChatPrompts(ChatTemplate(DEFAULT_CHAT_TEMPLATE), OutputParsing("hermes"), node.schema_limits)
    node.worker_side_loaded = True
    return node


PROMPT_TOKENS = len("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n".split())  # ChatML, a token a word


def sent(node, **body):
    """The generation fields the engine gets for a chat request with these fields."""
    _, chat, _ = parse_chat({"model": "m", "messages": [{"role": "user", "content": "Hi there"}], **body})
    node.chat(chat)
    return generation_fields(node.client.payloads[-1])


def generation_fields(request):
    """The generation settings of a submitted GenerationRequest, as a dict of GenerationConfig field names."""
    return {name: getattr(request.settings, name) for name in request.settings._field_names}


def test_a_request_that_omits_sampling_gets_the_servables_defaults(tmp_path):
    node = llm_node(tmp_path, generation_defaults={"temperature": 0.2, "top_p": 0.9, "max_tokens": 16})
    fields = sent(node)
    assert (fields["do_sample"], fields["temperature"], fields["top_p"], fields["max_new_tokens"]) == (
        True,
        0.2,
        0.9,
        16,
    )
    assert (fields["presence_penalty"], fields["repetition_penalty"], fields["top_k"]) == (0.0, 1.0, 2**31 - 1)
    fields = sent(node, temperature=0, max_tokens=40)
    assert (fields["do_sample"], fields["max_new_tokens"]) == (False, 40)  # the request wins; above the default is fine


def test_without_defaults_a_request_samples_at_openais_temperature_1_until_the_context_is_full(tmp_path):
    fields = sent(llm_node(tmp_path))
    assert (fields["do_sample"], fields["temperature"], fields["max_new_tokens"]) == (True, 1.0, 2048 - PROMPT_TOKENS)


def test_the_default_max_tokens_is_cut_to_the_room_left_and_to_max_tokens_limit(tmp_path):
    node = llm_node(tmp_path, max_model_len=20, max_tokens_limit=12, generation_defaults={"max_tokens": 10})
    assert sent(node)["max_new_tokens"] == 10
    _, chat, _ = parse_chat({"model": "m", "messages": [{"role": "user", "content": "word " * 12}]})
    node.chat(chat)  # 15 prompt tokens: 5 left, not a 400
    assert generation_fields(node.client.payloads[-1])["max_new_tokens"] == 5


def test_a_default_max_tokens_above_max_tokens_limit_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"generation_defaults\.max_tokens.*above max_tokens_limit"):
        llm_node(tmp_path, max_tokens_limit=100, generation_defaults={"max_tokens": 200})


def test_generation_config_json_beside_the_model_is_read_below_the_options(tmp_path):
    node = llm_node(tmp_path, "sampling", generation_defaults={"temperature": 0.3})
    fields = sent(node)
    assert (
        fields["temperature"],
        fields["top_p"],
        fields["top_k"],
        fields["repetition_penalty"],
        fields["max_new_tokens"],
    ) == (0.3, 0.95, 20, 1.05, 2048 - PROMPT_TOKENS)  # max_new_tokens 2048, cut to the room left in a 2048 context
    assert node.describe()["generation_defaults"] == dict(
        BUILT_IN, temperature=0.3, top_p=0.95, top_k=20, max_tokens=2048, repetition_penalty=1.05
    )


def test_a_model_files_max_new_tokens_above_max_tokens_limit_is_cut_to_the_limit(tmp_path):
    node = llm_node(tmp_path, "sampling", max_tokens_limit=100)  # generation_config.json: max_new_tokens 2048
    assert node.describe()["generation_defaults"]["max_tokens"] == 100
    assert sent(node)["max_new_tokens"] == 100


def test_greedy_by_default_makes_n_choices_copies_of_one_generation(tmp_path):
    node = llm_node(tmp_path, "greedy")
    assert (sent(node, n=3)["do_sample"], sent(node, n=3)["num_return_sequences"]) == (False, 1)
    assert sent(node, n=3, temperature=0.5)["num_return_sequences"] == 3


@pytest.mark.parametrize(
    "defaults, body",
    [
        ({}, {}),  # OpenAI's temperature 1
        ({"temperature": 0.2}, {}),  # the servable's
        ({}, {"temperature": 0.7}),  # the request's
    ],
)
def test_top_logprobs_while_sampling_is_a_400_naming_it(tmp_path, defaults, body):
    node = llm_node(tmp_path, generation_defaults=defaults)
    with pytest.raises(InvalidRequest) as caught:
        sent(node, logprobs=True, top_logprobs=1, **body)
    assert (caught.value.param, caught.value.code) == ("top_logprobs", "unsupported_value")
    assert "temperature" in caught.value.message
    _, prompts, _ = parse_completion({"model": "m", "prompt": "Hi", "logprobs": 1, **body})
    with pytest.raises(InvalidRequest) as caught:
        node.complete(prompts.inputs[0])
    assert caught.value.param == "logprobs"


def test_top_logprobs_when_greedy_and_sampled_tokens_logprobs_are_served(tmp_path):
    node = llm_node(tmp_path, generation_defaults={"temperature": 0.2})
    assert sent(node, logprobs=True, top_logprobs=1, temperature=0)["logprobs"] == 1
    assert sent(node, logprobs=True, top_logprobs=0)["logprobs"] == 1  # the sampled token's own log-probability
    assert sent(llm_node(tmp_path / "greedy", "greedy"), logprobs=True, top_logprobs=1)["do_sample"] is False


def test_reserved_template_variables_from_a_processor_are_a_400_too(tmp_path):
    node = llm_node(tmp_path)
    _, chat, _ = parse_chat({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})
    chat = type(chat)(chat.messages, chat.params, template_kwargs=(("messages", []),))
    with pytest.raises(InvalidRequest) as caught:
        node.chat(chat)
    assert caught.value.param == "chat_template_kwargs.messages"


def test_the_default_servable_ships_smollm2s_recommended_sampling():
    graph = json.loads((REPO / "servables" / "smollm2" / "graph.json").read_text())
    defaults = graph["nodes"][0]["options"]["generation_defaults"]
    assert (defaults["temperature"], defaults["top_p"]) == (0.2, 0.9)  # the model card's
    assert defaults["max_tokens"] <= 1024
