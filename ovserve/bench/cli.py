"""`ovserve bench`: arguments, then start → run → report (registered by ovserve/cli.py).

Works against any OpenAI-compatible server (`--url`), or one of its own (`--serve CONFIG`), and can
run the same workload on the bare engine beside it (`--raw`). See docs/benchmarking.md.
"""

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

from ovserve.bench import client, report, schedule
from ovserve.bench.runner import DEFAULT_RATE_REQUESTS
from ovserve.bench.workload import DEFAULT_INPUT_WORDS, Workload

EXIT_FAILED, EXIT_USAGE = 1, 2
DEFAULT_CONFIG = "config.json"  # `ovserve serve`'s default too
REDACTED = "(redacted)"


class UsageError(ValueError):
    """Arguments that can't work together; exit code 2."""


def add_bench_command(commands):
    parser = commands.add_parser(
        "bench",
        help="measure throughput and latency of an OpenAI-compatible server (and of the raw engine)",
        description="Stream chat completions to an OpenAI-compatible server at several load levels and report "
        "throughput, TTFT, TPOT, ITL and E2E latency as vLLM's benchmark_serving defines them; "
        "optionally run the same workload on the bare engine (--raw) and report server/raw ratios.",
    )
    target = parser.add_argument_group("server")
    target.add_argument("--url", default="http://127.0.0.1:8000/v3", help="the API base URL (…/v3 or …/v1)")
    target.add_argument("--model", metavar="NAME", help="model name (default: the first of GET {url}/models)")
    target.add_argument(
        "--api-key",
        metavar="KEY",
        default=os.environ.get("OPENAI_API_KEY"),
        help="sent as 'Authorization: Bearer KEY' (default: $OPENAI_API_KEY)",
    )
    target.add_argument(
        "--serve",
        metavar="CONFIG",
        help="start `ovserve serve --config CONFIG` on a free port for the benchmark, instead of using --url",
    )
    target.add_argument(
        "--serve-args", metavar="ARGS", default="", help="more arguments for that server, e.g. '--workers 2'"
    )
    target.add_argument(
        "--ready-timeout", metavar="S", type=float, default=240, help="seconds --serve may take to be ready"
    )

    load = parser.add_argument_group("load")
    levels = load.add_mutually_exclusive_group()
    levels.add_argument(
        "--concurrency", metavar="LIST", help="closed loop: comma-separated numbers of streams (default: 1,8,32)"
    )
    levels.add_argument(
        "--request-rate",
        metavar="LIST",
        help="open loop: comma-separated requests/s with Poisson arrivals; 'inf' sends every request at once",
    )
    load.add_argument(
        "--requests",
        "--num-prompts",
        dest="requests",
        metavar="N",
        type=int,
        help=f"requests per run (default: max(3·C, 8) in a closed loop, {DEFAULT_RATE_REQUESTS} at a request rate)",
    )
    load.add_argument(
        "--warmup", metavar="N", type=int, default=4, help="uncounted warm-up requests before each run (default 4)"
    )
    load.add_argument(
        "--repeats", metavar="N", type=int, help="runs per level and side (default: 2 with --raw, else 1)"
    )
    length = load.add_mutually_exclusive_group()
    length.add_argument(
        "--input-words", metavar="N", type=int, help=f"words per prompt (default {DEFAULT_INPUT_WORDS})"
    )
    length.add_argument(
        "--input-tokens", metavar="N", type=int, help="about this many prompt tokens before the chat template"
    )
    load.add_argument("--max-tokens", metavar="N", type=int, default=64, help="output tokens per request (default 64)")
    load.add_argument(
        "--ignore-eos",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send ignore_eos: true so every answer has --max-tokens tokens (default: on; "
        "--no-ignore-eos for servers that reject unknown fields)",
    )
    load.add_argument("--seed", default="ovserve", help="seed of the prompts and arrival times")
    load.add_argument(
        "--timeout", metavar="S", type=float, default=client.REQUEST_TIMEOUT_S, help="seconds per request"
    )

    engine = parser.add_argument_group("raw engine")
    engine.add_argument(
        "--raw",
        nargs="?",
        const="",
        metavar="CONFIG_OR_MODEL",
        help="also run the workload on ContinuousBatchingPipeline directly, alternating with the "
        "server: a server config (its LLM servable), a graph.json, a GGUF file or an IR folder "
        f"(default: the --serve config, else ./{DEFAULT_CONFIG})",
    )
    engine.add_argument("--raw-only", action="store_true", help="run the raw side only (no server)")

    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="OUT", help="write every run's numbers, the summaries and the environment")
    output.add_argument("--chart", metavar="PNG", help="draw the results (default: beside --json, with .png)")
    output.add_argument("--no-chart", action="store_true", help="no PNG, even with --json")
    parser.set_defaults(run=run_bench, log_level="warning")
    return parser


def _workload(args):
    if args.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    if args.input_tokens is not None:
        words = args.input_tokens  # the word list's words are one token each (workload.py)
    else:
        words = DEFAULT_INPUT_WORDS if args.input_words is None else args.input_words
    if words < 1:
        raise UsageError("--input-words and --input-tokens must be at least 1")
    return Workload(input_words=words, max_tokens=args.max_tokens, ignore_eos=args.ignore_eos, seed=args.seed)


def _levels(args):
    try:
        if args.request_rate:
            return schedule.parse_rates(args.request_rate)
        return schedule.parse_concurrencies(args.concurrency or "1,8,32")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _raw_argument(args):
    """The --raw argument, or the config it defaults to; None without --raw."""
    if args.raw is None and not args.raw_only:
        return None
    if args.raw:
        return args.raw
    if args.serve:
        return args.serve
    if Path(DEFAULT_CONFIG).is_file():
        return DEFAULT_CONFIG
    raise UsageError(f"--raw needs a config, graph or model (no --serve config, no ./{DEFAULT_CONFIG})")


def _resolve_raw(argument, model):
    from ovserve.bench.target import TargetError, resolve_raw_target

    try:
        return resolve_raw_target(argument, model)
    except TargetError as exc:
        raise UsageError(str(exc)) from None


def _chart_path(args):
    if args.no_chart:
        return None
    if args.chart:
        return Path(args.chart)
    return Path(args.json).with_suffix(".png") if args.json else None


def run_bench(args):
    from ovserve.bench.raw import RawFailed
    from ovserve.server.launcher import ServerFailed

    try:
        return _bench(args)
    except UsageError as exc:
        print(f"ovserve bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ServerFailed, RawFailed, ValueError) as exc:
        print(f"ovserve bench: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("ovserve bench: interrupted", file=sys.stderr)
        return 130


def _log(line):
    print(line, file=sys.stderr, flush=True)


def _bench(args):
    from ovserve.bench.probe import answers_health
    from ovserve.bench.progress import Progress
    from ovserve.bench.runner import Benchmark, Plan
    from ovserve.server.launcher import LaunchedServer

    workload, levels = _workload(args), _levels(args)
    raw_argument = _raw_argument(args)
    target = _resolve_raw(raw_argument, args.model) if raw_argument else None  # fail before starting anything
    sides = ["raw"] if args.raw_only else (["raw", "server"] if target else ["server"])
    repeats = args.repeats or (2 if target and not args.raw_only else 1)
    if repeats < 1 or (args.requests is not None and args.requests < 1) or args.warmup < 0:
        raise UsageError("--repeats and --requests must be at least 1, --warmup at least 0")
    plan = Plan(
        levels, sides, workload, repeats=repeats, requests=args.requests, warmup=args.warmup, timeout_s=args.timeout
    )
    server = None
    try:
        if "server" in sides:
            if args.serve:
                server = LaunchedServer(args.serve, *shlex.split(args.serve_args), log=_log)
                server.wait_ready(args.ready_timeout)
                args.url = server.url
            try:
                plan.endpoint = client.Endpoint(args.url, args.api_key)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            plan.model = args.model or client.first_model(plan.endpoint)
            plan.probe_health = answers_health(plan.endpoint)
            _log(f"server {plan.endpoint.url}, model {plan.model}")
            if target and not args.model and raw_argument.endswith(".json"):
                target = _resolve_raw(raw_argument, plan.model)  # the servable of the model being measured
        if target:
            plan.engine_options = target.engine_options
            _log(f"raw engine: {target.description}")
        with tempfile.TemporaryDirectory(prefix="ovserve-bench-") as workdir:
            runs = Benchmark(plan, Progress(plan.total_runs()), workdir).run()
    finally:
        if server:
            server.stop()
    return _report(args, plan, target, runs)


def _report(args, plan, target, runs):
    summaries = report.summarize_levels(runs, plan.levels, plan.sides)
    health = report.health_summary([run["health"] for run in runs if "health" in run], plan.probe_level)
    model = plan.model or (target.description if target else "")
    title = f"ovserve bench: {model}"
    print(report.format_report(summaries, health, title=title))
    if args.json:
        environment = {
            **report.environment(),
            "url": plan.endpoint.url if plan.endpoint else None,
            "model": plan.model,
            "raw_target": target.description if target else None,
            "engine_options": target.engine_options if target else None,
        }
        settings = {key: value for key, value in vars(args).items() if key != "run"}
        if settings["api_key"]:
            settings["api_key"] = REDACTED
        document = {
            "command": _redacted(sys.argv),
            "settings": settings,
            "environment": environment,
            "summary": summaries,
            "health": health,
            "runs": [report.run_for_json(run) for run in runs],
        }
        report.write_json(args.json, document)
        _log(f"wrote {args.json}")
    chart = _chart_path(args)
    if chart:
        from ovserve.bench.chart import write_chart

        try:
            write_chart(chart, summaries, plan.sides, title, _subtitle(plan, summaries))
        except ImportError:
            print(
                "ovserve bench: can't draw the chart: matplotlib is not installed (pip install 'ovserve[bench]')",
                file=sys.stderr,
            )
            return EXIT_FAILED
        _log(f"wrote {chart}")
    measured = any(summary["completed"] for entry in summaries for summary in entry["sides"].values())
    return 0 if measured else EXIT_FAILED


def _redacted(argv):
    """The command line without the value of --api-key (the JSON report gets shared)."""
    out, hide_next = [], False
    for argument in argv:
        if hide_next:
            out.append(REDACTED)
        elif argument.startswith("--api-key="):
            out.append("--api-key=" + REDACTED)
        else:
            out.append(argument)
        hide_next = argument == "--api-key"
    return out


def _subtitle(plan, summaries):
    prompt_tokens = [
        summary["prompt_tokens_mean"]
        for entry in summaries
        for summary in entry["sides"].values()
        if summary["prompt_tokens_mean"]
    ]
    prompt = f"~{sum(prompt_tokens) / len(prompt_tokens):.0f}" if prompt_tokens else f"{plan.workload.input_words}-word"
    where = plan.endpoint.url if plan.endpoint else "raw engine only"
    return (
        f"{where} · {prompt} prompt tokens, {plan.workload.max_tokens} output tokens · "
        f"{plan.repeats} run(s) per level and side, medians"
    )
