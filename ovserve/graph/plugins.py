"""Finding node types by name: the `ovserve.nodes` entry point group, then plugin folders.

A plugin module in a folder registers its types in a module-level `NODE_TYPES` dict
(`{"type_name": NodeClass}`); an entry point `name = module:Class` registers one type.
"""

import hashlib
import importlib.util
import logging
import sys
from importlib.metadata import entry_points

from ovserve.graph.node import Node

ENTRY_POINT_GROUP = "ovserve.nodes"
log = logging.getLogger(__name__)


class PluginError(Exception):
    pass


def _load_folder_module(path):
    # Named after the full path: two plugin folders may both hold a `nodes.py`.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"ovserve_plugins.{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PluginError(f"plugin module {path} failed to import: {exc!r}") from exc
    return module


def _check(name, cls, origin):
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise PluginError(f"node type '{name}' from {origin} is not a subclass of ovserve.graph.node.Node")
    return cls


def discover_node_types(plugin_folders=()):
    """Return {type_name: NodeClass} from entry points and the given folders (later wins is an error)."""
    found, origins = {}, {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found[entry.name] = entry  # loaded lazily: an unused broken plugin must not stop the server
        origins[entry.name] = f"entry point {entry.value}"
    for folder in plugin_folders:
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _load_folder_module(path)
            for name, cls in getattr(module, "NODE_TYPES", {}).items():
                if name in found:
                    raise PluginError(f"node type '{name}' is defined twice: in {origins[name]} and in {path}")
                found[name] = _check(name, cls, path)
                origins[name] = str(path)
    return NodeTypes(found, origins)


class NodeTypes:
    def __init__(self, found, origins):
        self._found = found
        self._origins = origins

    def names(self):
        return sorted(self._found)

    def get(self, name):
        """The class for `name`, or None when no plugin defines it."""
        cls = self._found.get(name)
        if cls is None or isinstance(cls, type):
            return cls
        try:
            loaded = cls.load()
        except Exception as exc:
            raise PluginError(f"node type '{name}' ({self._origins[name]}) failed to load: {exc!r}") from exc
        self._found[name] = _check(name, loaded, self._origins[name])
        return self._found[name]
