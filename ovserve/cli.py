"""The `ovserve` command."""

import argparse
import logging
import shutil
import sys
from pathlib import Path

from ovserve import __version__
from ovserve.bench.cli import add_bench_command
from ovserve.config.ovms.command_line import SingleModelError, add_ovms_flags, config_from_ovms_flags
from ovserve.http.body import DEFAULT_MAX_BODY_BYTES
from ovserve.prepare.commands import add_commands
from ovserve.protocol.responses_store import StoreOptions
from ovserve.server.plan import ConnectionLimits


def _serve(args):
    from ovserve.config.loader import default_config_file
    from ovserve.errors import ConfigError
    from ovserve.server.supervisor import Supervisor

    if args.api_key_file:
        try:
            open(args.api_key_file, encoding="utf-8").close()
        except OSError as exc:
            print(f"ovserve: can't read --api-key-file {args.api_key_file}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        single_model_config = config_from_ovms_flags(args)  # written in a temporary folder of its own
    except SingleModelError as error:
        print(f"ovserve: {error}", file=sys.stderr)
        return 2
    config_file = single_model_config or args.config or default_config_file()
    supervisor = Supervisor(
        config_file,
        args.host,
        args.port,
        workers=args.workers,
        log_level=args.log_level,
        graceful_timeout=args.graceful_timeout,
        max_body_bytes=args.max_body_bytes,
        drain_seconds=args.drain_seconds,
        watchdog_seconds=args.watchdog_seconds,
        api_key_file=args.api_key_file,
        cors_origins=args.cors_origins,
        follow_up_window_ms=args.follow_up_window_ms,
        client_write_timeout_seconds=args.client_write_timeout_seconds,
        connection_limits=ConnectionLimits(
            args.worker_connections, args.header_timeout_seconds, args.body_timeout_seconds
        ),
        responses_store=StoreOptions(
            # Resolved here: the workers must find the same folder whatever their working directory.
            str(Path(args.responses_store_dir).resolve()),
            args.responses_store_max_count,
            args.responses_store_max_age_hours,
        ),
        file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
    )
    try:
        return supervisor.run()
    except ConfigError as error:
        print(f"ovserve: configuration error: {error}", file=sys.stderr)
        return 2
    finally:
        if single_model_config:
            shutil.rmtree(Path(single_model_config).parent, ignore_errors=True)


def add_connection_limits(serve):
    defaults = ConnectionLimits()
    serve.add_argument(
        "--worker-connections",
        type=_positive_int,
        default=defaults.worker_connections,
        help="connections each HTTP worker serves at once; more wait to be accepted (default: %(default)s)",
    )
    serve.add_argument(
        "--header-timeout-seconds",
        type=_positive_int,
        default=defaults.header_timeout_seconds,
        help="close a connection that has not sent a request's headers within this long (also how "
        "long an idle keep-alive connection stays open; default: %(default)s)",
    )
    serve.add_argument(
        "--body-timeout-seconds",
        type=_positive_float,
        default=defaults.body_timeout_seconds,
        help="answer 408 and close the connection when a request's body has not all arrived this "
        "long after its headers (default: %(default)s)",
    )


def add_responses_store_options(serve):
    serve.add_argument(
        "--responses-store-dir",
        default=StoreOptions.directory,
        help="folder of the Responses API's store (stored responses, for previous_response_id and "
        "GET /v3/responses/{id}), shared by all HTTP workers (default: %(default)s, under the working directory)",
    )
    serve.add_argument(
        "--responses-store-max-count",
        type=_positive_int,
        default=StoreOptions.max_count,
        help="stored responses kept; the oldest go first (default: %(default)s)",
    )
    serve.add_argument(
        "--responses-store-max-age-hours",
        type=_positive_float,
        default=StoreOptions.max_age_hours,
        help="hours a stored response is kept (default: %(default)s)",
    )


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="ovserve", description="Serve OpenVINO models over an OpenAI-compatible API.")
    parser.add_argument("--version", action="version", version=f"ovserve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument(
        "--config",
        "--config_path",
        default=None,
        help="server config file: ovserve's (JSON or YAML) or OVMS's config.json (default: ./config.json, else ./config.yaml)",
    )
    serve.add_argument("--host", "--rest_bind_address", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="HTTP worker processes (engines are shared by all)")
    serve.add_argument("--graceful-timeout", type=int, default=30, help="seconds in-flight requests get on shutdown")
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=1.0,
        help="on SIGTERM, seconds readiness reports 503 before the listener closes",
    )
    serve.add_argument(
        "--watchdog-seconds", type=float, default=30.0, help="restart an engine whose loop has not turned for this long"
    )
    serve.add_argument(
        "--follow-up-window-ms",
        type=float,
        default=50.0,
        help="longest an engine holds its next step for requests that clients send as soon as "
        "one ends, when it has seen them do so (0: never hold)",
    )
    serve.add_argument(
        "--client-write-timeout-seconds",
        type=float,
        default=30.0,
        help="drop a streaming client that reads nothing for this long once its socket buffers "
        "are full, and cancel its generation (0: never)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body (default {DEFAULT_MAX_BODY_BYTES}; 413 above it)",
    )
    add_connection_limits(serve)
    add_responses_store_options(serve)
    serve.add_argument(
        "--api-key-file",
        "--api_key_file",
        help="require one of these keys (one per line) on every route but "
        "/v2/health/live, /v2/health/ready and /metrics; OVSERVE_API_KEY adds one",
    )
    serve.add_argument("--cors-origins", nargs="*", default=(), help="origins allowed by CORS ('*' for any)")
    serve.add_argument(
        "--file_system_poll_wait_seconds",
        "--file-system-poll-wait-seconds",
        dest="file_system_poll_wait_seconds",
        type=float,
        default=0.0,
        help="reload the config when it (or a graph file it names) changes, checked this often (0: never; "
        "POST /v1/config/reload reloads on demand)",
    )
    serve.add_argument(
        "--log-level", "--log_level", default="info", type=str.lower, choices=["debug", "info", "warning", "error"]
    )
    add_ovms_flags(serve)
    serve.set_defaults(run=_serve)
    add_commands(commands)  # export, pull, list
    add_bench_command(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s [ovserve] %(levelname)s %(message)s",
    )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
