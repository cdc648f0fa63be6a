"""`ovserve pull`: an already-converted model from the Hugging Face hub, ready to serve.

Two kinds of repository are served as they are: OpenVINO IR folders (e.g. the OpenVINO/...-ov
repositories: openvino_model.xml + tokenizer and detokenizer) and GGUF files. Downloads go through
huggingface_hub into the model folder itself (progress bars on the terminal; an interrupted
download resumes where it stopped on the next pull, from huggingface_hub's `.incomplete` files);
HF_ENDPOINT and HF_TOKEN are honoured. A graph file is written beside the model unless the
repository ships one.
"""

import fnmatch
import logging
import sys
from pathlib import Path

from ovserve.prepare import graphs
from ovserve.prepare.progress import Step

INSTALL_HINT = "ovserve pull needs huggingface_hub: pip install 'ovserve[pull]'"
IR_MARKER = "openvino_model.xml"
# Encoder-decoder IR folders (Whisper, SpeechT5) have no openvino_model.xml; their kind comes from config.json.
ENCODER_DECODER_IR_MARKER = "openvino_encoder_model.xml"
VISION_LANGUAGE_IR_MARKER = "openvino_language_model.xml"  # a VLM: its kind comes from its vision model's file


class PullError(Exception):
    pass


def _hub():
    try:
        import huggingface_hub
        import huggingface_hub.constants  # a lazy attribute of the package: import it by name
    except ImportError:
        raise PullError(INSTALL_HINT) from None
    logging.getLogger("huggingface_hub").propagate = False  # it prints its own warnings (e.g. resuming)
    return huggingface_hub


def choose_gguf(files, wanted=None):
    """The GGUF file to fetch among `files`: the one matching `wanted` (a name or a glob), or the only one."""
    ggufs = sorted(name for name in files if name.lower().endswith(".gguf"))
    if wanted:
        matches = [
            name
            for name in ggufs
            if name == wanted or fnmatch.fnmatch(name, wanted) or fnmatch.fnmatch(Path(name).name, wanted)
        ]
        if len(matches) != 1:
            found = "none" if not matches else ", ".join(matches)
            raise PullError(
                f"--gguf-file {wanted!r} must match exactly one GGUF file of the repository "
                f"(matched: {found}; it has: {', '.join(ggufs) or 'none'})"
            )
        return matches[0]
    if len(ggufs) == 1:
        return ggufs[0]
    raise PullError(f"the repository has {len(ggufs)} GGUF files; choose one with --gguf-file: {', '.join(ggufs)}")


def repository_layout(files):
    """'openvino' when the files hold an OpenVINO IR model, 'gguf' when they hold GGUF files, else None."""
    if any(Path(name).name in (IR_MARKER, ENCODER_DECODER_IR_MARKER, VISION_LANGUAGE_IR_MARKER) for name in files):
        return "openvino"
    if any(name.lower().endswith(".gguf") for name in files):
        return "gguf"
    return None


def pull_model(repo_id, output, revision=None, gguf_file=None, task=None, out=sys.stderr):
    """Download `repo_id` into `output` and write its graph file; return (output folder, kind)."""
    hub = _hub()
    output = Path(output).resolve()
    with Step(1, 3, f"Reading the file list of {repo_id} from {hub.constants.ENDPOINT}", out):
        try:
            info = hub.HfApi().model_info(repo_id, revision=revision)
        except Exception as exc:
            raise PullError(f"can't read {repo_id} on the hub: {type(exc).__name__}: {exc}") from None
        files = [sibling.rfilename for sibling in info.siblings or ()]
        layout = repository_layout(files)
        if layout is None:
            raise PullError(
                f"{repo_id} holds neither an OpenVINO IR model ({IR_MARKER}) nor a GGUF file; "
                "convert it with `ovserve export` instead"
            )
    output.mkdir(parents=True, exist_ok=True)
    try:
        if layout == "gguf":
            name = choose_gguf(files, gguf_file)
            with Step(2, 3, f"Downloading {name} into {output}", out):
                hub.hf_hub_download(repo_id, name, revision=revision, local_dir=output)
            kind, models_path = "text_generation", name
        else:
            with Step(2, 3, f"Downloading {len(files)} files into {output}", out):
                hub.snapshot_download(repo_id, revision=revision, local_dir=output)
            kind, models_path = task or graphs.detect_kind(output), "."
            if kind is None:
                raise PullError(
                    f"can't tell from {output / 'config.json'} what kind of model {repo_id} is; "
                    f"pass --task ({'|'.join(graphs.KINDS)})"
                )
    except PullError:
        raise
    except Exception as exc:
        raise PullError(
            f"the download of {repo_id} failed: {type(exc).__name__}: {exc} (run the same command again to resume it)"
        ) from None
    with Step(3, 3, f"Writing {graphs.GRAPH_FILE}", out):
        if (output / graphs.GRAPH_FILE).is_file() and graphs.GRAPH_FILE in files:
            print(f"      kept the repository's own {graphs.GRAPH_FILE}", file=out)
        else:
            graphs.write_graph(output, kind, models_path)
    return output, kind
