"""OVMS's flags on `ovserve serve`: aliases of ovserve's own, the single-model mode, and a clear error
for the flags ovserve can't honour."""

import json

import pytest

from ovserve.cli import build_parser
from ovserve.config.loader import load_server_config
from ovserve.config.ovms.command_line import SingleModelError, config_from_ovms_flags
from tests.unit.conftest import copy_fixture


def serve_args(*argv):
    return build_parser().parse_args(["serve", *argv])


def test_ovms_flag_names_are_aliases_of_ovservers_own():
    args = serve_args(
        "--config_path", "c.json", "--rest_port", "9001", "--rest_bind_address", "127.0.0.1", "--log_level", "DEBUG",
        "--api_key_file", "keys.txt",
    )  # fmt: skip
    assert config_from_ovms_flags(args) is None
    assert (args.config, args.port, args.host, args.log_level, args.api_key_file) == (
        "c.json", 9001, "127.0.0.1", "debug", "keys.txt",
    )  # fmt: skip


def test_ovms_grpc_port_next_to_rest_port_is_refused_rather_than_guessed():
    args = serve_args("--rest_port", "8001", "--port", "9000")
    with pytest.raises(SingleModelError, match="--rest_port 8001 and --port 9000"):
        config_from_ovms_flags(args)


@pytest.mark.parametrize("flag", ["--grpc_workers", "--batch_size", "--plugin_config", "--allowed_origins"])
def test_a_flag_ovserve_cant_honour_stops_with_its_name(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        serve_args(flag, "1")
    assert caught.value.code == 2
    assert f"{flag} is an OVMS flag ovserve can't honour" in capsys.readouterr().err


def test_rest_workers_is_accepted():
    assert serve_args("--rest_workers", "4").command == "serve"


def test_model_path_of_a_gguf_file_serves_it_as_an_llm(tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    args = serve_args(
        "--model_path", str(gguf), "--model_name", "my-llm", "--cache_size", "1", "--tool_parser", "hermes3"
    )
    config = load_server_config(config_from_ovms_flags(args))
    (servable,) = config.servables
    options = servable.graph["nodes"][0]["options"]
    assert servable.name == "my-llm" and servable.graph["nodes"][0]["type"] == "llm_continuous_batching"
    assert options["models_path"] == str(gguf) and options["cache_size"] == 1 and options["tool_parser"] == "hermes"


def test_model_path_of_an_ovms_model_folder_serves_its_graph_pbtxt(tmp_path):
    copy_fixture(("ovms", "graphs", "rerank.pbtxt"), tmp_path / "reranker" / "graph.pbtxt")
    args = serve_args("--model_path", str(tmp_path / "reranker"), "--model_name", "rr")
    (servable,) = load_server_config(config_from_ovms_flags(args)).servables
    assert servable.graph_file == tmp_path / "reranker" / "graph.pbtxt"
    assert servable.graph["nodes"][0]["type"] == "rerank"


def test_model_path_of_an_ir_folder_takes_its_kind_from_config_json(tmp_path):
    folder = tmp_path / "embedder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    args = serve_args("--model_path", str(folder), "--model_name", "e")
    (servable,) = load_server_config(config_from_ovms_flags(args)).servables
    assert servable.graph["nodes"][0]["type"] == "embeddings"
    assert servable.graph["nodes"][0]["options"]["models_path"] == str(folder)


@pytest.mark.parametrize(
    "argv, words",
    [
        (("--model_path", "MODEL"), "--model_name"),
        (("--model_name", "x"), "--model_path or --source_model"),
        (
            ("--model_path", "MODEL", "--model_name", "e", "--cache_size", "2"),
            "--cache_size applies to text generation",
        ),
        (("--model_path", "GGUF", "--model_name", "e", "--task", "rerank"), "--task rerank: .* is a text_generation"),
        (("--model_path", "MISSING", "--model_name", "e"), "does not exist"),
        (("--model_path", "MODEL", "--model_name", "e", "--config_path", "c.json"), "--config_path"),
    ],
)
def test_single_model_errors_name_the_flag(tmp_path, argv, words):
    folder = tmp_path / "embedder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    names = {"MODEL": folder, "MISSING": tmp_path / "missing", "GGUF": tmp_path / "model.gguf"}
    argv = [str(names.get(a, a)) for a in argv]
    with pytest.raises(SingleModelError, match=words):
        config_from_ovms_flags(serve_args(*argv))
