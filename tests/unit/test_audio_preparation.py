"""Preparing audio models: the optimum command, the files checked, the kind of a folder, the graph written."""

import json

import pytest

from ovserve.prepare import graphs
from ovserve.prepare.export import ExportError, export_model, optimum_command, required_files
from ovserve.prepare.pull import repository_layout


def test_optimum_commands_of_the_audio_tasks():
    whisper = optimum_command("src", "automatic_speech_recognition", "fp16", "out")
    assert whisper[whisper.index("--task") + 1] == "automatic-speech-recognition-with-past"
    speech = optimum_command("src", "text_to_speech", "fp16", "out", vocoder="hifigan")
    assert speech[speech.index("--task") + 1] == "text-to-audio"
    assert json.loads(speech[speech.index("--model-kwargs") + 1]) == {"vocoder": "hifigan"}
    assert "--model-kwargs" not in whisper


def test_required_files_of_the_audio_tasks():
    assert "openvino_decoder_model.xml" in required_files("automatic_speech_recognition")
    assert "openvino_vocoder.xml" in required_files("text_to_speech")
    assert "openvino_model.xml" not in required_files("text_to_speech")


@pytest.mark.parametrize("task, vocoder", [("text_to_speech", None), ("embeddings", "hifigan")])
def test_vocoder_goes_with_text_to_speech_only(tmp_path, task, vocoder):
    with pytest.raises(ExportError, match="--vocoder"):
        export_model(tmp_path, task, "fp16", tmp_path / "out", vocoder=vocoder)


@pytest.mark.parametrize(
    "architecture, kind",
    [
        ("WhisperForConditionalGeneration", "automatic_speech_recognition"),
        ("SpeechT5ForTextToSpeech", "text_to_speech"),
    ],
)
def test_audio_kinds_detected_and_their_graphs(tmp_path, architecture, kind):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    assert graphs.detect_kind(tmp_path) == kind
    node = graphs.graph_document(kind, tmp_path)["nodes"][0]
    assert node["type"] == {"automatic_speech_recognition": "transcription", "text_to_speech": "speech"}[kind]
    assert node["options"] == {"models_path": ".", "device": "CPU"}


def test_encoder_decoder_ir_repositories_are_openvino():
    assert repository_layout(["openvino_encoder_model.xml", "openvino_decoder_model.xml", "config.json"]) == "openvino"
