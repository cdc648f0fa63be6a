"""ovserve.prepare: graph files for prepared models, --add-to-config, GGUF choice, `ovserve list`."""

import json
import os
import shutil

import pytest

from ovserve.cli import main
from ovserve.prepare import graphs
from ovserve.prepare.config_edit import ConfigEditError, add_servable
from ovserve.prepare.export import optimum_command
from ovserve.prepare.listing import format_table, servable_rows
from ovserve.prepare.pull import PullError, choose_gguf, repository_layout
from tests.unit.conftest import fixture_path

ENCODER = fixture_path("models", "encoder_ir")
CROSS_ENCODER = fixture_path("models", "cross_encoder_ir")


@pytest.fixture
def prepared(tmp_path):
    """Copies of the fake encoder and cross-encoder folders, each with the graph file export writes."""
    folders = {}
    for name, source, kind in (("encoder", ENCODER, "embeddings"), ("cross", CROSS_ENCODER, "rerank")):
        folder = tmp_path / "models" / name
        shutil.copytree(source, folder)
        graphs.write_graph(folder, kind)
        folders[name] = folder
    return folders


def read(path):
    return json.loads(path.read_text())


# --- graph files and kinds ------------------------------------------------------------------------


def test_detect_kind_from_the_architecture():
    assert graphs.detect_kind(ENCODER) == "embeddings"
    assert graphs.detect_kind(CROSS_ENCODER) == "rerank"
    assert graphs.detect_kind(fixture_path("models")) is None


def test_graph_of_an_embeddings_model_carries_what_its_files_say(prepared):
    graph = read(prepared["encoder"] / "graph.json")
    node = graph["nodes"][0]
    assert graph["output"] == node["name"] and node["type"] == "embeddings"
    assert node["options"] == {
        "models_path": ".",
        "device": "CPU",
        "max_length": 8,
        "pooling": "mean",
        "normalize": True,
    }


def test_graph_of_a_gguf_llm_names_the_file():
    document = graphs.graph_document("text_generation", "/nowhere", "model.Q4_0.gguf")
    assert document["nodes"][0]["type"] == "llm_continuous_batching"
    assert document["nodes"][0]["options"]["models_path"] == "model.Q4_0.gguf"


# --- --add-to-config ------------------------------------------------------------------------------


def test_add_to_a_new_config_creates_it_with_a_relative_base_path(tmp_path, prepared):
    config = tmp_path / "config.json"
    entry = add_servable(config, "org/embedder", prepared["encoder"])
    assert entry == {"name": "org/embedder", "base_path": "models/encoder"}
    assert read(config) == {"servables": [entry]}
    assert oct(config.stat().st_mode & 0o777) == oct(0o644)


def test_add_keeps_existing_entries_and_fields(tmp_path, prepared):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "first", "base_path": "models/encoder"}], "plugin_paths": []}))
    os.chmod(config, 0o600)
    add_servable(config, "second", prepared["cross"])
    document = read(config)
    assert document["plugin_paths"] == []
    assert [servable["name"] for servable in document["servables"]] == ["first", "second"]
    assert oct(config.stat().st_mode & 0o777) == oct(0o600)


def test_a_folder_outside_the_config_folder_gets_an_absolute_path(tmp_path, prepared):
    config = tmp_path / "elsewhere" / "config.json"
    entry = add_servable(config, "m", prepared["encoder"])
    assert entry["base_path"] == str(prepared["encoder"])


def test_a_taken_name_is_refused_unless_replaced(tmp_path, prepared):
    config = tmp_path / "config.json"
    add_servable(config, "m", prepared["encoder"])
    before = config.read_text()
    with pytest.raises(ConfigEditError, match=r"already has a servable named 'm' \(\$.servables\[0\]\).*--replace"):
        add_servable(config, "m", prepared["cross"])
    assert config.read_text() == before
    add_servable(config, "m", prepared["cross"], replace=True)
    assert read(config)["servables"] == [{"name": "m", "base_path": "models/cross"}]


def test_an_entry_that_would_not_load_leaves_the_config_unchanged(tmp_path, prepared):
    config = tmp_path / "config.json"
    add_servable(config, "m", prepared["encoder"])
    before = config.read_text()
    (prepared["cross"] / "openvino_model.xml").unlink()
    with pytest.raises(ConfigEditError, match="would not load.*missing openvino_model.xml"):
        add_servable(config, "broken", prepared["cross"])
    with pytest.raises(ConfigEditError, match="would not load"):
        add_servable(config, "bad name with spaces", prepared["encoder"])
    assert config.read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "models"]  # no temporary left


def test_a_config_that_is_not_json_is_not_touched(tmp_path, prepared):
    config = tmp_path / "config.json"
    config.write_text("{not json")
    with pytest.raises(ConfigEditError, match="not valid JSON"):
        add_servable(config, "m", prepared["encoder"])
    assert config.read_text() == "{not json"


# --- pull: which files ----------------------------------------------------------------------------


def test_repository_layout():
    assert repository_layout(["openvino_model.xml", "openvino_model.bin", "config.json"]) == "openvino"
    assert repository_layout(["README.md", "model-Q4_K_M.gguf"]) == "gguf"
    assert repository_layout(["model.safetensors", "config.json"]) is None


def test_choose_gguf():
    files = ["README.md", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "sub/m-f16.gguf"]
    assert choose_gguf(["only.gguf", "README.md"]) == "only.gguf"
    assert choose_gguf(files, "*Q8_0.gguf") == "m-Q8_0.gguf"
    assert choose_gguf(files, "m-f16.gguf") == "sub/m-f16.gguf"
    with pytest.raises(PullError, match="has 3 GGUF files; choose one with --gguf-file"):
        choose_gguf(files)
    with pytest.raises(PullError, match="must match exactly one"):
        choose_gguf(files, "*Q4*.gguf*x")


# --- export: the conversion command ---------------------------------------------------------------


@pytest.mark.parametrize(
    "task, optimum_task",
    [
        ("text_generation", "text-generation-with-past"),
        ("embeddings", "feature-extraction"),
        ("rerank", "text-classification"),
    ],
)
def test_optimum_command(task, optimum_task, tmp_path):
    command = optimum_command("/models/src", task, "int8", tmp_path / "out")
    arguments = command[command.index("export") :]
    assert arguments[:6] == ["export", "openvino", "--model", "/models/src", "--task", optimum_task]
    assert arguments[-1] == str(tmp_path / "out") and "--weight-format" in arguments
    assert ("--library" in arguments) == (task != "text_generation")


# --- ovserve list ---------------------------------------------------------------------------------


def test_list_shows_kind_node_and_model_location(tmp_path, prepared, capsys):
    config = tmp_path / "config.json"
    add_servable(config, "org/embedder", prepared["encoder"])
    add_servable(config, "org/reranker", prepared["cross"])
    rows = servable_rows(config)
    assert [(row["name"], row["kind"], row["node"], row["model"]) for row in rows] == [
        ("org/embedder", "embeddings", "embeddings", str(prepared["encoder"])),
        ("org/reranker", "rerank", "rerank", str(prepared["cross"])),
    ]
    assert main(["list", "--config", str(config)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["NAME", "KIND", "NODE", "SIZE", "MODEL"]
    assert printed[1].split()[:3] == ["org/embedder", "embeddings", "embeddings"]
    assert format_table(rows) == "\n".join(printed)


def test_list_of_a_broken_config_is_a_configuration_error(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "m", "base_path": "nowhere"}]}))
    assert main(["list", "--config", str(config)]) == 2
    assert "configuration error" in capsys.readouterr().err
