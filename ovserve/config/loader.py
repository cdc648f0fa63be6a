"""Reading the server config (config.json or config.yaml) and the graph file of each servable it names.

Everything is validated here, once, at start-up: a problem raises ConfigError naming the file, the
JSON path and the fix. Node options are validated later by the graph builder, against the schema
each node type publishes.
"""

from dataclasses import dataclass
from pathlib import Path

from ovserve.config.ovms.config_json import is_ovms_config, ovms_servables
from ovserve.config.ovms.graph import graph_document
from ovserve.config.paths import UnresolvablePath, resolve_path
from ovserve.config.validation import compile_validator, packaged_schema, read_json_file, validate_document
from ovserve.errors import ConfigError

DEFAULT_PLUGIN_FOLDER = "plugins"
DEFAULT_GRAPH_FILES = ("graph.json", "graph.yaml", "graph.yml", "graph.pbtxt")
OVMS_GRAPH_SUFFIX = ".pbtxt"
DEFAULT_CONFIG_FILES = ("config.json", "config.yaml", "config.yml")


@dataclass(frozen=True)
class ServableSpec:
    name: str
    graph_file: Path
    graph: dict  # the validated graph document
    json_path: str  # of this servable inside the server config
    idle_unload_seconds: float = 0.0  # 0: never (server/idle.py)


@dataclass(frozen=True)
class ServerConfig:
    file: Path
    servables: tuple
    plugin_folders: tuple


def _resolve(value, relative_to, file, json_path):
    try:
        return resolve_path(value, relative_to)
    except UnresolvablePath as exc:
        raise ConfigError(file, json_path, str(exc)) from None


def load_graph_file(path, servable_name):
    if Path(path).suffix.lower() == OVMS_GRAPH_SUFFIX:
        return graph_document(path)  # an OVMS graph.pbtxt, translated to the graph document it is equivalent to
    document = read_json_file(path, f"graph file of servable '{servable_name}'")
    validate_document(compile_validator(packaged_schema("graph.schema.json")), document, path)
    return document


def _plugin_folders(document, file):
    folders = []
    explicit = "plugin_paths" in document
    for index, value in enumerate(document.get("plugin_paths", [DEFAULT_PLUGIN_FOLDER])):
        folder = _resolve(value, file.parent, file, f"$.plugin_paths[{index}]")
        if folder.is_dir():
            folders.append(folder)
        elif explicit:
            raise ConfigError(
                file, f"$.plugin_paths[{index}]", f"'{value}' resolves to {folder}, which is not a folder"
            )
    return tuple(folders)


def default_config_file(folder="."):
    """config.json, or config.yaml / config.yml when only that one is in `folder` (the --config default)."""
    for name in DEFAULT_CONFIG_FILES:
        if (Path(folder) / name).is_file():
            return name
    return DEFAULT_CONFIG_FILES[0]


def _default_graph_file(base):
    """graph.json, or graph.yaml / graph.yml when only that one is there."""
    for name in DEFAULT_GRAPH_FILES:
        if (base / name).is_file():
            return name
    return DEFAULT_GRAPH_FILES[0]


def load_server_config(path):
    """The server config in `path`: ovserve's format (`servables`) or OVMS's config.json, told apart by its keys."""
    file = Path(path).resolve()
    document = read_json_file(file, "server config")
    if is_ovms_config(document, file):
        servables = tuple(
            ServableSpec(s.name, s.graph_file, s.graph, s.json_path, s.idle_unload_seconds)
            for s in ovms_servables(document, file)
        )
        return ServerConfig(file, servables, _plugin_folders({}, file))
    validate_document(compile_validator(packaged_schema("server_config.schema.json")), document, file)

    servables, seen = [], {}
    for index, entry in enumerate(document["servables"]):
        json_path = f"$.servables[{index}]"
        name = entry["name"]
        if name in seen:
            raise ConfigError(
                file,
                f"{json_path}.name",
                f"'{name}' is already used by $.servables[{seen[name]}]",
                "give every servable a unique name",
            )
        seen[name] = index
        base = _resolve(entry["base_path"], file.parent, file, f"{json_path}.base_path")
        if not base.is_dir():
            raise ConfigError(
                file,
                f"{json_path}.base_path",
                f"'{entry['base_path']}' resolves to {base}, which is not a folder",
                "relative paths resolve against the config file's folder",
            )
        graph_file = _resolve(
            entry.get("graph_path") or _default_graph_file(base), base, file, f"{json_path}.graph_path"
        )
        if not graph_file.is_file():
            raise ConfigError(
                file,
                f"{json_path}.graph_path",
                f"no graph file at {graph_file}",
                "create it, or set graph_path to the graph file's name",
            )
        idle = float(entry.get("idle_unload_seconds", 0))
        servables.append(ServableSpec(name, graph_file, load_graph_file(graph_file, name), json_path, idle))
    return ServerConfig(file, tuple(servables), _plugin_folders(document, file))
