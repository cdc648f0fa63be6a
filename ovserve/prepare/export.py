"""`ovserve export`: a Hugging Face model (local folder or hub id) -> a servable OpenVINO IR folder.

The conversion is optimum-intel's (`optimum-cli export openvino`, the `export` extra), run as a
child process whose output is shown as it comes. The IR lands in a temporary folder beside the
output and is renamed into place only when complete, with a graph file ready for `ovserve serve`.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ovserve.prepare import graphs
from ovserve.prepare.progress import Step

OPTIMUM_TASKS = {
    "text_generation": "text-generation-with-past",
    "embeddings": "feature-extraction",
    "rerank": "text-classification",
    "text_to_image": "text-to-image",
    "automatic_speech_recognition": "automatic-speech-recognition-with-past",
    "text_to_speech": "text-to-audio",
    "image_text_to_text": "image-text-to-text",
}
# What each audio kind's conversion writes besides the tokenizer (Whisper: encoder and decoder; SpeechT5:
# encoder, decoder, postnet and the HiFi-GAN vocoder given by --vocoder).
AUDIO_FILES = {
    "automatic_speech_recognition": [
        "openvino_encoder_model.xml",
        "openvino_decoder_model.xml",
        "openvino_detokenizer.xml",
    ],
    "text_to_speech": [
        "openvino_encoder_model.xml",
        "openvino_decoder_model.xml",
        "openvino_postnet.xml",
        "openvino_vocoder.xml",
    ],
}
WEIGHT_FORMATS = ("fp16", "int8", "int4")
# Kept beside the IR: the sentence-transformers files say how to pool and how long an input may be.
SENTENCE_TRANSFORMERS_FILES = (
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
INSTALL_HINT = (
    "ovserve export needs optimum-intel: pip install 'ovserve[export]', after installing a CPU build "
    "of torch (a plain `pip install torch` may bring a multi-GB CUDA build); see docs/model-preparation.md"
)


class ExportError(Exception):
    pass


def optimum_command(source, task, weight_format, output, trust_remote_code=False, vocoder=None):
    command = [
        sys.executable,
        "-c",
        "from optimum.commands.optimum_cli import main; main()",
        "export",
        "openvino",
        "--model",
        str(source),
        "--task",
        OPTIMUM_TASKS[task],
        "--weight-format",
        weight_format,
    ]
    if task == "text_to_image":
        command += ["--library", "diffusers"]
    elif task != "text_generation":
        command += ["--library", "transformers"]  # the plain encoder: the pipelines pool and score themselves
    if trust_remote_code:
        command.append("--trust-remote-code")
    if vocoder is not None:  # SpeechT5: optimum-intel converts the vocoder with the model
        command += ["--model-kwargs", json.dumps({"vocoder": str(vocoder)})]
    return command + [str(output)]


def default_output(source, models_dir):
    return Path(models_dir) / Path(str(source).rstrip("/")).name


def required_files(task):
    if task == "image_text_to_text":  # a VLM: the language model and its text and vision embeddings
        return [
            "openvino_language_model.xml",
            "openvino_text_embeddings_model.xml",
            "openvino_vision_embeddings_model.xml",
            "openvino_tokenizer.xml",
            "openvino_detokenizer.xml",
        ]
    if task == "text_to_image":  # a diffusers folder; its denoiser is unet/ or transformer/ by family
        return ["model_index.json", "text_encoder/openvino_model.xml", "vae_decoder/openvino_model.xml"]
    if task in AUDIO_FILES:
        return ["openvino_tokenizer.xml", *AUDIO_FILES[task]]
    files = ["openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml"]
    if task == "text_generation":
        files.append("openvino_detokenizer.xml")
    return files


def _run_streaming(command, step, environment):
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=environment
    )
    tail = []
    for line in process.stdout:
        step.echo(line)
        tail = (tail + [line.rstrip()])[-20:]
    if process.wait() != 0:
        raise ExportError(f"optimum-intel failed (exit code {process.returncode}); its last lines:\n" + "\n".join(tail))


def _copy_sentence_transformers_files(source, destination):
    if not Path(source).is_dir():
        return
    for name in SENTENCE_TRANSFORMERS_FILES:
        origin = Path(source) / name
        if origin.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, destination / name)


def _copy_preprocessor_config(source, destination):
    # openvino_genai's VLM pipeline reads the image processor's settings from this file, which optimum-intel
    # folds into processor_config.json only.
    origin = Path(source) / "preprocessor_config.json"
    if origin.is_file() and not (destination / origin.name).is_file():
        shutil.copyfile(origin, destination / origin.name)


def export_model(
    source, task, weight_format, output, overwrite=False, trust_remote_code=False, out=sys.stderr, vocoder=None
):
    """Convert `source` into `output` (IR + tokenizers + graph.json); return the output folder."""
    if (task == "text_to_speech") != (vocoder is not None):
        raise ExportError(
            "--vocoder (a HiFi-GAN folder or hub id, e.g. microsoft/speecht5_hifigan) goes with "
            "--task text_to_speech, and only with it"
        )
    if importlib.util.find_spec("optimum") is None or importlib.util.find_spec("optimum.intel") is None:
        raise ExportError(INSTALL_HINT)
    output = Path(output).resolve()
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise ExportError(f"{output} already exists and is not empty; pass --overwrite or choose --output-dir")
    local = Path(source).is_dir()
    if not local and Path(source).exists():
        raise ExportError(f"{source} is a file; give a model folder or a Hugging Face hub id")
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    if local:
        environment.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs nothing from the hub
    staging = output.parent / f".{output.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        where = "folder" if local else "hub id"
        with Step(
            1,
            3,
            f"Converting {source} ({where}) to OpenVINO IR, {weight_format} weights, task {task} (optimum-intel)",
            out,
        ) as step:
            _run_streaming(
                optimum_command(source, task, weight_format, staging, trust_remote_code, vocoder), step, environment
            )
        with Step(2, 3, "Checking the model, tokenizer and detokenizer files", out):
            missing = [name for name in required_files(task) if not (staging / name).is_file()]
            if missing:
                raise ExportError(
                    f"the conversion did not produce {', '.join(missing)} "
                    "(is openvino-tokenizers installed in this environment?)"
                )
            if task != "text_generation":
                _copy_sentence_transformers_files(source, staging)
            if task == "image_text_to_text":
                _copy_preprocessor_config(source, staging)
        with Step(3, 3, f"Writing {graphs.GRAPH_FILE} and moving the model to {output}", out):
            graphs.write_graph(staging, task)
            if output.exists():
                shutil.rmtree(output)
            os.replace(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
