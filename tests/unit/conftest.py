"""Shared helpers for the unit tests: fixture files, plugin folders, fake configs in tmp_path."""

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "unit"


def fixture_path(*parts):
    path = FIXTURES.joinpath(*parts)
    assert path.exists(), f"missing fixture file {path}"
    return path


def read_fixture(*parts):
    return fixture_path(*parts).read_text(encoding="utf-8")


def load_fixture(*parts):
    return json.loads(read_fixture(*parts))


def copy_fixture(source_parts, destination):
    """Copy a fixture file to `destination` (creating its folders) and return the destination."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture_path(*source_parts), destination)
    return destination


def make_plugin_folder(parent, *modules):
    """A freshly named plugin folder under `parent` holding the given fixture plugin modules.

    The folder name is unique because plugin modules are cached in sys.modules by folder name.
    """
    folder = Path(parent) / f"plugins_{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True)
    for module in modules or ("fake_nodes.py",):
        copy_fixture(("plugins", module), folder / module)
    return folder


@pytest.fixture(autouse=True)
def _forget_plugin_modules():
    """Plugin folder modules are registered in sys.modules; drop the ones a test loaded."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("ovserve_plugins."):
            del sys.modules[name]


@pytest.fixture
def plugin_folder(tmp_path):
    return make_plugin_folder(tmp_path)
