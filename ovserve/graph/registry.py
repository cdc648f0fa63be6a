"""The servables of one server, by name."""

from ovserve.errors import ConfigError, ModelNotFound, UnsupportedByModel
from ovserve.graph.builder import build_servable
from ovserve.graph.plugins import PluginError, discover_node_types


class ServableRegistry:
    """The servables by name. A reload swaps them all at once (`replace`): the resources hold this object,
    and a request that found its servable keeps it even when the registry moves on."""

    def __init__(self, servables):
        self._servables = {servable.name: servable for servable in servables}
        self.served_names = frozenset(self._servables)
        self.unloaded = frozenset()  # names whose engines were stopped for idleness (server/idle.py)
        # Called with the servable before it does work (the server runtime's lazy load waits there).
        self.before_use = lambda servable: None

    def replace(self, servables, unloaded=frozenset()):
        # One assignment: a greenlet iterating the registry goes on over the dict it started with.
        self._servables = {servable.name: servable for servable in servables}
        self.served_names = frozenset(self._servables)
        self.unloaded = frozenset(unloaded)

    def state_of(self, servable):
        """'ready', 'loading', or 'unloaded' (stopped for idleness: not a failure, the next request loads it)."""
        if servable.is_ready():
            return "ready"
        return "unloaded" if servable.name in self.unloaded else "loading"

    @classmethod
    def from_config(cls, config):
        try:
            node_types = discover_node_types(config.plugin_folders)
        except PluginError as exc:
            raise ConfigError(config.file, "$.plugin_paths", str(exc), "fix or remove the plugin module") from None
        return cls(build_servable(spec, node_types) for spec in config.servables)

    def __iter__(self):
        return iter(self._servables.values())

    def names(self):
        return list(self._servables)

    def get(self, name):
        servable = self._servables.get(name)
        if servable is None:
            served = ", ".join(repr(n) for n in self._servables)
            raise ModelNotFound(f"The model '{name}' does not exist. This server serves: {served}.")
        return servable

    def require(self, name, capability):
        servable = self.get(name)
        if capability not in servable.capabilities:
            kind = f" is {_with_article(servable.kind)} model and" if servable.kind else ""
            raise UnsupportedByModel(
                f"The model '{name}'{kind} does not support {capability} (it supports: {', '.join(servable.capabilities)}).",
                param="model",
                code="unsupported_model_capability",
            )
        self.before_use(servable)
        return servable


def _with_article(kind):
    words = {
        "text_generation": "a text-generation",
        "embeddings": "an embeddings",
        "rerank": "a rerank",
        "image_generation": "an image-generation",
    }
    return words.get(kind, f"a {kind}")
