"""--add-to-config: add a servable to a server config safely.

The new config is written beside the old one, validated as `ovserve serve` would validate it (the
config, the graph files, the node options and model paths), and only then renamed over it, so the
file is never half-written and never invalid. Existing entries and fields are kept as they were.
"""

import json
import os
import tempfile
from pathlib import Path

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError
from ovserve.graph.registry import ServableRegistry


class ConfigEditError(Exception):
    pass


def _base_path(model_folder, config_folder):
    """Relative to the config's folder when the model lies under it; absolute otherwise."""
    model_folder, config_folder = Path(model_folder).resolve(), Path(config_folder).resolve()
    try:
        return model_folder.relative_to(config_folder).as_posix() or "."
    except ValueError:
        return str(model_folder)


def _read(config_file):
    if not config_file.exists():
        return {"servables": []}
    try:
        document = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigEditError(f"{config_file} is not valid JSON ({exc}); fix it first") from None
    if not isinstance(document, dict) or not isinstance(document.get("servables", []), list):
        raise ConfigEditError(f"{config_file} is not an ovserve server config (no 'servables' list)")
    document.setdefault("servables", [])
    return document


def add_servable(config_path, name, model_folder, replace=False):
    """Add (or with `replace`, replace) servable `name` served from `model_folder`; return the new entry."""
    config_file = Path(config_path).resolve()
    document = _read(config_file)
    entry = {"name": name, "base_path": _base_path(model_folder, config_file.parent)}
    servables = document["servables"]
    existing = [index for index, servable in enumerate(servables) if servable.get("name") == name]
    if existing and not replace:
        raise ConfigEditError(
            f"{config_file} already has a servable named '{name}' ($.servables[{existing[0]}]); "
            "choose another --name, or pass --replace"
        )
    if existing:
        servables[existing[0]] = entry
    else:
        servables.append(entry)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{config_file.name}.", suffix=".tmp", dir=config_file.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            ServableRegistry.from_config(load_server_config(temporary))
        except ConfigError as error:
            raise ConfigEditError(
                f"the config with '{name}' added would not load, so {config_file} was left "
                f"unchanged: {str(error).replace(temporary, str(config_file))}"
            ) from None
        os.chmod(temporary, config_file.stat().st_mode & 0o777 if config_file.exists() else 0o644)
        os.replace(temporary, config_file)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return entry
