"""What `--raw [CONFIG_OR_MODEL]` runs: the engine options the server would give its LLM engine.

The argument may be
- a server config (a .json with `servables`): its servable named like `--model`, else its first LLM
  servable, read with ovserve's own loader, so `${VAR}`, `pkg://` and relative paths resolve as the
  server resolves them;
- a graph file (a .json with `nodes`, or a folder holding graph.json): its LLM node;
- a model: a GGUF file or an OpenVINO IR folder, with the node's default options.

Either way the LLM node itself is built (options validated against its schema, defaults filled in)
and asked for its engine spec, the one function the server uses too: whatever engine-level options
the node gains, the raw side receives them without a change here.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from ovserve.config.loader import load_graph_file, load_server_config
from ovserve.config.validation import compile_validator, validate_document
from ovserve.errors import ConfigError
from ovserve.graph.node import NodeContext
from ovserve.nodes.model_files import LLM_IR_FILES, is_gguf

LLM_NODE_TYPE = "llm_continuous_batching"
GRAPH_FILE = "graph.json"


class TargetError(ValueError):
    """The --raw argument names nothing the raw side can run."""


@dataclass(frozen=True)
class RawTarget:
    description: str  # for the report, e.g. "servable 'x' of /path/config.json"
    engine_options: dict  # what the server's engine process receives, models_path included


def _llm_node_class():
    from ovserve.nodes.llm.node import ContinuousBatchingLLMNode  # no openvino_genai import at this point

    return ContinuousBatchingLLMNode


def _engine_options(servable, graph_file, graph):
    """The engine options of the graph's LLM node, or None when the graph has none."""
    cls = _llm_node_class()
    for index, entry in enumerate(graph.get("nodes", [])):
        if entry.get("type") != LLM_NODE_TYPE:
            continue
        options = entry.get("options", {})
        validate_document(
            compile_validator(cls.options_schema), options, graph_file, prefix=("nodes", index, "options")
        )
        node = cls(options, NodeContext(servable, entry["name"], Path(graph_file), f"$.nodes[{index}].options"))
        return node.engine_spec().options
    return None


def _from_server_config(path, model):
    config = load_server_config(path)
    servables = sorted(config.servables, key=lambda servable: servable.name != model)  # --model's first
    for servable in servables:
        options = _engine_options(servable.name, servable.graph_file, servable.graph)
        if options is not None:
            return RawTarget(f"servable '{servable.name}' of {config.file}", options)
    raise TargetError(f"{config.file} has no servable with an {LLM_NODE_TYPE} node")


def _from_graph(path):
    path = Path(path).resolve()
    options = _engine_options(path.parent.name, path, load_graph_file(path, path.parent.name))
    if options is None:
        raise TargetError(f"the graph {path} has no {LLM_NODE_TYPE} node")
    return RawTarget(f"graph {path}", options)


def _from_model(path):
    path = Path(path).resolve()
    options = {"models_path": str(path)}
    node = _llm_node_class()(options, NodeContext("raw", "llm", path.parent / "(--raw)", "--raw"))
    return RawTarget(f"model {path} (default engine options)", node.engine_spec().options)


def _json_kind(path):
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TargetError(f"can't read {path} as JSON: {exc}") from None
    if isinstance(document, dict) and "servables" in document:
        return "config"
    if isinstance(document, dict) and "nodes" in document:
        return "graph"
    raise TargetError(f"{path} is neither a server config (no 'servables') nor a graph file (no 'nodes')")


def resolve_raw_target(argument, model=None):
    """RawTarget for a config, graph or model path; TargetError (or the loader's ConfigError, turned
    into a TargetError) naming the problem."""
    path = Path(argument).expanduser()
    try:
        if is_gguf(path):
            return _from_model(path)
        if path.is_dir():
            if all((path / name).is_file() for name in LLM_IR_FILES):
                return _from_model(path)
            if (path / GRAPH_FILE).is_file():
                return _from_graph(path / GRAPH_FILE)
            raise TargetError(f"{path} is neither an OpenVINO IR model folder nor a servable folder with {GRAPH_FILE}")
        if path.is_file() and path.suffix.lower() == ".json":
            return _from_server_config(path, model) if _json_kind(path) == "config" else _from_graph(path)
    except ConfigError as error:
        raise TargetError(str(error)) from None
    raise TargetError(f"--raw {argument}: no such GGUF file, model folder, server config or graph file")
