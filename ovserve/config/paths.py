"""How paths written in configuration files are resolved.

Three forms are accepted, so a config can name a model wherever it lives:
- a relative path: against the folder of the file that names it;
- `${VAR}` / `$VAR` and `~`: expanded from the environment (an unset variable is an error, not '');
- `pkg://PACKAGE/RELATIVE/PATH`: a file shipped inside an installed Python package. The package is
  located with `importlib.util.find_spec` and never imported (the default model's package imports
  modules that are not installed).
"""

import importlib.util
import os
import re
from pathlib import Path

_ENV_REFERENCE = re.compile(r"\$(\w+)|\$\{([^}]+)\}")
PACKAGE_SCHEME = "pkg://"


class UnresolvablePath(ValueError):
    """The path names an unset variable or a package that is not installed."""


def expand_environment(value):
    def substitute(match):
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            raise UnresolvablePath(f"environment variable ${{{name}}} is not set")
        return os.environ[name]

    return os.path.expanduser(_ENV_REFERENCE.sub(substitute, value))


def package_folder(package):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UnresolvablePath(f"Python package '{package}' is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_path(value, relative_to):
    """Resolve a config path string to an absolute Path (it need not exist)."""
    expanded = expand_environment(value)
    if expanded.startswith(PACKAGE_SCHEME):
        package, _, inner = expanded[len(PACKAGE_SCHEME) :].partition("/")
        return (package_folder(package) / inner).resolve()
    path = Path(expanded)
    if not path.is_absolute():
        path = Path(relative_to) / path
    return path.resolve()
