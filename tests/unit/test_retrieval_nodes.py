"""The embeddings and rerank nodes on fake tokenizers and engine clients, their engine queue, and the
HTTP routes over them (no model, no engine process)."""

import numpy
import pytest
from falcon import testing

from ovserve.errors import ConfigError, InvalidRequest
from ovserve.graph.messages import EmbeddingsInput, RerankInput
from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http.app import AppOptions, create_app
from ovserve.nodes.embeddings.batching import TextQueue
from ovserve.nodes.embeddings.messages import EmbeddingRequest, Vectors
from ovserve.nodes.embeddings.node import EmbeddingsNode, cut_dimensions
from ovserve.nodes.rerank.messages import RerankRequest, Scores
from ovserve.nodes.rerank.node import RerankNode
from tests.unit.conftest import fixture_path
from tests.unit.fakes import FakeGenerator

ENCODER = fixture_path("models", "encoder_ir")
CROSS_ENCODER = fixture_path("models", "cross_encoder_ir")


class FakeTokenizer:
    """One token per word, plus two special tokens; decodes id i as 'w<i>'."""

    def encode(self, texts, add_special_tokens=True, max_length=None, truncation=False):
        counts = [len(text.split()) + 2 for text in texts]
        if truncation:
            counts = [min(count, max_length) for count in counts]
        width = max(counts)
        mask = numpy.array([[1] * count + [0] * (width - count) for count in counts])
        return type("Encoded", (), {"attention_mask": type("Tensor", (), {"data": mask})()})()

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(f"w{token}" for token in ids)


class FakeStream:
    def __init__(self, update):
        self.update = update
        self.closed = False

    def __iter__(self):
        if isinstance(self.update, Exception):  # as the bridge raises a failed request's error
            raise self.update
        yield self.update

    def close(self):
        self.closed = True


class FakeClient:
    def __init__(self, info, answer):
        self.info = info
        self.answer = answer  # request -> result
        self.connected = self.responsive = True
        self.open_streams = 0
        self.stats = {}
        self.payloads = []

    def submit(self, payload, timeout=None):
        self.payloads.append(payload)
        return FakeStream(self.answer(payload))


def context(name, node="node"):
    return NodeContext(name, node, ENCODER.parent / "graph.json", "$.nodes[0].options")


def embeddings_node(name="org/embedder", **options):
    node = EmbeddingsNode({"models_path": str(ENCODER), **options}, context(name))
    node.tokenizer, node.worker_side_loaded = FakeTokenizer(), True
    node.vocabulary_size = 100
    # Vector i of a request: [i+1, 0, 0, 0] ... so tests can see order; norm 1 after dividing.
    node.client = FakeClient(
        {"dimensions": 4},
        lambda request: Vectors(
            numpy.array([[index + 1.0, 1.0, 1.0, 1.0] for index, _ in enumerate(request.texts)], dtype=numpy.float32)
        ),
    )
    return node


class FakePairTokenizer(FakeTokenizer):
    """Counts words of the query and of each document, plus three special tokens per pair."""

    def supports_paired_input(self):
        return True

    def encode(self, queries, documents, add_special_tokens=True, max_length=None, truncation=False):
        counts = [len(queries[0].split()) + len(document.split()) + 3 for document in documents]
        if truncation:
            counts = [min(count, max_length) for count in counts]
        mask = numpy.array([[1] * count + [0] * (max(counts) - count) for count in counts])
        return type("Encoded", (), {"attention_mask": type("Tensor", (), {"data": mask})()})()


def rerank_node(name="org/reranker", **options):
    node = RerankNode({"models_path": str(CROSS_ENCODER), **options}, context(name))
    node.tokenizer, node.worker_side_loaded = FakePairTokenizer(), True
    node.client = FakeClient(
        {},
        lambda request: Scores(tuple((index, 1.0 / (1 + len(text))) for index, text in enumerate(request.documents))),
    )
    return node


# --- node construction -------------------------------------------------------------------------


def test_embeddings_node_reads_pooling_and_max_length_from_the_sentence_transformers_files():
    node = embeddings_node()
    assert node.pooling == "mean" and node.max_length == 8
    spec = node.engine_spec()
    assert spec.factory == "ovserve.nodes.embeddings.engine:EmbeddingsEngine"
    assert spec.options["pooling"] == "mean" and spec.options["max_length"] == 8
    assert spec.options["models_path"] == str(ENCODER) and spec.options["batch_size"] == 32


def test_embeddings_node_options_override_the_files():
    node = embeddings_node(pooling="cls", max_length=4, batch_size=2)
    assert (node.pooling, node.max_length, node.engine_spec().options["batch_size"]) == ("cls", 4, 2)


def test_a_folder_without_ir_files_is_a_config_error_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="missing openvino_model.xml, openvino_tokenizer.xml.*ovserve export"):
        EmbeddingsNode({"models_path": str(tmp_path)}, context("x"))
    with pytest.raises(ConfigError, match="ovserve export SOURCE --task rerank"):
        RerankNode({"models_path": str(tmp_path)}, context("x"))


def test_rerank_node_max_length_comes_from_the_tokenizer_config():
    node = rerank_node()
    assert node.max_length == 128
    assert node.engine_spec().options["max_length"] == 128
    assert node.kind == "rerank" and node.capabilities == ("rerank",)


# --- embeddings requests ------------------------------------------------------------------------


def test_embed_counts_tokens_after_truncation_and_keeps_the_order():
    node = embeddings_node()
    result = node.embed(EmbeddingsInput(texts=("one two", "a b c d e f g h i j"))).result()
    assert result.prompt_tokens == 4 + 8  # the second text is cut to max_length 8
    assert result.vectors[:, 0].tolist() == [1.0, 2.0]
    assert node.client.payloads == [EmbeddingRequest(("one two", "a b c d e f g h i j"))]


def test_embed_without_truncation_refuses_a_long_input_naming_it():
    node = embeddings_node(truncate=False)
    with pytest.raises(InvalidRequest, match=r"input\[1\] is 12 tokens; this model takes at most 8") as caught:
        node.embed(EmbeddingsInput(texts=("short", "a b c d e f g h i j")))
    assert caught.value.code == "context_length_exceeded" and not node.client.payloads


def test_embed_decodes_token_ids_to_text():
    node = embeddings_node()
    node.embed(EmbeddingsInput(token_ids=((5, 6), (7,)))).result()
    assert node.client.payloads == [EmbeddingRequest(("w5 w6", "w7"))]
    with pytest.raises(InvalidRequest, match=r"input\[1\] has token id 100, outside the vocabulary \(0..99\)"):
        node.embed(EmbeddingsInput(token_ids=((5,), (7, 100))))


def test_dimensions_native_is_accepted_and_others_need_matryoshka_dimensions():
    node = embeddings_node()
    assert node.embed(EmbeddingsInput(texts=("a",), dimensions=4)).result().vectors.shape == (1, 4)
    with pytest.raises(InvalidRequest, match="'dimensions' is 2; this model gives vectors of 4 dimensions") as caught:
        node.embed(EmbeddingsInput(texts=("a",), dimensions=2))
    assert caught.value.param == "dimensions"


def test_matryoshka_dimensions_cut_and_renormalise():
    node = embeddings_node(matryoshka_dimensions=[2])
    vectors = node.embed(EmbeddingsInput(texts=("a", "b"), dimensions=2)).result().vectors
    assert vectors.shape == (2, 2)
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0)
    with pytest.raises(InvalidRequest, match="vectors of 2, 4 dimensions"):
        node.embed(EmbeddingsInput(texts=("a",), dimensions=3))


def test_cut_dimensions_without_normalisation_keeps_the_values():
    vectors = numpy.array([[3.0, 4.0, 5.0]], dtype=numpy.float32)
    assert cut_dimensions(vectors, 2, normalized=False).tolist() == [[3.0, 4.0]]
    assert numpy.allclose(cut_dimensions(vectors, 2, normalized=True), [[0.6, 0.8]])


def test_describe_tells_dimensions_once_the_engine_is_known():
    node = embeddings_node()
    assert node.describe() == {"max_model_len": 8, "pooling": "mean", "normalize": True, "dimensions": 4}


# --- rerank requests ----------------------------------------------------------------------------


def test_rerank_sorts_by_score_and_cuts_to_top_n():
    node = rerank_node()
    documents = ("a long document", "short", "mid text")
    result = node.rerank(RerankInput("q", documents, top_n=2)).result()
    assert [index for index, _ in result.ranking] == [1, 2]
    assert result.prompt_tokens == (1 + 3 + 3) + (1 + 1 + 3) + (1 + 2 + 3)
    assert node.client.payloads == [RerankRequest("q", tuple(documents))]
    assert len(node.rerank(RerankInput("q", documents)).result().ranking) == 3


def test_rerank_refuses_more_documents_than_max_documents():
    node = rerank_node(max_documents=2)
    with pytest.raises(InvalidRequest, match="3 documents were sent; this model takes at most 2"):
        node.rerank(RerankInput("q", ("a", "b", "c")))


# --- the engine's queue -------------------------------------------------------------------------


def embed_rows(texts):
    return numpy.array([[float(text)] for text in texts], dtype=numpy.float32)


def test_text_queue_shares_batches_across_requests_in_arrival_order():
    queue = TextQueue(batch_size=4)
    queue.add("a", ["1", "2", "3"])
    queue.add("b", ["4", "5"])
    queue.add("c", ["6"])
    texts, plan = queue.take_batch()
    assert texts == ["1", "2", "3", "4"] and queue.waiting_texts == 2
    assert [(key, rows.ravel().tolist()) for key, rows in queue.finish(plan, embed_rows(texts))] == [("a", [1, 2, 3])]
    texts, plan = queue.take_batch()
    assert texts == ["5", "6"]
    finished = queue.finish(plan, embed_rows(texts))
    assert [(key, rows.ravel().tolist()) for key, rows in finished] == [("b", [4, 5]), ("c", [6])]
    assert len(queue) == 0 and queue.waiting_texts == 0


def test_text_queue_splits_a_large_request_and_cancel_frees_its_texts():
    queue = TextQueue(batch_size=2)
    queue.add("big", ["1", "2", "3", "4", "5"])
    queue.add("small", ["9"])
    texts, plan = queue.take_batch()
    assert queue.finish(plan, embed_rows(texts)) == []
    queue.cancel("big")
    assert queue.waiting_texts == 1
    texts, plan = queue.take_batch()
    assert texts == ["9"] and [key for key, _ in queue.finish(plan, embed_rows(texts))] == ["small"]


# --- several kinds in one registry, over HTTP ---------------------------------------------------


@pytest.fixture
def http_client():
    llm = Servable("org/chat", [], FakeGenerator({}, context("org/chat")))
    registry = ServableRegistry(
        [llm, Servable("org/embedder", [], embeddings_node()), Servable("org/reranker", [], rerank_node())]
    )
    return testing.TestClient(create_app(registry, AppOptions()))


def test_models_lists_every_servable_with_its_kind(http_client):
    cards = {card["id"]: card for card in http_client.simulate_get("/v3/models").json["data"]}
    assert {name: card["kind"] for name, card in cards.items()} == {
        "org/chat": "text_generation",
        "org/embedder": "embeddings",
        "org/reranker": "rerank",
    }
    assert cards["org/embedder"]["capabilities"] == ["embeddings"]
    assert cards["org/embedder"]["dimensions"] == 4


@pytest.mark.parametrize(
    "path, body, message",
    [
        (
            "/v3/chat/completions",
            {"model": "org/embedder", "messages": [{"role": "user", "content": "hi"}]},
            "The model 'org/embedder' is an embeddings model and does not support chat.completions",
        ),
        (
            "/v3/embeddings",
            {"model": "org/chat", "input": "hi"},
            "The model 'org/chat' is a text-generation model and does not support embeddings",
        ),
        (
            "/v3/rerank",
            {"model": "org/embedder", "query": "q", "documents": ["d"]},
            "The model 'org/embedder' is an embeddings model and does not support rerank",
        ),
    ],
)
def test_a_request_for_a_model_of_the_wrong_kind_is_400_saying_so(http_client, path, body, message):
    result = http_client.simulate_post(path, json=body)
    assert result.status_code == 400
    error = result.json["error"]
    assert error["message"].startswith(message) and error["param"] == "model"
    assert error["code"] == "unsupported_model_capability"


@pytest.mark.parametrize("prefix", ["/v3", "/v1"])
def test_embeddings_route(http_client, prefix):
    result = http_client.simulate_post(f"{prefix}/embeddings", json={"model": "org/embedder", "input": ["x y", "z"]})
    assert result.status_code == 200, result.text
    body = result.json
    assert [item["embedding"][0] for item in body["data"]] == [1.0, 2.0]
    assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}


def test_rerank_route(http_client):
    result = http_client.simulate_post(
        "/v3/rerank",
        json={
            "model": "org/reranker",
            "query": "q",
            "documents": ["long document", {"text": "tiny"}],
            "top_n": 1,
            "return_documents": True,
        },
    )
    assert result.status_code == 200, result.text
    assert result.json["results"] == [{"index": 1, "relevance_score": 0.2, "document": {"text": "tiny"}}]


def test_text_queue_fail_drops_the_requests_of_a_failed_batch():
    queue = TextQueue(batch_size=2)
    queue.add("a", ["1"])
    queue.add("b", ["2", "3", "4"])
    queue.add("c", ["5"])
    _, plan = queue.take_batch()
    assert queue.fail(plan) == ["a", "b"]
    assert queue.waiting_texts == 1 and len(queue) == 1
    texts, plan = queue.take_batch()
    assert texts == ["5"]


def test_an_engine_error_fails_the_request_with_a_500():
    from ovserve.errors import EngineFailure

    node = embeddings_node()
    node.client.answer = lambda request: EngineFailure("The engine failed the request: RuntimeError: input too long")
    with pytest.raises(EngineFailure, match="The engine failed the request: RuntimeError: input too long"):
        node.embed(EmbeddingsInput(texts=("a",))).result()
