"""`ovserve list`: what a config serves, of which kind, and where each model lives."""

from pathlib import Path

from ovserve.config.loader import load_server_config
from ovserve.graph.registry import ServableRegistry


def _size(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _human(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def servable_rows(config_path):
    """[{name, kind, node, model, size, graph}] for every servable; raises ConfigError like `serve` would."""
    config = load_server_config(config_path)
    registry = ServableRegistry.from_config(config)
    graph_files = {spec.name: spec.graph_file for spec in config.servables}
    rows = []
    for servable in registry:
        terminal = servable.terminal
        model = getattr(terminal, "models_path", None)
        rows.append(
            {
                "name": servable.name,
                "kind": servable.kind or "-",
                "node": terminal.type_name,
                "model": str(model) if model else "-",
                "size": _human(_size(model)) if model else "-",
                "graph": str(graph_files[servable.name]),
            }
        )
    return rows


def format_table(rows, columns=("name", "kind", "node", "size", "model")):
    headers = {column: column.upper() for column in columns}
    widths = {column: max(len(headers[column]), *(len(row[column]) for row in rows)) for column in columns}
    lines = ["  ".join(headers[column].ljust(widths[column]) for column in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(row[column].ljust(widths[column]) for column in columns).rstrip())
    return "\n".join(lines)
