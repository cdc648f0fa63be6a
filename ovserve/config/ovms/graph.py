"""An OVMS graph.pbtxt -> the ovserve graph document (graph.schema.json) it is equivalent to.

OVMS's serving graphs are one calculator node between the request and the response; that node becomes
the one ovserve node of the graph. Lines of the pbtxt are kept for the ovserve paths too, so an error
the graph builder finds later (an option out of range, a missing model folder) names the pbtxt line.
"""

import re

from ovserve.config.documents import remember_lines
from ovserve.config.ovms.calculators import CALCULATORS, OptionRefused, translate
from ovserve.config.ovms.pbtxt import node_path, read_graph_text
from ovserve.errors import ConfigError

_NODE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def _node_name(node):
    name = _NODE_NAME.sub("_", node.name or node.calculator)
    return name if re.match(r"[A-Za-z_]", name) else f"node_{name}"


def _serving_node(graph):
    known = ", ".join(CALCULATORS)
    if not graph.nodes:
        raise ConfigError(graph.file, None, "the graph has no node", f"ovserve serves graphs of one of: {known}")
    for node in graph.nodes:
        if node.calculator not in CALCULATORS:
            raise ConfigError(
                graph.file,
                node_path(node.index, "calculator"),
                f"calculator '{node.calculator}' has no ovserve node",
                f"ovserve serves OVMS graphs of one node of: {known}",
            )
    if len(graph.nodes) > 1:
        raise ConfigError(
            graph.file,
            node_path(graph.nodes[1].index),
            f"the graph has {len(graph.nodes)} nodes; ovserve serves OVMS graphs of one calculator node",
            "serve each model as its own servable",
        )
    return graph.nodes[0]


def graph_document(path):
    """The ovserve graph document equivalent to the OVMS graph.pbtxt at `path`, or ConfigError."""
    graph = read_graph_text(path)
    node = _serving_node(graph)
    calculator = CALCULATORS[node.calculator]
    if node.options is None or node.options.DESCRIPTOR.name != calculator.options_type:
        raise ConfigError(
            graph.file,
            node_path(node.index, "node_options"),
            f"{node.calculator} needs its options: [type.googleapis.com/mediapipe.{calculator.options_type}]",
        )
    try:
        options, sources = translate(calculator, node.options)
    except OptionRefused as refused:
        raise ConfigError(
            graph.file,
            node_path(node.index, refused.field),
            f"{calculator.options_type}.{refused.field} is not supported: {refused.reason}",
            "remove it (see docs/coming-from-ovms.md)",
        ) from None
    for option, value in calculator.ovms_defaults.items():
        options.setdefault(option, value)
    if "models_path" not in options:
        raise ConfigError(
            graph.file, node_path(node.index, "node_options"), f"{calculator.options_type}.models_path is required"
        )
    remember_lines(graph.file, {"$.nodes[0]": node.line})
    remember_lines(
        graph.file,
        {
            f"$.nodes[0].options.{ours}": node.option_lines[theirs]
            for ours, theirs in sources.items()
            if theirs in node.option_lines
        },
    )
    name = _node_name(node)
    return {"nodes": [{"name": name, "type": calculator.node_type, "options": options}], "output": name}
