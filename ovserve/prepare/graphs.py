"""The graph file written beside a prepared model, and what kind of model a folder holds."""

import json
from pathlib import Path

from ovserve.nodes import model_files

KINDS = ("text_generation", "embeddings", "rerank")
GRAPH_FILE = "graph.json"
_LLM_OPTIONS = {
    "device": "CPU",
    "cache_size": 2,
    "max_num_seqs": 256,
    "max_num_batched_tokens": 256,
    "dynamic_split_fuse": True,
    "enable_prefix_caching": True,
}
_NODE_TYPES = {
    "text_generation": ("llm", "llm_continuous_batching"),
    "embeddings": ("embeddings", "embeddings"),
    "rerank": ("rerank", "rerank"),
}


def node_options(kind, folder, models_path="."):
    """Sensible options for a model in `folder`: the defaults, plus facts read from its files."""
    options = {"models_path": models_path}
    if kind == "text_generation":
        options.update(_LLM_OPTIONS)
        return options
    options["device"] = "CPU"
    max_length = model_files.max_length(folder)
    if max_length:
        options["max_length"] = max_length
    if kind == "embeddings":
        options["pooling"] = model_files.pooling(folder) or "cls"
        options["normalize"] = True
    return options


def graph_document(kind, folder, models_path="."):
    node_name, node_type = _NODE_TYPES[kind]
    return {
        "input": "request",
        "nodes": [
            {
                "name": node_name,
                "type": node_type,
                "input": "request",
                "options": node_options(kind, folder, models_path),
            }
        ],
        "output": node_name,
    }


def write_graph(folder, kind, models_path="."):
    path = Path(folder) / GRAPH_FILE
    path.write_text(json.dumps(graph_document(kind, folder, models_path), indent=2) + "\n", encoding="utf-8")
    return path


def detect_kind(folder):
    """text_generation, embeddings or rerank from a model folder's config.json, or None when it can't tell."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    architectures = " ".join(config.get("architectures") or ())
    if "ForSequenceClassification" in architectures:
        return "rerank"
    if "ForCausalLM" in architectures or "ForConditionalGeneration" in architectures:
        return "text_generation"
    if architectures or (Path(folder) / "1_Pooling").is_dir():
        return "embeddings"
    return None
