"""Facts read from model files without loading the model: GGUF metadata, and OpenVINO IR / Hugging Face
folders (the LLM's context length and chat template; an encoder's pooling and input length).

`ovserve export` copies the sentence-transformers files (sentence_bert_config.json, 1_Pooling/config.json)
beside the OpenVINO IR, so an encoder's facts survive the conversion.
"""

import json
import struct
from pathlib import Path

GGUF_MAGIC = b"GGUF"
# What an OpenVINO IR folder must hold: an LLM detokenizes too (the engine and the workers both do).
ENCODER_IR_FILES = ("openvino_model.xml", "openvino_tokenizer.xml")
LLM_IR_FILES = ENCODER_IR_FILES + ("openvino_detokenizer.xml",)
# GGUF value types -> struct format of a scalar (8 = string, 9 = array are handled apart)
_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, handle):
        self.handle = handle

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        data = self.handle.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack(fmt, data)[0]

    def string(self):
        length = self.unpack("<Q")
        return self.handle.read(length).decode("utf-8", errors="replace")

    def skip_string(self):
        self.handle.seek(self.unpack("<Q"), 1)

    def value(self, kind, keep):
        if kind == _STRING:
            return self.string() if keep else self.skip_string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if item_kind in (_STRING, _ARRAY):
                for _ in range(count):
                    self.value(item_kind, keep=False)
            else:
                self.handle.seek(struct.calcsize(_SCALAR_FORMATS[item_kind]) * count, 1)
            return None
        return self.unpack(_SCALAR_FORMATS[kind])


def read_gguf_metadata(path):
    """Scalar and string metadata of a GGUF file (arrays such as the vocabulary are skipped)."""
    metadata = {}
    with open(path, "rb") as handle:
        reader = _Reader(handle)
        if handle.read(4) != GGUF_MAGIC:
            raise ValueError(f"{path} is not a GGUF file")
        version = reader.unpack("<I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is not supported")
        reader.unpack("<Q")  # tensor count
        for _ in range(reader.unpack("<Q")):
            key = reader.string()
            kind = reader.unpack("<I")
            value = reader.value(kind, keep=True)
            if value is not None:
                metadata[key] = value
    return metadata


def is_gguf(path):
    return Path(path).is_file() and Path(path).suffix.lower() == ".gguf"


def context_length(models_path):
    """The model's context length, or None when the files don't say."""
    path = Path(models_path)
    if is_gguf(path):
        metadata = read_gguf_metadata(path)
        architecture = metadata.get("general.architecture", "llama")
        value = metadata.get(f"{architecture}.context_length")
        return int(value) if value else None
    config = path / "config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        # A vision-language model states it in its language model's part (text_config).
        for section in (data, data.get("text_config") or {}):
            for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
                if isinstance(section.get(key), int):
                    return section[key]
    return None


def template_file_next_to(models_path):
    """A chat template shipped beside the model (`chat_template.jinja`), if any."""
    path = Path(models_path)
    folder = path.parent if path.is_file() else path
    candidate = folder / "chat_template.jinja"
    return candidate if candidate.is_file() else None


# --- encoder folders ----------------------------------------------------------------------------
_POOLING_MODES = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_lasttoken", "last_token"),
)


def _read(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def missing_ir_files(folder, required=ENCODER_IR_FILES):
    return [name for name in required if not (Path(folder) / name).is_file()]


def require_ir_folder(context, path, task):
    """ConfigError (on the node's models_path) unless `path` is an OpenVINO IR folder of an encoder."""
    missing = missing_ir_files(path) if path.is_dir() else ["the folder"]
    if missing:
        raise context.error(
            "models_path",
            f"{path} is not an OpenVINO IR model folder (missing {', '.join(missing)})",
            f"convert the model with `ovserve export SOURCE --task {task}`",
        )


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
