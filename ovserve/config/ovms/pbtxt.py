"""Reading an OVMS graph.pbtxt (MediaPipe's CalculatorGraphConfig, protobuf text format).

The text is parsed by protobuf's own `text_format` against the messages in schema.py, so a typo, an
option OVMS does not have or a malformed value is reported by the parser with its line. The line of
every option field is kept too: an option ovserve can't honour is reported where it is written.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format

from ovserve.config.documents import remember_lines
from ovserve.config.ovms.schema import POOL, message_class
from ovserve.errors import ConfigError

TYPE_URL_PREFIX = "type.googleapis.com/"
_FIELD_NAME = re.compile(r"\b([A-Za-z_]\w*)\s*[:{]")
_UNKNOWN_TYPE = re.compile(r"Type ([\w.]+) not found in descriptor pool")


@dataclass(frozen=True)
class CalculatorNode:
    """One `node { }` of the graph, with its options message unpacked."""

    index: int
    name: str
    calculator: str
    line: int
    options: object  # a calculator options message (schema.py), or None when the node has none
    option_lines: dict = field(default_factory=dict)  # option field name -> line


@dataclass(frozen=True)
class GraphText:
    file: object  # Path
    nodes: tuple  # of CalculatorNode


def node_path(index, option=None):
    """How an error names node `index` of a graph.pbtxt, or one of its options: $.node[0].max_num_seqs."""
    return f"$.node[{index}]" + (f".{option}" if option else "")


def _node_lines(lines):
    """The line (1-based) of each top-level `node` entry, in order."""
    found, depth = [], 0
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0]
        if depth == 0 and re.match(r"\s*node\s*[:{]", code):
            found.append(number)
        depth += code.count("{") - code.count("}")
    return found


def _option_lines(lines, type_name, occurrence):
    """Field name -> line inside the `occurrence`-th options block of `type_name` (first mention wins)."""
    starts = [number for number, line in enumerate(lines, start=1) if re.search(rf"\b{type_name}\b", line)]
    if occurrence >= len(starts):
        return {}
    result, depth, opened = {}, 0, False
    for number in range(starts[occurrence], len(lines) + 1):
        code = lines[number - 1].split("#", 1)[0]
        if opened or number > starts[occurrence]:
            for match in _FIELD_NAME.finditer(code):
                result.setdefault(match.group(1), number)
        depth += code.count("{") - code.count("}")
        opened = opened or "{" in code
        if opened and depth <= 0:
            break
    return result


def _unpack_options(node, file, index):
    """The node's calculator options: `node_options: { [type.googleapis.com/...] { } }` (Any), or the
    older `options: { [mediapipe.XOptions.ext] { } }` form. More than one is an error."""
    found = []
    for packed in node.node_options:
        type_name = packed.type_url[len(TYPE_URL_PREFIX) :] if packed.type_url.startswith(TYPE_URL_PREFIX) else ""
        try:
            options = message_class(type_name.removeprefix("mediapipe."))()
        except KeyError:
            raise ConfigError(
                file, node_path(index, "node_options"), f"unknown options type {packed.type_url}"
            ) from None
        packed.Unpack(options)
        found.append(options)
    if node.HasField("options"):
        found.extend(value for _, value in node.options.ListFields())
    if len(found) > 1:
        raise ConfigError(
            file, node_path(index, "node_options"), f"a node takes one options message, found {len(found)}"
        )
    return found[0] if found else None


def read_graph_text(path):
    """The graph in `path`, or ConfigError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "graph file not found", "check base_path and graph_path") from None
    except OSError as exc:
        raise ConfigError(path, None, f"graph file can't be read: {exc.strerror}") from None
    graph = message_class("CalculatorGraphConfig")()
    try:
        text_format.Parse(text, graph, descriptor_pool=POOL)
    except text_format.ParseError as exc:
        line, column = exc.GetLine(), exc.GetColumn()
        problem = str(exc).split(" : ", 1)[-1] if line else str(exc)
        unknown_type = _UNKNOWN_TYPE.search(problem)
        fix = None
        if unknown_type:
            # text_format gives no line for an Any of a type it doesn't know: the first mention is the place.
            short_name = unknown_type.group(1).rsplit(".", 1)[-1]
            line = next((n for n, text_line in enumerate(text.splitlines(), 1) if short_name in text_line), None)
            problem = f"options type {unknown_type.group(1)} is not one of a calculator ovserve has"
            fix = "ovserve serves graphs of HttpLLMCalculator, EmbeddingsCalculatorOV and RerankCalculatorOV"
        remember_lines(path, {"$": line} if line else {}, fresh=True)
        where = f" (column {column})" if column else ""
        raise ConfigError(path, "$", f"invalid graph (protobuf text format){where}: {problem}", fix) from None

    lines = text.splitlines()
    node_lines = _node_lines(lines)
    remember_lines(path, {}, fresh=True)
    seen_types = {}
    nodes = []
    for index, node in enumerate(graph.node):
        line = node_lines[index] if index < len(node_lines) else 1
        remember_lines(path, {node_path(index): line})
        options = _unpack_options(node, path, index)
        option_lines = {}
        if options is not None:
            type_name = options.DESCRIPTOR.name
            option_lines = _option_lines(lines, type_name, seen_types.get(type_name, 0))
            seen_types[type_name] = seen_types.get(type_name, 0) + 1
            remember_lines(path, {node_path(index, name): number for name, number in option_lines.items()})
        nodes.append(CalculatorNode(index, node.name, node.calculator, line, options, option_lines))
    return GraphText(path, tuple(nodes))
