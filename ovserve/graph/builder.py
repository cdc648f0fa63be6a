"""Turning a validated graph document into a Servable: node types resolved, options validated,
the chain from the graph input to its output checked."""

from ovserve.config.validation import compile_validator, validate_document
from ovserve.errors import ConfigError
from ovserve.graph.node import NodeContext, RequestProcessor, Terminal
from ovserve.graph.plugins import PluginError
from ovserve.graph.servable import Servable


def _ordered_chain(spec):
    """Node entries (with their index) from the graph input to its output, or ConfigError."""
    graph, file = spec.graph, spec.graph_file
    entries = graph["nodes"]
    by_name = {}
    for index, entry in enumerate(entries):
        if entry["name"] in by_name:
            raise ConfigError(file, f"$.nodes[{index}].name", f"node name '{entry['name']}' is used twice")
        by_name[entry["name"]] = index
    graph_input = graph.get("input", "request")
    if graph["output"] not in by_name:
        raise ConfigError(
            file, "$.output", f"'{graph['output']}' is not a node of this graph", f"name one of: {', '.join(by_name)}"
        )
    chain, current, visited = [], graph["output"], set()
    while current != graph_input:
        if current not in by_name:
            raise ConfigError(
                file,
                f"$.nodes[{chain[-1][0]}].input",
                f"'{current}' is neither a node nor the graph input '{graph_input}'",
            )
        if current in visited:
            raise ConfigError(file, f"$.nodes[{by_name[current]}].input", "the nodes' inputs form a cycle")
        visited.add(current)
        index = by_name[current]
        chain.append((index, entries[index]))
        current = entries[index].get("input", graph_input)
    unused = [name for name in by_name if name not in visited]
    if unused:
        raise ConfigError(
            file,
            f"$.nodes[{by_name[unused[0]]}]",
            f"node '{unused[0]}' is not on the path from the input to the output",
            "remove it, or chain it through `input`",
        )
    chain.reverse()
    return chain


def build_servable(spec, node_types):
    file = spec.graph_file
    nodes = []
    chain = _ordered_chain(spec)
    for position, (index, entry) in enumerate(chain):
        try:
            cls = node_types.get(entry["type"])
        except PluginError as exc:
            raise ConfigError(file, f"$.nodes[{index}].type", str(exc)) from None
        if cls is None:
            raise ConfigError(
                file,
                f"$.nodes[{index}].type",
                f"no plugin defines node type '{entry['type']}'",
                f"known types: {', '.join(node_types.names())}",
            )
        options = entry.get("options", {})
        validate_document(compile_validator(cls.options_schema), options, file, prefix=("nodes", index, "options"))
        context = NodeContext(spec.name, entry["name"], file, f"$.nodes[{index}].options")
        node = cls(options, context)
        is_last = position == len(chain) - 1
        if is_last and not isinstance(node, Terminal):
            raise ConfigError(
                file,
                "$.output",
                f"the output node '{entry['name']}' ({entry['type']}) can't answer requests",
                "end the graph with a node that answers requests, such as llm_continuous_batching or embeddings",
            )
        if not is_last and not isinstance(node, RequestProcessor):
            raise ConfigError(
                file, f"$.nodes[{index}].type", f"node type '{entry['type']}' can't sit before another node"
            )
        nodes.append(node)
    return Servable(spec.name, nodes[:-1], nodes[-1])
