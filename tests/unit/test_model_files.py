"""ovserve.nodes.llm.model_files: facts read from GGUF files and model folders without loading them."""

import json
import struct

import pytest

from ovserve.nodes.model_files import context_length, is_gguf, read_gguf_metadata, template_file_next_to

UINT32, FLOAT32, BOOL, STRING, ARRAY, UINT64 = 4, 6, 7, 8, 9, 10


def gguf_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def gguf_kv(key, kind, value):
    out = gguf_string(key) + struct.pack("<I", kind)
    if kind == STRING:
        return out + gguf_string(value)
    if kind == ARRAY:
        item_kind, items = value
        out += struct.pack("<IQ", item_kind, len(items))
        if item_kind == STRING:
            return out + b"".join(gguf_string(item) for item in items)
        return out + b"".join(struct.pack("<I", item) for item in items)
    fmt = {UINT32: "<I", FLOAT32: "<f", BOOL: "<?", UINT64: "<Q"}[kind]
    return out + struct.pack(fmt, value)


def write_gguf(path, kvs, version=3):
    header = b"GGUF" + struct.pack("<I", version) + struct.pack("<Q", 0) + struct.pack("<Q", len(kvs))
    path.write_bytes(header + b"".join(gguf_kv(*kv) for kv in kvs) + b"\x00" * 32)  # tensor data would follow
    return path


@pytest.fixture
def gguf_file(tmp_path):
    return write_gguf(
        tmp_path / "tiny.Q4_0.gguf",
        [
            ("general.architecture", STRING, "llama"),
            ("general.name", STRING, "Tiny Llamé"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "héllo", ""])),
            ("llama.context_length", UINT32, 8192),
            ("tokenizer.ggml.token_type", ARRAY, (UINT32, [1, 2, 3])),
            ("llama.rope.freq_base", FLOAT32, 0.5),
            ("tokenizer.ggml.add_bos_token", BOOL, True),
            ("general.file_size", UINT64, 2**40),
        ],
    )


def test_read_gguf_metadata_reads_scalars_and_strings_and_skips_arrays(gguf_file):
    assert read_gguf_metadata(gguf_file) == {
        "general.architecture": "llama",
        "general.name": "Tiny Llamé",
        "llama.context_length": 8192,
        "llama.rope.freq_base": 0.5,
        "tokenizer.ggml.add_bos_token": True,
        "general.file_size": 2**40,
    }


def test_context_length_of_a_gguf_file_uses_its_architecture(tmp_path, gguf_file):
    assert context_length(gguf_file) == 8192
    other = write_gguf(
        tmp_path / "qwen.gguf",
        [
            ("general.architecture", STRING, "qwen2"),
            ("llama.context_length", UINT32, 4096),
            ("qwen2.context_length", UINT32, 32768),
        ],
    )
    assert context_length(other) == 32768


def test_context_length_of_a_gguf_file_without_it_is_none(tmp_path):
    assert context_length(write_gguf(tmp_path / "bare.gguf", [("general.name", STRING, "x")])) is None


def test_not_a_gguf_file_is_rejected(tmp_path):
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGML" + b"\x00" * 20)
    with pytest.raises(ValueError, match="is not a GGUF file"):
        read_gguf_metadata(path)


def test_old_gguf_version_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="version 1 is not supported"):
        read_gguf_metadata(write_gguf(tmp_path / "old.gguf", [], version=1))


def test_truncated_gguf_header_is_rejected(tmp_path, gguf_file):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(gguf_file.read_bytes()[:10])
    with pytest.raises(ValueError, match="truncated"):
        read_gguf_metadata(truncated)


def test_is_gguf(tmp_path, gguf_file):
    assert is_gguf(gguf_file)
    upper = tmp_path / "MODEL.GGUF"
    upper.write_bytes(b"")
    assert is_gguf(upper)
    assert not is_gguf(tmp_path)
    assert not is_gguf(tmp_path / "missing.gguf")


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"max_position_embeddings": 2048, "n_positions": 1}, 2048),
        ({"n_positions": 1024}, 1024),
        ({"seq_length": 4096}, 4096),
        ({"hidden_size": 64}, None),
        ({"max_position_embeddings": "2048"}, None),
    ],
)
def test_context_length_of_a_model_folder_from_config_json(tmp_path, config, expected):
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert context_length(tmp_path) == expected


def test_context_length_of_a_folder_without_config_json_is_none(tmp_path):
    assert context_length(tmp_path) is None


def test_template_file_next_to_a_model_file_or_folder(tmp_path, gguf_file):
    assert template_file_next_to(gguf_file) is None
    assert template_file_next_to(tmp_path) is None
    template = tmp_path / "chat_template.jinja"
    template.write_text("{{ messages }}")
    assert template_file_next_to(gguf_file) == template
    assert template_file_next_to(tmp_path) == template


def test_template_file_next_to_ignores_a_folder_of_that_name(tmp_path):
    (tmp_path / "chat_template.jinja").mkdir()
    assert template_file_next_to(tmp_path) is None


def test_nested_arrays_are_skipped(tmp_path):
    path = tmp_path / "nested.gguf"
    nested = gguf_string("custom.nested") + struct.pack("<I", ARRAY) + struct.pack("<IQ", ARRAY, 2)
    nested += struct.pack("<IQ", UINT32, 1) + struct.pack("<I", 7)  # [7]
    nested += struct.pack("<IQ", STRING, 1) + gguf_string("x")  # ["x"]
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
    path.write_bytes(header + nested + gguf_kv("llama.context_length", UINT32, 2048))
    assert read_gguf_metadata(path) == {"llama.context_length": 2048}
