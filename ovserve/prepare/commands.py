"""The `export`, `pull` and `list` subcommands of `ovserve` (registered by ovserve/cli.py)."""

import json
import sys
from pathlib import Path

from ovserve.prepare import graphs
from ovserve.prepare.export import WEIGHT_FORMATS

EXIT_FAILED, EXIT_USAGE = 1, 2


def _add_to_config_arguments(parser):
    parser.add_argument(
        "--add-to-config",
        metavar="CONFIG",
        help="add the model to this server config "
        "(created if missing; validated, then written atomically; other entries are kept)",
    )
    parser.add_argument("--name", help="the servable's name in the config (default: the model's name)")
    parser.add_argument("--replace", action="store_true", help="replace a servable of the same name in the config")


def _finish(args, folder, default_name, kind):
    from ovserve.prepare.config_edit import ConfigEditError, add_servable

    print(f"ready: {folder} ({kind}); serve it with {folder / graphs.GRAPH_FILE}")
    if not args.add_to_config:
        return 0
    name = args.name or default_name
    try:
        entry = add_servable(args.add_to_config, name, folder, replace=args.replace)
    except ConfigEditError as error:
        print(f"ovserve: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"added to {Path(args.add_to_config).resolve()}: {json.dumps(entry)}")
    print(f"start it with: ovserve serve --config {args.add_to_config}   (model name: {name})")
    return 0


def _export(args):
    from ovserve.prepare.export import ExportError, default_output, export_model

    output = Path(args.output_dir) if args.output_dir else default_output(args.source, args.models_dir)
    try:
        folder = export_model(
            args.source,
            args.task,
            args.weight_format,
            output,
            overwrite=args.overwrite,
            trust_remote_code=args.trust_remote_code,
            vocoder=args.vocoder,
        )
    except ExportError as error:
        print(f"ovserve export: {error}", file=sys.stderr)
        return EXIT_FAILED
    # The default servable name: a hub id as it is, a local folder by its own name.
    source = Path(args.source)
    default_name = source.resolve().name if source.is_dir() else str(args.source).rstrip("/")
    return _finish(args, folder, default_name, args.task)


def _pull(args):
    from ovserve.prepare.pull import PullError, pull_model

    output = Path(args.output_dir) if args.output_dir else Path(args.models_dir) / args.repo_id
    try:
        folder, kind = pull_model(
            args.repo_id, output, revision=args.revision, gguf_file=args.gguf_file, task=args.task
        )
    except PullError as error:
        print(f"ovserve pull: {error}", file=sys.stderr)
        return EXIT_FAILED
    return _finish(args, folder, args.repo_id, kind)


def _list(args):
    from ovserve.config.loader import default_config_file
    from ovserve.errors import ConfigError
    from ovserve.prepare.listing import format_table, servable_rows

    try:
        rows = servable_rows(args.config or default_config_file())
    except ConfigError as error:
        print(f"ovserve: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0


def add_commands(commands):
    export = commands.add_parser(
        "export",
        help="convert a Hugging Face model to a servable OpenVINO IR folder",
        description="Convert a Hugging Face model (a local folder or a hub id) into an "
        "OpenVINO IR folder with its tokenizer, detokenizer and a graph file "
        "(needs the export extra: pip install 'ovserve[export]').",
    )
    export.add_argument("source", help="a Hugging Face model folder, or a hub id such as BAAI/bge-small-en-v1.5")
    export.add_argument("--task", required=True, choices=graphs.KINDS)
    export.add_argument(
        "--weight-format", default="int8", choices=WEIGHT_FORMATS, help="weight precision of the IR (default int8)"
    )
    export.add_argument("--models-dir", default="models", help="where the model folder goes (default ./models)")
    export.add_argument("--output-dir", help="the model folder itself (default MODELS_DIR/<source name>)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    export.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code (optimum)")
    export.add_argument("--vocoder", help="--task text_to_speech: the HiFi-GAN vocoder's folder or hub id")
    _add_to_config_arguments(export)
    export.set_defaults(run=_export, log_level="warning")

    pull = commands.add_parser(
        "pull",
        help="download an OpenVINO IR or GGUF model from the Hugging Face hub",
        description="Download an already-converted OpenVINO IR model or a GGUF file from the "
        "Hugging Face hub (HF_ENDPOINT and HF_TOKEN are honoured); an interrupted "
        "download resumes when the command runs again.",
    )
    pull.add_argument("repo_id", help="e.g. OpenVINO/Qwen3-0.6B-int4-ov, or a repository of GGUF files")
    pull.add_argument("--revision", help="branch, tag or commit (default: main)")
    pull.add_argument(
        "--gguf-file", help="which GGUF file (a name or a glob like '*Q4_K_M.gguf') when there are several"
    )
    pull.add_argument("--task", choices=graphs.KINDS, help="the model's kind, when config.json doesn't tell")
    pull.add_argument("--models-dir", default="models", help="model repository folder (default ./models)")
    pull.add_argument("--output-dir", help="the model folder itself (default MODELS_DIR/REPO_ID)")
    _add_to_config_arguments(pull)
    pull.set_defaults(run=_pull, log_level="warning")

    listing = commands.add_parser("list", help="show what a config serves and where each model lives")
    listing.add_argument(
        "--config", default=None, help="server config file, JSON or YAML (default: ./config.json, else ./config.yaml)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_list, log_level="warning")
