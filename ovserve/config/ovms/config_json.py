"""Reading OVMS's config.json (`model_config_list`, `mediapipe_config_list`) as ovserve servables.

OVMS's defaults apply: `base_path` is `<config folder>/<name>`, `graph_path` is `graph.pbtxt` in
base_path, relative paths resolve against the config file (base_path) and base_path (graph_path). What
ovserve has no equivalent for — a classic OpenVINO model without a graph (OVMS serves those over its
KServe/TFS APIs), a DAG pipeline, a custom node library — is a ConfigError naming the entry.
"""

from dataclasses import dataclass
from pathlib import Path

from ovserve.config.ovms.graph import graph_document
from ovserve.config.paths import UnresolvablePath, resolve_path
from ovserve.config.validation import compile_validator, validate_document
from ovserve.errors import ConfigError

OVMS_LISTS = ("model_config_list", "mediapipe_config_list")
DEFAULT_GRAPH_FILE = "graph.pbtxt"
# OVMS's other top-level sections, and why ovserve can't serve them.
UNSUPPORTED_SECTIONS = {
    "pipeline_config_list": "DAG pipelines of classic models are not something ovserve serves",
    "custom_node_library_config_list": "ovserve does not load OVMS custom node libraries (its plugins are Python node types)",
    "custom_loader_config_list": "ovserve does not load OVMS custom model loaders",
    "monitoring": "ovserve always serves Prometheus metrics at /metrics; remove this section",
}
# Fields of a model_config_list entry that only OVMS's classic (KServe/TFS) model serving reads.
CLASSIC_MODEL_FIELDS = (
    "batch_size",
    "shape",
    "layout",
    "model_version_policy",
    "nireq",
    "stateful",
    "low_latency_transformation",
    "max_sequence_number",
    "idle_sequence_cleanup",
    "custom_loader_options",
    "allow_cache",
)
_NAME = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"}
_PATH = {"type": "string", "minLength": 1}
_GRAPH_ENTRY = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "base_path": _PATH,
        "graph_path": _PATH,
        "subconfig": _PATH,
        # ovserve's own addition (OVMS has no idle unload): the same field as in ovserve's format.
        "idle_unload_seconds": {"type": "number", "minimum": 0},
    },
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "model_config_list": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["config"],
                "additionalProperties": False,
                "properties": {
                    "config": {
                        **_GRAPH_ENTRY,
                        "properties": {
                            **_GRAPH_ENTRY["properties"],
                            "target_device": {"type": "string"},
                            "plugin_config": {"type": ["object", "string"]},
                            # Refused with their own message (CLASSIC_MODEL_FIELDS), not as unknown keys.
                            **{field: {} for field in CLASSIC_MODEL_FIELDS},
                        },
                        "additionalProperties": False,
                    }
                },
            },
        },
        "mediapipe_config_list": {"type": "array", "items": {**_GRAPH_ENTRY, "additionalProperties": False}},
    },
}


@dataclass(frozen=True)
class OvmsServable:
    """One servable read from an OVMS config.json: its graph already translated to ovserve's form."""

    name: str
    graph_file: Path
    graph: dict
    json_path: str
    idle_unload_seconds: float = 0.0


def is_ovms_config(document, file):
    """Whether `document` (read from `file`) is OVMS's format; ConfigError when it mixes OVMS's and ovserve's."""
    if not isinstance(document, dict):
        return False
    ovms_keys = [key for key in (*OVMS_LISTS, *UNSUPPORTED_SECTIONS) if key in document]
    if not (ovms_keys and "servables" in document):
        return bool(ovms_keys)
    raise ConfigError(
        file,
        f"$.{ovms_keys[0]}",
        f"the file mixes ovserve's format (servables) with OVMS's ({', '.join(ovms_keys)})",
        "keep one format: ovserve's `servables`, or OVMS's model_config_list / mediapipe_config_list",
    )


def _resolve(value, relative_to, file, json_path):
    try:
        return resolve_path(value, relative_to)
    except UnresolvablePath as exc:
        raise ConfigError(file, json_path, str(exc)) from None


def _check_model_entry(entry, file, json_path):
    for field in CLASSIC_MODEL_FIELDS:
        if field in entry:
            raise ConfigError(
                file,
                f"{json_path}.{field}",
                f"'{field}' applies to OVMS's classic model serving (KServe/TFS APIs), which ovserve has not",
                "remove it",
            )
    device = entry.get("target_device", "CPU")
    if device != "CPU" or entry.get("plugin_config") not in (None, {}, "", "{}"):
        field = "target_device" if device != "CPU" else "plugin_config"
        raise ConfigError(
            file,
            f"{json_path}.{field}",
            "ovserve takes the device and plugin_config of a graph from graph.pbtxt, not from config.json",
            "set `device` / `plugin_config` in the graph's node options, and remove it here",
        )


def _servable(entry, file, json_path):
    name = entry["name"]
    if "subconfig" in entry:
        raise ConfigError(
            file,
            f"{json_path}.subconfig",
            "a subconfig lists models for OpenVINOInferenceCalculator nodes, which ovserve has not",
            "ovserve's LLM, embeddings and rerank graphs load their model from models_path; remove it",
        )
    base = _resolve(entry.get("base_path", name), file.parent, file, f"{json_path}.base_path")
    if not base.is_dir():
        raise ConfigError(
            file,
            f"{json_path}.base_path",
            f"'{entry.get('base_path', name)}' resolves to {base}, which is not a folder",
            "base_path defaults to the servable's name, relative to the config file's folder",
        )
    graph_file = _resolve(entry.get("graph_path", DEFAULT_GRAPH_FILE), base, file, f"{json_path}.graph_path")
    if not graph_file.is_file():
        if "graph_path" not in entry:
            raise ConfigError(
                file,
                json_path,
                f"servable '{name}' has no {DEFAULT_GRAPH_FILE} in {base}: a classic OpenVINO model, which OVMS "
                "serves over its KServe/TFS APIs; ovserve serves LLM, embeddings and rerank graphs",
                "export the model with `ovserve export` (or OVMS's export_model.py), which writes its graph",
            )
        raise ConfigError(file, f"{json_path}.graph_path", f"no graph file at {graph_file}")
    idle = float(entry.get("idle_unload_seconds", 0))
    return OvmsServable(name, graph_file, graph_document(graph_file), json_path, idle)


def ovms_servables(document, file):
    """The servables of OVMS's config.json `document` read from `file`, in order, or ConfigError."""
    file = Path(file)
    for section, reason in UNSUPPORTED_SECTIONS.items():
        if section in document:
            raise ConfigError(file, f"$.{section}", f"'{section}' is not supported: {reason}")
    validate_document(compile_validator(SCHEMA), document, file)
    servables, seen = [], {}
    entries = [
        (f"$.model_config_list[{i}].config", e["config"]) for i, e in enumerate(document.get("model_config_list", []))
    ]
    entries += [(f"$.mediapipe_config_list[{i}]", e) for i, e in enumerate(document.get("mediapipe_config_list", []))]
    if not entries:
        raise ConfigError(file, "$", "the config names no model", "list them in model_config_list")
    for json_path, entry in entries:
        if entry["name"] in seen:
            raise ConfigError(
                file,
                f"{json_path}.name",
                f"'{entry['name']}' is already used by {seen[entry['name']]}",
                "give every servable a unique name",
            )
        seen[entry["name"]] = json_path
        if json_path.startswith("$.model_config_list"):
            _check_model_entry(entry, file, json_path)
        servables.append(_servable(entry, file, json_path))
    return servables
