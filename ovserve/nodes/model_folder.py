"""Facts read from an encoder model's folder (embeddings, rerank) without loading the model.

`ovserve export` copies the sentence-transformers files (sentence_bert_config.json,
1_Pooling/config.json) beside the OpenVINO IR, so these facts survive the conversion.
"""

import json
from pathlib import Path

IR_FILES = ("openvino_model.xml", "openvino_tokenizer.xml")
_POOLING_MODES = (("pooling_mode_cls_token", "cls"), ("pooling_mode_mean_tokens", "mean"),
                  ("pooling_mode_lasttoken", "last_token"))


def _read(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def missing_ir_files(folder, required=IR_FILES):
    return [name for name in required if not (Path(folder) / name).is_file()]


def require_ir_folder(context, path, task):
    """ConfigError (on the node's models_path) unless `path` is an OpenVINO IR folder of an encoder."""
    missing = missing_ir_files(path) if path.is_dir() else ["the folder"]
    if missing:
        raise context.error("models_path", f"{path} is not an OpenVINO IR model folder (missing {', '.join(missing)})",
                            f"convert the model with `ovserve export SOURCE --task {task}`")


def pooling(folder):
    """'cls', 'mean' or 'last_token' from a sentence-transformers pooling config, else None."""
    config = _read(Path(folder) / "1_Pooling" / "config.json")
    for key, name in _POOLING_MODES:
        if config.get(key):
            return name
    return None


def max_length(folder):
    """The longest input the model takes, in tokens: sentence-transformers' max_seq_length, else the
    tokenizer's model_max_length, else the position embeddings; None when the files don't say."""
    folder = Path(folder)
    value = _read(folder / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(value, int) and value > 0:
        return value
    value = _read(folder / "tokenizer_config.json").get("model_max_length")
    if isinstance(value, int) and 0 < value < 1_000_000:  # HF writes a huge sentinel when unknown
        return value
    value = _read(folder / "config.json").get("max_position_embeddings")
    return value if isinstance(value, int) and value > 0 else None
