"""A broken configuration stops `ovserve serve` before anything starts, with a message a user can act on."""

import json
import subprocess
import sys

from tests.e2e.server import REPO


def serve(config, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "ovserve", "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_bad_node_option_names_file_json_path_and_expectation(tmp_path):
    servable = tmp_path / "llm"
    servable.mkdir()
    graph = json.loads((REPO / "servables/smollm2/graph.json").read_text())
    graph["nodes"][0]["options"]["cache_size"] = "two"
    (servable / "graph.json").write_text(json.dumps(graph))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "m", "base_path": "llm"}]}))
    result = serve(config)
    assert result.returncode == 2
    assert str(servable / "graph.json") in result.stderr
    assert "$.nodes[0].options.cache_size" in result.stderr and "integer" in result.stderr


def test_missing_model_file_is_reported_before_start(tmp_path):
    servable = tmp_path / "llm"
    servable.mkdir()
    (servable / "graph.json").write_text(
        json.dumps(
            {
                "nodes": [
                    {
                        "name": "llm",
                        "type": "llm_continuous_batching",
                        "options": {"models_path": "${HOME}/no/such/model.gguf"},
                    }
                ],
                "output": "llm",
            }
        )
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "m", "base_path": "llm"}]}))
    result = serve(config)
    assert result.returncode == 2
    assert "$.nodes[0].options.models_path" in result.stderr and "does not exist" in result.stderr


def test_unknown_key_in_server_config(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "m", "base_path": ".", "bogus": 1}]}))
    result = serve(config)
    assert result.returncode == 2
    assert "$.servables[0]" in result.stderr and "bogus" in result.stderr
