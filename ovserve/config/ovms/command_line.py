"""OVMS's `ovms` flags on `ovserve serve`, beside ovserve's own.

The same-meaning flags are aliases of ovserve's (registered by ovserve/cli.py: --config_path, --rest_port,
--rest_bind_address, --log_level, --api_key_file); this module adds the single-model flags, the graph
flags of that mode, and the flags ovserve can't honour, which stop start-up with an error naming them.
"""

import argparse
import logging
from pathlib import Path

from ovserve.config.loader import DEFAULT_GRAPH_FILES
from ovserve.config.ovms.single_model import (
    OVMS_GRAPH,
    SingleModel,
    SingleModelError,
    graph_flag_options,
    write_single_model_config,
)

log = logging.getLogger("ovserve")
TASKS = ("text_generation", "embeddings", "rerank")
# OVMS flags that tune the server and the graph of the single-model mode -> their type.
GRAPH_FLAGS = {
    "target_device": str,
    "cache_size": int,
    "max_num_seqs": int,
    "max_num_batched_tokens": int,
    "enable_prefix_caching": lambda text: text.lower() == "true",
    "dynamic_split_fuse": lambda text: text.lower() == "true",
    "tool_parser": str,
    "reasoning_parser": str,
}
# OVMS flags accepted without effect: what they tune, ovserve does anyway.
ACCEPTED_FLAGS = {
    "rest_workers": "ovserve's gevent workers serve many connections each (use --workers for processes)",
    "metrics_enable": "ovserve always serves /metrics",
}
# OVMS flags ovserve can't honour, and why.
REFUSED_FLAGS = {
    "grpc_workers": "ovserve serves HTTP only (no gRPC)",
    "grpc_bind_address": "ovserve serves HTTP only (no gRPC)",
    "grpc_channel_arguments": "ovserve serves HTTP only (no gRPC)",
    "grpc_max_threads": "ovserve serves HTTP only (no gRPC)",
    "grpc_memory_quota": "ovserve serves HTTP only (no gRPC)",
    "metrics_list": "ovserve serves all its metrics",
    "cpu_extension": "ovserve does not load OpenVINO CPU extensions",
    "cache_dir": "ovserve does not set OpenVINO's model cache from the command line (use plugin_config CACHE_DIR)",
    "batch_size": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "shape": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "layout": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "model_version_policy": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "nireq": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "plugin_config": "give plugin_config in the graph file's node options",
    "stateful": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "sequence_cleaner_poll_wait_minutes": "classic model serving (KServe/TFS APIs) is not something ovserve has",
    "custom_node_resources_cleaner_interval_seconds": "ovserve does not load OVMS custom nodes",
    "log_path": "ovserve logs to stderr (redirect it)",
    "pipeline_type": "ovserve serves text-only models with continuous batching",
    "draft_source_model": "ovserve has no draft-model speculative decoding",
    "allowed_local_media_path": "ovserve serves text-only models",
    "allowed_media_domains": "ovserve serves text-only models",
    "max_prompt_len": "that is an NPU setting; ovserve runs on CPU",
    "allowed_origins": "use --cors-origins (origins separated by spaces)",
    "allowed_methods": "ovserve's CORS allows the methods its routes have",
    "allowed_headers": "ovserve's CORS allows the headers its routes read",
    "allow_credentials": "ovserve's CORS does not allow credentials",
}


class _Refused(argparse.Action):
    def __init__(self, option_strings, dest, reason, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.reason = reason

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is an OVMS flag ovserve can't honour: {self.reason}")


class _Accepted(_Refused):
    def __call__(self, parser, namespace, values, option_string=None):
        log.info("%s is accepted without effect: %s", option_string, self.reason)


def add_ovms_flags(serve):
    group = serve.add_argument_group("OVMS's flags (see docs/coming-from-ovms.md)")
    group.add_argument("--model_path", help="serve this model folder or .gguf file, without a config file")
    group.add_argument("--model_name", help="the name clients send in `model` (with --model_path or --source_model)")
    group.add_argument("--source_model", help="a Hugging Face model id to pull (or export) and serve")
    group.add_argument(
        "--model_repository_path", default="models", help="where --source_model goes (default: ./models)"
    )
    group.add_argument("--task", choices=TASKS, help="the model's kind, when its files don't tell")
    group.add_argument("--gguf_filename", help="with --source_model: which GGUF file of the repository")
    for flag, kind in GRAPH_FLAGS.items():
        group.add_argument(f"--{flag}", type=kind, help=argparse.SUPPRESS)
    group.add_argument("--rest_port", type=int, help="OVMS's name of --port (OVMS's own --port is its gRPC port)")
    for flag, why in ACCEPTED_FLAGS.items():
        group.add_argument(f"--{flag}", nargs="?", action=_Accepted, reason=why)
    for flag, why in REFUSED_FLAGS.items():
        group.add_argument(f"--{flag}", nargs="?", action=_Refused, reason=why)


def _source_model_folder(args):
    """Pull (an OpenVINO IR or GGUF repository) or else export `--source_model` into the model repository,
    as OVMS does; a folder already there is served as it is."""
    from ovserve.prepare.pull import PullError, pull_model

    folder = Path(args.model_repository_path) / args.source_model
    if any((folder / graph).is_file() for graph in (*DEFAULT_GRAPH_FILES, OVMS_GRAPH)):
        return folder  # pulled or exported before: written last, so the model files are complete
    try:
        return pull_model(args.source_model, folder, gguf_file=args.gguf_filename, task=args.task)[0]
    except PullError as pull_error:
        if not args.task:
            raise SingleModelError(f"--source_model {args.source_model}: {pull_error}") from None
        from ovserve.prepare.export import ExportError, export_model

        try:
            return export_model(args.source_model, args.task, "int8", folder)
        except ExportError as export_error:
            raise SingleModelError(
                f"--source_model {args.source_model}: can't pull it ({pull_error}) nor export it ({export_error})"
            ) from None


def _apply_rest_port(args, default_port):
    if args.rest_port is None:
        return
    if args.port not in (default_port, args.rest_port):
        # In OVMS --port is the gRPC port; taking either for the HTTP port would be a guess.
        raise SingleModelError(
            f"--rest_port {args.rest_port} and --port {args.port}: ovserve serves HTTP only; give one"
        )
    args.port = args.rest_port


def config_from_ovms_flags(args, default_port=8000):
    """Apply OVMS's --rest_port; the config file of OVMS's single-model mode when its flags are given,
    else None. SingleModelError names a flag that can't be honoured."""
    _apply_rest_port(args, default_port)
    if not (args.model_path or args.source_model):
        if args.model_name:
            raise SingleModelError("--model_name needs --model_path or --source_model")
        return None
    if args.model_path and args.source_model:
        raise SingleModelError("give --model_path or --source_model, not both")
    if getattr(args, "config", None):
        raise SingleModelError("--config_path serves a config file; --model_path / --source_model serve one model")
    path = Path(args.model_path) if args.model_path else _source_model_folder(args)
    name = args.model_name or args.source_model
    if not name:
        raise SingleModelError("--model_path needs --model_name (the name clients send in `model`)")
    options = graph_flag_options({flag: getattr(args, flag) for flag in GRAPH_FLAGS})
    return write_single_model_config(SingleModel(path, name, args.task, options))
