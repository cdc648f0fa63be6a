"""Node options: each node type's JSON Schema file, and its defaults filled in."""

import json
from importlib import resources


def load_schema(package):
    """The `options.schema.json` shipped in a node's package."""
    return json.loads(resources.files(package).joinpath("options.schema.json").read_text())


def with_defaults(options, schema):
    merged = {name: prop["default"] for name, prop in schema["properties"].items() if "default" in prop}
    merged.update(options)
    return merged
