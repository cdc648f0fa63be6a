"""One server, one config built by `ovserve export/pull --add-to-config`: the default LLM (pulled
GGUF), MiniLM embeddings (exported, and pulled as an OpenVINO IR repository) and a tiny reranker.
Embeddings through the openai client, rerank in Cohere's shape, routing by kind."""

import base64
import threading

import numpy
import pytest
import requests
from openai import BadRequestError, OpenAI

from tests.e2e.prepared_models import DEFAULT_MODEL, EMBEDDINGS_MODEL, PULLED_EMBEDDINGS_MODEL, RERANK_MODEL
from tests.e2e.server import serving

SIMILAR = ("The cat sits on the mat.", "A feline rests on a rug.")
UNRELATED = "The stock market closed higher on Tuesday."
QUERY = "What is the capital of France?"
DOCUMENTS = [
    "Paris is the capital of France.",
    "Bananas are rich in potassium.",
    "France borders Spain.",
    "The Eiffel Tower is in Paris.",
    "Quantum computers use qubits.",
]


@pytest.fixture(scope="module")
def retrieval_server(pulled_models, exported_minilm, exported_reranker, retrieval_config, tmp_path_factory):
    log = tmp_path_factory.mktemp("retrieval-server") / "server.log"
    with serving(retrieval_config, log_path=log) as running:
        yield running


@pytest.fixture(scope="module")
def openai_client(retrieval_server):
    return OpenAI(base_url=retrieval_server.base + "/v3", api_key="unused", max_retries=0, timeout=60)


def cosine(a, b):
    a, b = numpy.asarray(a), numpy.asarray(b)
    return float(a @ b / (numpy.linalg.norm(a) * numpy.linalg.norm(b)))


def test_models_lists_every_servable_with_its_kind(retrieval_server):
    cards = {card["id"]: card for card in requests.get(retrieval_server.base + "/v3/models").json()["data"]}
    assert {name: card["kind"] for name, card in cards.items()} == {
        DEFAULT_MODEL: "text_generation",
        EMBEDDINGS_MODEL: "embeddings",
        PULLED_EMBEDDINGS_MODEL: "embeddings",
        RERANK_MODEL: "rerank",
    }
    assert cards[EMBEDDINGS_MODEL]["dimensions"] == 384 and cards[EMBEDDINGS_MODEL]["capabilities"] == ["embeddings"]


@pytest.mark.parametrize("model", [EMBEDDINGS_MODEL, PULLED_EMBEDDINGS_MODEL])
def test_similar_sentences_score_higher_than_unrelated_ones(openai_client, model):
    response = openai_client.embeddings.create(model=model, input=[*SIMILAR, UNRELATED])
    vectors = [item.embedding for item in response.data]
    assert [item.index for item in response.data] == [0, 1, 2] and len(vectors[0]) == 384
    similar, unrelated = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
    print(f"\n{model}: cosine similar {similar:.3f}, unrelated {unrelated:.3f}")
    assert similar > unrelated + 0.3
    assert numpy.isclose(numpy.linalg.norm(vectors[0]), 1.0, atol=1e-3)  # normalize: true
    assert response.usage.prompt_tokens == response.usage.total_tokens > 3 * 3


def test_float_and_base64_encodings_agree(retrieval_server):
    url = retrieval_server.base + "/v3/embeddings"
    floats = requests.post(url, json={"model": EMBEDDINGS_MODEL, "input": SIMILAR[0]}).json()
    encoded = requests.post(
        url, json={"model": EMBEDDINGS_MODEL, "input": SIMILAR[0], "encoding_format": "base64"}
    ).json()
    decoded = numpy.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert numpy.allclose(decoded, floats["data"][0]["embedding"], atol=1e-6)
    assert floats["usage"]["prompt_tokens"] == 9  # [CLS] the cat sits on the mat . [SEP]


def test_token_id_input_embeds_like_its_text(openai_client, retrieval_server):
    tokens = requests.post(
        retrieval_server.base + "/v3/embeddings", json={"model": EMBEDDINGS_MODEL, "input": SIMILAR[0]}
    ).json()
    ids = [1996, 4937, 7719, 2006, 1996, 13523, 1012]  # "the cat sits on the mat ." in MiniLM's vocabulary
    from_ids = openai_client.embeddings.create(model=EMBEDDINGS_MODEL, input=[ids]).data[0].embedding
    assert cosine(from_ids, tokens["data"][0]["embedding"]) > 0.99


def test_dimensions_other_than_the_models_are_a_400(openai_client):
    assert (
        len(openai_client.embeddings.create(model=EMBEDDINGS_MODEL, input="x", dimensions=384).data[0].embedding) == 384
    )
    with pytest.raises(BadRequestError) as caught:
        openai_client.embeddings.create(model=EMBEDDINGS_MODEL, input="x", dimensions=128)
    assert "this model gives vectors of 384 dimensions" in caught.value.body["message"]


def test_a_request_for_the_wrong_kind_of_model_is_a_400_saying_so(openai_client):
    with pytest.raises(BadRequestError) as caught:
        openai_client.chat.completions.create(model=EMBEDDINGS_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["message"].startswith(
        f"The model '{EMBEDDINGS_MODEL}' is an embeddings model and does not support chat.completions"
    )
    with pytest.raises(BadRequestError) as caught:
        openai_client.embeddings.create(model=DEFAULT_MODEL, input="hi")
    assert "is a text-generation model and does not support embeddings" in caught.value.body["message"]


def test_the_llm_still_chats_beside_them(openai_client):
    answer = openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        max_tokens=12,
        temperature=0,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert "Paris" in answer.choices[0].message.content


def reference_scores(folder):
    """The reranker's own scores, from TextRerankPipeline in this process."""
    import openvino_genai

    config = openvino_genai.TextRerankPipeline.Config()
    config.top_n = len(DOCUMENTS)
    pipeline = openvino_genai.TextRerankPipeline(str(folder), "CPU", config)
    return dict(pipeline.rerank(QUERY, DOCUMENTS))


def test_rerank_order_follows_the_models_scores(retrieval_server, exported_reranker):
    body = requests.post(
        retrieval_server.base + "/v3/rerank", json={"model": RERANK_MODEL, "query": QUERY, "documents": DOCUMENTS}
    ).json()
    results = body["results"]
    assert sorted(entry["index"] for entry in results) == list(range(len(DOCUMENTS)))
    assert body["usage"]["prompt_tokens"] > 10 * len(DOCUMENTS)  # [CLS] query [SEP] document [SEP], per pair
    scores = [entry["relevance_score"] for entry in results]
    assert scores == sorted(scores, reverse=True)
    expected = reference_scores(exported_reranker[0])
    for entry in results:
        assert entry["relevance_score"] == pytest.approx(expected[entry["index"]], abs=1e-3)
        assert "document" not in entry


def test_rerank_top_n_and_documents_as_objects(retrieval_server):
    body = requests.post(
        retrieval_server.base + "/v1/rerank",
        json={
            "model": RERANK_MODEL,
            "query": QUERY,
            "top_n": 2,
            "return_documents": True,
            "documents": [{"text": text, "id": index} for index, text in enumerate(DOCUMENTS)],
        },
    ).json()
    assert len(body["results"]) == 2
    for entry in body["results"]:
        assert entry["document"] == {"text": DOCUMENTS[entry["index"]], "id": entry["index"]}


def test_rerank_on_an_embeddings_model_is_a_400(retrieval_server):
    result = requests.post(
        retrieval_server.base + "/v3/rerank", json={"model": EMBEDDINGS_MODEL, "query": QUERY, "documents": DOCUMENTS}
    )
    assert result.status_code == 400
    assert "is an embeddings model and does not support rerank" in result.json()["error"]["message"]


def engine_stats(server, model):
    stats = requests.get(f"{server.base}/v2/models/{model}/stats").json()
    return stats["nodes"]["embeddings"]["engine"]


def test_concurrent_requests_share_batches(retrieval_server, openai_client):
    """16 concurrent one-sentence requests take fewer than 16 inferences: the engine batches them."""
    import time

    time.sleep(1.2)  # the engine sends its counters every second
    before = engine_stats(retrieval_server, EMBEDDINGS_MODEL)["batches"]
    barrier, errors = threading.Barrier(16), []

    def one(index):
        barrier.wait()
        try:
            openai_client.embeddings.create(model=EMBEDDINGS_MODEL, input=f"sentence number {index} about cats")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    time.sleep(1.2)
    batches = engine_stats(retrieval_server, EMBEDDINGS_MODEL)["batches"] - before
    print(f"\n16 concurrent embedding requests: {batches} inferences")
    assert batches < 16
