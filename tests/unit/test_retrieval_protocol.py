"""ovserve.protocol.embeddings and .rerank: request parsing and response shapes (no model)."""

import base64

import numpy
import pytest

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import EmbeddingsResult, RerankResult
from ovserve.protocol.embeddings import embeddings_response, parse_embeddings
from ovserve.protocol.rerank import parse_rerank, rerank_response
from tests.unit.conftest import load_fixture

# --- embeddings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, texts, token_ids",
    [
        ("hello", ("hello",), ()),
        (["a", "b"], ("a", "b"), ()),
        ([1, 2, 3], (), ((1, 2, 3),)),
        ([[1, 2], [3]], (), ((1, 2), (3,))),
    ],
)
def test_embeddings_input_forms(given, texts, token_ids):
    model, embeddings_input, encoding = parse_embeddings({"model": "m", "input": given}, "req-1")
    assert model == "m" and encoding == "float"
    assert embeddings_input.texts == texts and embeddings_input.token_ids == token_ids
    assert embeddings_input.request_id == "req-1" and embeddings_input.dimensions is None


def test_embeddings_token_id_payload_file():
    _, embeddings_input, encoding = parse_embeddings(load_fixture("payloads", "embeddings_token_ids.json"))
    assert embeddings_input.token_ids == ((101, 7592, 102), (101, 2088, 102))
    assert embeddings_input.count == 2 and encoding == "float"


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": ""}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": ["a", 1]}, "input"),
        ({"model": "m", "input": [[1], ["a"]]}, "input"),
        ({"model": "m", "input": [-1]}, "input"),
        ({"model": "m", "input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "m", "input": "a", "dimensions": 0}, "dimensions"),
        ({"model": "", "input": "a"}, "model"),
    ],
)
def test_invalid_embeddings_requests_are_400_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_embeddings(body)
    assert caught.value.param.startswith(param)  # may name the item, e.g. input[0]


def test_embeddings_dimensions_and_base64_are_read():
    _, embeddings_input, encoding = parse_embeddings(
        {"model": "m", "input": "a", "dimensions": 64, "encoding_format": "base64", "user": "u"}
    )
    assert embeddings_input.dimensions == 64 and encoding == "base64"


def test_embeddings_response_float_and_base64_carry_the_same_vectors():
    vectors = numpy.array([[0.5, -0.25, 1.0], [0.0, 2.0, -1.5]], dtype=numpy.float32)
    result = EmbeddingsResult(vectors, prompt_tokens=7)
    floats = embeddings_response("m", result, "float")
    assert floats["object"] == "list" and floats["model"] == "m"
    assert floats["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert [item["index"] for item in floats["data"]] == [0, 1]
    assert floats["data"][1] == {"object": "embedding", "index": 1, "embedding": [0.0, 2.0, -1.5]}
    encoded = embeddings_response("m", result, "base64")
    decoded = [numpy.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in encoded["data"]]
    assert numpy.array_equal(numpy.stack(decoded), vectors)


# --- rerank ---------------------------------------------------------------------------------------


def test_rerank_object_documents_and_options():
    body = load_fixture("payloads", "rerank_objects.json")
    model, rerank_input, return_documents = parse_rerank(body, "req-2")
    assert model == "org/reranker" and return_documents
    assert rerank_input.documents == ("Paris is the capital of France.", "Bananas are yellow.", "France is in Europe.")
    assert rerank_input.top_n == 2 and rerank_input.request_id == "req-2"


def test_rerank_rank_fields_join_the_named_fields():
    _, rerank_input, return_documents = parse_rerank(load_fixture("payloads", "rerank_rank_fields.json"))
    assert rerank_input.documents[0] == "title: Paris\nbody: The capital of France."
    assert not return_documents and rerank_input.top_n is None


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "m", "query": "q"}, "documents"),
        ({"model": "m", "documents": ["d"]}, "query"),
        ({"model": "m", "query": "q", "documents": []}, "documents"),
        ({"model": "m", "query": "q", "documents": [{"title": "no text"}]}, "documents[0].text"),
        ({"model": "m", "query": "q", "documents": ["d"], "top_n": 0}, "top_n"),
        ({"model": "m", "query": "q", "documents": ["d"], "max_chunks_per_doc": 4}, "max_chunks_per_doc"),
    ],
)
def test_invalid_rerank_requests_are_400_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_rerank(body)
    assert caught.value.param == param


def test_rerank_response_keeps_the_ranking_and_returns_documents_as_given():
    documents = ["plain text", {"text": "object text", "id": 7}]
    result = RerankResult(((1, 0.9), (0, 0.1)))
    body = rerank_response("m", result, documents, return_documents=True)
    assert body["results"] == [
        {"index": 1, "relevance_score": 0.9, "document": {"text": "object text", "id": 7}},
        {"index": 0, "relevance_score": 0.1, "document": {"text": "plain text"}},
    ]
    assert body["model"] == "m" and body["id"].startswith("rerank-")
    without = rerank_response("m", result, documents, return_documents=False)
    assert all("document" not in entry for entry in without["results"])
