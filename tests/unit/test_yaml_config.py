"""config.yaml and graph.yaml are accepted wherever JSON is, validated by the same schemas; an error names
the file, the line and the JSON path."""

import shutil

import pytest

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError
from tests.unit.conftest import fixture_path


def error_of(path):
    with pytest.raises(ConfigError) as caught:
        load_server_config(path)
    return caught.value


def test_a_yaml_config_and_graph_load_as_their_json_twins(tmp_path):
    shutil.copytree(fixture_path("configs", "yaml"), tmp_path / "site")
    config = load_server_config(tmp_path / "site" / "config.yaml")
    (echo,) = config.servables
    assert echo.name == "org/echo-model" and echo.graph_file.name == "graph.yaml"
    assert echo.graph == {
        "input": "request",
        "nodes": [{"name": "gen", "type": "fake_echo", "input": "request", "options": {}}],
        "output": "gen",
    }


def test_a_schema_error_names_the_line():
    error = error_of(fixture_path("configs", "yaml_bad", "unknown_key.yaml"))
    assert error.json_path == "$.servables[0]" and error.line == 2
    assert "unknown_key.yaml, line 2" in str(error) and "colour" in str(error)


def test_a_later_error_names_the_line_of_its_path(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("servables:\n  - name: a\n    base_path: no-such-folder\n")
    error = error_of(path)
    assert error.json_path == "$.servables[0].base_path" and error.line == 3


def test_a_key_given_twice_is_an_error_not_a_silent_override():
    error = error_of(fixture_path("configs", "yaml_bad", "duplicate_key.yaml"))
    assert "'name' is given twice (line 3)" in str(error)


def test_invalid_yaml_names_line_and_column():
    error = error_of(fixture_path("configs", "yaml_bad", "syntax.yaml"))
    assert "invalid YAML at line 3" in str(error)


def test_the_default_config_file_is_config_yaml_when_only_that_one_is_there(tmp_path):
    from ovserve.config.loader import default_config_file

    assert default_config_file(tmp_path) == "config.json"
    (tmp_path / "config.yaml").write_text("servables: []\n")
    assert default_config_file(tmp_path) == "config.yaml"
    (tmp_path / "config.json").write_text("{}")
    assert default_config_file(tmp_path) == "config.json"
