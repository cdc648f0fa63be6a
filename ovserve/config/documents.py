"""Reading a configuration document, JSON or YAML by its file name, and where each value stands in it.

YAML is what many operators prefer (it has comments); both forms are validated by the same JSON Schemas.
For a YAML file the line of every value is kept, by JSON path, so that an error found later (by a
schema, or by the graph builder) names the line as well as the path.
"""

import json
from pathlib import Path

import yaml

from ovserve.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")
_LINES = {}  # resolved file path -> {json path: line number}


def is_yaml(path):
    return Path(path).suffix.lower() in YAML_SUFFIXES


def read_document(path, what):
    """The document in `path` (a .json, .yaml or .yml file), or ConfigError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, f"{what} not found", "check the path") from None
    except OSError as exc:
        raise ConfigError(path, None, f"{what} can't be read: {exc.strerror}") from None
    if is_yaml(path):
        return _read_yaml(path, text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def remember_lines(file, lines, fresh=False):
    """Give ConfigError the line of each JSON path in `lines` ({json path: line}) for `file`, as the YAML
    reader keeps them (a graph.pbtxt's reader does too); `fresh`: forget what an earlier read left."""
    key = str(Path(file).resolve())
    if fresh:
        _LINES[key] = {}
    _LINES.setdefault(key, {}).update(lines)


def line_of(file, json_path):
    """The line of `json_path` (or of its nearest enclosing value) in a YAML file read here, else None."""
    lines = _LINES.get(str(Path(file).resolve()))
    if not lines or json_path is None:
        return None
    path = json_path
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("$")


def _read_yaml(path, text):
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, None, f"invalid YAML{where}: {problem}") from None
    lines = {}
    if root is not None:
        _map_lines(root, "$", lines, path)
    remember_lines(path, lines, fresh=True)
    return yaml.safe_load(text)


def _map_lines(node, json_path, lines, path):
    lines[json_path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            name = key.value
            if name in seen:
                raise ConfigError(
                    path,
                    f"{json_path}.{name}",
                    f"the key '{name}' is given twice (line {key.start_mark.line + 1})",
                    "keep one of them",
                )
            seen.add(name)
            _map_lines(value, f"{json_path}.{name}", lines, path)
            lines[f"{json_path}.{name}"] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, f"{json_path}[{index}]", lines, path)
