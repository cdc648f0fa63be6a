"""Preparing a diffusion model: the export command, the graph file, the kind of a pulled folder, the node."""

import json

import pytest

from ovserve.errors import ConfigError
from ovserve.graph.node import NodeContext
from ovserve.nodes.image_generation.node import ImageGenerationNode
from ovserve.prepare import graphs
from ovserve.prepare.export import optimum_command, required_files
from ovserve.prepare.pull import repository_layout


def diffusers_folder(tmp_path, timesteps=1000):
    (tmp_path / "scheduler").mkdir(parents=True)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps({"num_train_timesteps": timesteps}))
    return tmp_path


def test_export_runs_optimum_with_the_diffusers_library(tmp_path):
    command = optimum_command("/models/sd", "text_to_image", "int8", tmp_path / "out")
    arguments = command[command.index("export") :]
    assert arguments[:6] == ["export", "openvino", "--model", "/models/sd", "--task", "text-to-image"]
    assert arguments[arguments.index("--library") + 1] == "diffusers"
    assert "model_index.json" in required_files("text_to_image")


def test_graph_and_kind_of_a_diffusers_folder(tmp_path):
    folder = diffusers_folder(tmp_path)
    assert graphs.detect_kind(folder) == "text_to_image"
    node = graphs.graph_document("text_to_image", folder)["nodes"][0]
    assert node["type"] == "image_generation" and node["options"] == {"models_path": ".", "device": "CPU"}
    files = ["model_index.json", "unet/openvino_model.xml", "unet/openvino_model.bin"]
    assert repository_layout(files) == "openvino"  # `ovserve pull` of an OpenVINO diffusers repository


def context(tmp_path):
    return NodeContext("sd", "images", tmp_path / "graph.json", "$.nodes[0].options")


def test_node_caps_steps_at_the_scheduler_and_names_its_capabilities(tmp_path):
    folder = diffusers_folder(tmp_path, timesteps=500)
    node = ImageGenerationNode({"models_path": str(folder), "max_num_inference_steps": 800}, context(tmp_path))
    assert node.max_steps == 500 and node.capabilities == ("images.generations", "images.edits")
    generations_only = ImageGenerationNode({"models_path": str(folder), "edits": False}, context(tmp_path))
    assert generations_only.capabilities == ("images.generations",)
    assert generations_only.engine_spec().options["edits"] is False


def test_node_refuses_a_folder_that_is_not_a_diffusers_pipeline(tmp_path):
    with pytest.raises(ConfigError, match="text_to_image"):
        ImageGenerationNode({"models_path": str(tmp_path)}, context(tmp_path))
