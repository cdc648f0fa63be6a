"""OVMS's single-model command line: `--model_path DIR --model_name NAME` (or `--source_model REPO`)
served without a config file.

The servable is written as an ovserve config and graph in a folder of its own, so the rest of the
server (the loader, a reload, `GET /v1/config`) sees an ordinary config file.
"""

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ovserve.config.loader import DEFAULT_GRAPH_FILES
from ovserve.config.ovms.calculators import REASONING_PARSERS, TOOL_PARSERS
from ovserve.prepare import graphs

GGUF_SUFFIX = ".gguf"
OVMS_GRAPH = "graph.pbtxt"


class SingleModelError(ValueError):
    """The model path or the flags can't make a servable; the message names the flag."""


@dataclass(frozen=True)
class SingleModel:
    path: Path  # a model folder or a .gguf file
    name: str
    task: str = None  # text_generation, embeddings or rerank; None: read from the folder
    node_options: dict = field(default_factory=dict)  # from OVMS's graph flags (--cache_size, ...)


def _gguf_in(folder):
    files = sorted(folder.glob(f"*{GGUF_SUFFIX}"))
    if len(files) > 1:
        raise SingleModelError(f"--model_path {folder} holds {len(files)} GGUF files; name one of them")
    return files[0] if files else None


def _servable_entry(model):
    """The config entry of `model`: its own graph file when it has one, else a graph made here."""
    path = model.path.resolve()
    if not path.exists():
        raise SingleModelError(f"--model_path {model.path} does not exist")
    if path.is_dir():
        for graph in (OVMS_GRAPH, *DEFAULT_GRAPH_FILES):
            if (path / graph).is_file():
                if model.node_options:
                    flags = ", ".join(f"--{name}" for name in model.node_options)
                    raise SingleModelError(f"{flags}: {path / graph} sets the model's options; edit it instead")
                return {"name": model.name, "base_path": str(path), "graph_path": graph}, None
        gguf = _gguf_in(path)
    else:
        gguf = path if path.suffix.lower() == GGUF_SUFFIX else None
        if gguf is None:
            raise SingleModelError(f"--model_path {model.path} is neither a model folder nor a .gguf file")
    if gguf is not None:
        kind, models_path, folder = "text_generation", str(gguf), gguf.parent
    else:
        kind, models_path, folder = model.task or graphs.detect_kind(path), str(path), path
        if kind is None:
            raise SingleModelError(
                f"can't tell from {path / 'config.json'} what kind of model it is; pass --task "
                f"({'|'.join(graphs.KINDS)})"
            )
    if model.task and model.task != kind:
        raise SingleModelError(f"--task {model.task}: {path} is a {kind} model")
    llm_only = sorted(set(model.node_options) - {"device"})
    if llm_only and kind != "text_generation":
        raise SingleModelError(f"--{llm_only[0]} applies to text generation; {path} is a {kind} model")
    document = graphs.graph_document(kind, folder, models_path)
    document["nodes"][0]["options"].update(model.node_options)
    return {"name": model.name, "base_path": None}, document


def write_single_model_config(model, folder=None):
    """Write the config (and graph) serving `model` into `folder` (default: a new temporary folder);
    return the config file's path."""
    folder = Path(folder or tempfile.mkdtemp(prefix="ovserve-single-model-"))
    entry, graph = _servable_entry(model)
    if graph is not None:
        graph_folder = folder / "servable"
        graph_folder.mkdir(parents=True, exist_ok=True)
        (graph_folder / graphs.GRAPH_FILE).write_text(json.dumps(graph, indent=2) + "\n", encoding="utf-8")
        entry["base_path"] = str(graph_folder)
    config = folder / "config.json"
    config.write_text(json.dumps({"servables": [entry]}, indent=2) + "\n", encoding="utf-8")
    return config


def graph_flag_options(values):
    """Node options from OVMS's graph flags given on the command line ({flag: value}, None: not given)."""
    options = {}
    for flag, value in values.items():
        if value is None:
            continue
        if flag == "tool_parser":
            if value not in TOOL_PARSERS:
                raise SingleModelError(
                    f"--tool_parser {value}: not one ovserve has; use one of {', '.join(TOOL_PARSERS)}"
                )
            value = TOOL_PARSERS[value]
        elif flag == "reasoning_parser":
            if value not in REASONING_PARSERS:
                raise SingleModelError(
                    f"--reasoning_parser {value}: not one ovserve has; use one of {', '.join(REASONING_PARSERS)}"
                )
            value = REASONING_PARSERS[value]
        options["device" if flag == "target_device" else flag] = value
    return options
