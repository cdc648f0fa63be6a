"""ovserve.config: loading config.json and graph files, every error a ConfigError naming file, path and fix."""

import json
import shutil
from pathlib import Path

import jinja2
import pytest

from ovserve.config.loader import load_graph_file, load_server_config
from ovserve.config.paths import UnresolvablePath, expand_environment, resolve_path
from ovserve.config.validation import json_path
from ovserve.errors import ConfigError
from tests.unit.conftest import copy_fixture, fixture_path, load_fixture


@pytest.fixture
def config_dir(tmp_path):
    """A folder with a servable folder holding a valid graph (`servables/ok`) and an empty one."""
    copy_fixture(("graphs", "minimal.json"), tmp_path / "servables" / "ok" / "graph.json")
    (tmp_path / "servables" / "empty").mkdir()
    return tmp_path


def install_config(folder, *fixture_parts):
    return copy_fixture(("configs",) + fixture_parts, Path(folder) / "config.json")


def config_error(path):
    with pytest.raises(ConfigError) as caught:
        load_server_config(path)
    return caught.value


# --- valid configs -----------------------------------------------------------------------------


def test_valid_config_loads_every_servable_with_its_graph(tmp_path):
    shutil.copytree(fixture_path("configs", "valid"), tmp_path / "site")
    config = load_server_config(tmp_path / "site" / "config.json")

    assert config.file == (tmp_path / "site" / "config.json").resolve()
    assert [servable.name for servable in config.servables] == ["org/echo-model", "shop"]
    echo, shop = config.servables
    assert echo.graph_file == (tmp_path / "site" / "servables" / "echo" / "graph.json").resolve()
    assert echo.graph == load_fixture("configs", "valid", "servables", "echo", "graph.json")
    assert echo.json_path == "$.servables[0]"
    assert shop.graph_file.name == "pipeline.json"
    assert shop.json_path == "$.servables[1]"
    # plugin_paths not given: the default `plugins` folder beside the config is used when present
    assert config.plugin_folders == ((tmp_path / "site" / "plugins").resolve(),)


def test_default_plugin_folder_is_ignored_when_missing(config_dir):
    path = config_dir / "config.json"
    path.write_text(json.dumps({"servables": [{"name": "a", "base_path": "servables/ok"}]}))
    assert load_server_config(path).plugin_folders == ()


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(config_dir, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_server_config(install_config(config_dir, "relative_paths.json"))
    expected_graph = (config_dir / "servables" / "ok" / "graph.json").resolve()
    assert [spec.graph_file for spec in config.servables] == [expected_graph, expected_graph]
    assert config.plugin_folders == ((config_dir / "servables").resolve(),)


def test_config_given_as_relative_path_is_made_absolute(config_dir, monkeypatch):
    install_config(config_dir, "relative_paths.json")
    monkeypatch.chdir(config_dir / "servables")
    config = load_server_config("../config.json")
    assert config.file == (config_dir / "config.json").resolve()
    assert config.servables[0].graph_file.is_absolute()


def test_environment_variables_are_expanded_in_both_forms(config_dir, monkeypatch):
    monkeypatch.setenv("OVSERVE_UNIT_MODELS", str(config_dir / "servables"))
    config = load_server_config(install_config(config_dir, "env_paths.json"))
    expected = (config_dir / "servables" / "ok" / "graph.json").resolve()
    assert [spec.graph_file for spec in config.servables] == [expected, expected]


def test_package_paths_point_into_an_installed_package(config_dir, monkeypatch):
    monkeypatch.setenv("OVSERVE_UNIT_GRAPH", str(config_dir / "servables" / "ok" / "graph.json"))
    config = load_server_config(install_config(config_dir, "package_path.json"))
    assert config.servables[0].name == "packaged"
    assert config.servables[0].graph_file == (config_dir / "servables" / "ok" / "graph.json").resolve()


# --- every kind of config error ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, where, expected",
    [
        ("missing_servables.json", "$", "'servables' is a required property"),
        ("empty_servables.json", "$.servables", "should be non-empty"),
        ("servables_not_a_list.json", "$.servables", "expected array, got str 'servables/ok'"),
        ("name_not_a_string.json", "$.servables[0].name", "expected string, got int 5"),
        ("unknown_top_level_key.json", "$", "'servable_paths' was unexpected"),
        ("unknown_servable_key.json", "$.servables[0]", "'graphpath' was unexpected"),
        ("missing_base_path.json", "$.servables[0]", "'base_path' is a required property"),
        ("duplicate_names.json", "$.servables[2].name", "'same' is already used by $.servables[0]"),
        ("base_path_missing.json", "$.servables[0].base_path", "which is not a folder"),
        ("graph_file_missing.json", "$.servables[0].graph_path", "no graph file at"),
        ("graph_path_missing.json", "$.servables[0].graph_path", "other.json"),
        ("plugin_path_missing.json", "$.plugin_paths[1]", "'my_plugins' resolves to"),
        ("plugin_path_is_file.json", "$.plugin_paths[0]", "which is not a folder"),
        (
            "env_var_unset.json",
            "$.servables[0].base_path",
            "environment variable ${OVSERVE_UNIT_SURELY_UNSET} is not set",
        ),
        ("package_missing.json", "$.servables[0].base_path", "package 'ovserve_unit_no_such_package' is not installed"),
    ],
)
def test_config_errors_name_file_json_path_and_expectation(config_dir, monkeypatch, fixture, where, expected):
    monkeypatch.delenv("OVSERVE_UNIT_SURELY_UNSET", raising=False)
    path = install_config(config_dir, "bad", fixture)
    error = config_error(path)
    assert error.file == str(path.resolve())
    assert error.json_path == where
    assert expected in error.problem
    text = str(error)
    assert text.startswith(f"{path.resolve()}: at {where}: ")
    assert expected in text


def test_unknown_key_error_tells_how_to_fix_it(config_dir):
    error = config_error(install_config(config_dir, "bad", "unknown_servable_key.json"))
    assert "remove it, or check its spelling" in str(error)


def test_missing_base_path_folder_error_shows_the_resolved_folder(config_dir):
    error = config_error(install_config(config_dir, "bad", "base_path_missing.json"))
    assert str((config_dir / "servables" / "does-not-exist").resolve()) in error.problem
    assert "relative paths resolve against the config file's folder" in str(error)


def test_invalid_json_reports_line_and_column(config_dir):
    error = config_error(install_config(config_dir, "bad", "invalid_json.json"))
    assert error.json_path is None
    assert "invalid JSON at line 3 column 18" in str(error)
    assert str(error).startswith(str((config_dir / "config.json").resolve()) + ": at $: ")


def test_missing_config_file_is_a_config_error(tmp_path):
    error = config_error(tmp_path / "nope.json")
    assert "server config not found" in str(error)
    assert "nope.json" in str(error)


def test_graph_file_errors_name_the_graph_file(config_dir):
    graph = copy_fixture(("graphs", "not_schema_valid.json"), config_dir / "servables" / "bad" / "graph.json")
    config = config_dir / "config.json"
    config.write_text(json.dumps({"servables": [{"name": "a", "base_path": "servables/bad"}]}))
    error = config_error(config)
    assert error.file == str(graph.resolve())
    assert error.json_path == "$.nodes[0]"
    assert "'option' was unexpected" in error.problem


def test_load_graph_file_reports_invalid_json_of_the_graph(tmp_path):
    graph = tmp_path / "graph.json"
    graph.write_text('{"nodes": [}')
    with pytest.raises(ConfigError) as caught:
        load_graph_file(graph, "my-servable")
    assert "invalid JSON at line 1 column 12" in str(caught.value)


def test_load_graph_file_names_the_servable_when_missing(tmp_path):
    with pytest.raises(ConfigError, match="graph file of servable 'my-servable' not found"):
        load_graph_file(tmp_path / "graph.json", "my-servable")


# --- paths ------------------------------------------------------------------------------------------


def test_resolve_path_relative_and_absolute(tmp_path):
    assert resolve_path("models/x.gguf", tmp_path) == (tmp_path / "models" / "x.gguf").resolve()
    assert resolve_path("../up", tmp_path / "a") == (tmp_path / "up").resolve()
    assert resolve_path(str(tmp_path / "abs"), "/somewhere/else") == (tmp_path / "abs").resolve()


def test_resolve_path_package_scheme_finds_a_file_in_an_installed_package(tmp_path):
    resolved = resolve_path("pkg://jinja2/__init__.py", tmp_path)
    assert resolved == Path(jinja2.__file__).resolve()
    assert resolved.is_file()


def test_resolve_path_package_scheme_accepts_a_variable_for_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("OVSERVE_UNIT_PACKAGE", "jinja2")
    assert resolve_path("pkg://${OVSERVE_UNIT_PACKAGE}/__init__.py", tmp_path) == Path(jinja2.__file__).resolve()


def test_resolve_path_unknown_package_is_unresolvable(tmp_path):
    with pytest.raises(UnresolvablePath, match="'ovserve_unit_no_such_package' is not installed"):
        resolve_path("pkg://ovserve_unit_no_such_package/file.bin", tmp_path)


def test_expand_environment_set_and_unset(monkeypatch):
    monkeypatch.setenv("OVSERVE_UNIT_A", "alpha")
    monkeypatch.delenv("OVSERVE_UNIT_UNSET", raising=False)
    assert expand_environment("${OVSERVE_UNIT_A}/x/$OVSERVE_UNIT_A") == "alpha/x/alpha"
    with pytest.raises(UnresolvablePath, match=r"\$\{OVSERVE_UNIT_UNSET\} is not set"):
        expand_environment("$OVSERVE_UNIT_UNSET/models")


def test_expand_environment_set_to_empty_is_allowed(monkeypatch):
    monkeypatch.setenv("OVSERVE_UNIT_EMPTY", "")
    assert expand_environment("a${OVSERVE_UNIT_EMPTY}b") == "ab"


def test_expand_environment_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_environment("~/models") == f"{tmp_path}/models"


def test_json_path_rendering():
    assert json_path([]) == "$"
    assert json_path(["servables", 0, "base_path"]) == "$.servables[0].base_path"
    assert json_path(["nodes", 2, "options", "x"]) == "$.nodes[2].options.x"


def test_config_error_text_includes_the_fix():
    error = ConfigError("/etc/x.json", "$.a", "is wrong", "change it")
    assert str(error) == "/etc/x.json: at $.a: is wrong — change it"
    assert str(ConfigError("/etc/x.json", None, "unreadable")) == "/etc/x.json: at $: unreadable"
