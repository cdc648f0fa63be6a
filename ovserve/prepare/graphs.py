"""The graph file written beside a prepared model, and what kind of model a folder holds."""

import json
from pathlib import Path

from ovserve.nodes import model_files

KINDS = (
    "text_generation",
    "embeddings",
    "rerank",
    "text_to_image",
    "automatic_speech_recognition",
    "text_to_speech",
    "image_text_to_text",
)
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
    "image_text_to_text": ("llm", "llm_continuous_batching"),  # the LLM node runs VLM folders too
    "embeddings": ("embeddings", "embeddings"),
    "rerank": ("rerank", "rerank"),
    "text_to_image": ("images", "image_generation"),
    "automatic_speech_recognition": ("transcription", "transcription"),
    "text_to_speech": ("speech", "speech"),
}


def node_options(kind, folder, models_path="."):
    """Sensible options for a model in `folder`: the defaults, plus facts read from its files."""
    options = {"models_path": models_path}
    if kind in ("text_generation", "image_text_to_text"):
        options.update(_LLM_OPTIONS)
        return options
    options["device"] = "CPU"
    if kind in ("text_to_image", "automatic_speech_recognition", "text_to_speech"):  # the node's defaults fit
        return options
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
    """text_generation, embeddings or rerank from a model folder's config.json, text_to_image for a diffusers
    pipeline (model_index.json), or None when it can't tell."""
    if (Path(folder) / "model_index.json").is_file():
        return "text_to_image"
    if (Path(folder) / "openvino_vision_embeddings_model.xml").is_file():
        return "image_text_to_text"
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    architectures = " ".join(config.get("architectures") or ())
    if "WhisperForConditionalGeneration" in architectures:  # before the LLMs' ForConditionalGeneration
        return "automatic_speech_recognition"
    if "ForTextToSpeech" in architectures:
        return "text_to_speech"
    if "ForSequenceClassification" in architectures:
        return "rerank"
    if "ForCausalLM" in architectures or "ForConditionalGeneration" in architectures:
        return "text_generation"
    if architectures or (Path(folder) / "1_Pooling").is_dir():
        return "embeddings"
    return None
