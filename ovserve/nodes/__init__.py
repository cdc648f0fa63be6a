"""Built-in node plugins (registered through the `ovserve.nodes` entry point group)."""
