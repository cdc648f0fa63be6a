"""Summaries of a benchmark's runs, the tables printed on the terminal, and the JSON report.

Per load level and side, each metric is the median over the side's runs (repeats); counts are
summed. With the raw side, each repeat pairs a server run with the raw run next to it, and the
server/raw ratio of a metric is the median of the per-pair ratios, with their min-max as the spread.
"""

import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from ovserve.bench import metrics

SUMMED = ("requests", "completed", "errors", "output_tokens", "prompt_tokens", "tokens_counted_from_chunks")
# (metric key, column title, scale) of the tables; latencies are printed in ms.
THROUGHPUT_COLUMNS = (("requests_per_s", "req/s", 1), ("output_tokens_per_s", "tok/s", 1))
LATENCY_COLUMNS = tuple(
    (f"{name}_p{q}_s", f"{title} p{q}", 1000)
    for name, title in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"))
    for q in (50, 90, 99)
)
E2E_COLUMNS = (("e2e_p50_s", "E2E p50", 1000), ("e2e_p99_s", "E2E p99", 1000))
RATIO_COLUMNS = (
    ("output_tokens_per_s", "tok/s"),
    ("requests_per_s", "req/s"),
    ("ttft_p50_s", "TTFT p50"),
    ("ttft_p99_s", "TTFT p99"),
    ("tpot_p50_s", "TPOT p50"),
    ("itl_p50_s", "ITL p50"),
    ("itl_p99_s", "ITL p99"),
    ("e2e_p50_s", "E2E p50"),
)


# --- summaries ------------------------------------------------------------------------------------


def side_summary(runs):
    """One side's runs at one level: medians of the metrics, summed counts, throughput min-max."""
    keys = [key for key in runs[0]["metrics"] if key not in SUMMED]
    summary = {key: metrics.median([run["metrics"][key] for run in runs]) for key in keys}
    summary.update({key: sum(run["metrics"][key] for run in runs) for key in SUMMED})
    summary["runs"] = len(runs)
    summary["tok_s_min"], summary["tok_s_max"] = metrics.spread([run["metrics"]["output_tokens_per_s"] for run in runs])
    summary["prompt_tokens_mean"] = metrics.ratio(summary["prompt_tokens"], summary["completed"]) or None
    return summary


def pair_ratios(server_runs, raw_runs):
    """Per metric: the server/raw ratio of every pair of runs (same repeat), their median and min-max."""
    raw_by_repeat = {run["repeat"]: run for run in raw_runs}
    pairs = [(run, raw_by_repeat[run["repeat"]]) for run in server_runs if run["repeat"] in raw_by_repeat]
    ratios = {}
    for key, _ in RATIO_COLUMNS:
        values = [metrics.ratio(server["metrics"][key], raw["metrics"][key]) for server, raw in pairs]
        low, high = metrics.spread(values)
        ratios[key] = {"median": metrics.median(values), "min": low, "max": high, "pairs": values}
    return ratios


def summarize_levels(runs, levels, sides):
    """[{level, kind, value, sides: {side: summary}, ratios}] in sweep order."""
    summaries = []
    for level in levels:
        by_side = {side: [run for run in runs if run["level"] == level and run["side"] == side] for side in sides}
        entry = {
            "level": level.label,
            "kind": level.kind,
            "value": level.to_json(),
            "sides": {side: side_summary(found) for side, found in by_side.items() if found},
        }
        if by_side.get("server") and by_side.get("raw"):
            entry["ratios"] = pair_ratios(by_side["server"], by_side["raw"])
        summaries.append(entry)
    return summaries


def health_summary(probe_results, level):
    """The liveness probe's latencies pooled over the runs that probed, or None if none did."""
    if not probe_results:
        return None
    latencies = [value for result in probe_results for value in result["latencies_s"]]
    return {
        "level": level.label,
        "failures": sum(len(result["failures"]) for result in probe_results),
        **metrics.latency_summary(latencies),
    }


# --- terminal -------------------------------------------------------------------------------------


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def scaled(value, scale):
    return fmt(None if value is None else value * scale)


def format_table(headers, rows):
    """A Markdown table padded into columns: readable on a terminal, pasteable into docs."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        padded = [
            str(cell).ljust(width) if index < 2 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(headers), rule] + [line(row) for row in rows])


def _side_rows(summaries, columns):
    for entry in summaries:
        for side, summary in entry["sides"].items():
            yield entry, side, summary, [scaled(summary[key], scale) for key, _, scale in columns]


def throughput_table(summaries):
    headers = [
        "level",
        "side",
        "runs",
        "completed",
        "errors",
        *(title for _, title, _ in THROUGHPUT_COLUMNS),
        "tok/s min–max",
        "prompt tok",
        *(f"{title} ms" for _, title, _ in E2E_COLUMNS),
    ]
    rows = []
    for entry, side, summary, cells in _side_rows(summaries, THROUGHPUT_COLUMNS):
        rows.append(
            [
                entry["level"],
                side,
                summary["runs"],
                summary["completed"],
                summary["errors"],
                *cells,
                f"{fmt(summary['tok_s_min'])}–{fmt(summary['tok_s_max'])}",
                fmt(summary["prompt_tokens_mean"]),
                *(scaled(summary[key], scale) for key, _, scale in E2E_COLUMNS),
            ]
        )
    return format_table(headers, rows)


def latency_table(summaries):
    headers = ["level", "side", *(title for _, title, _ in LATENCY_COLUMNS)]
    rows = [[entry["level"], side, *cells] for entry, side, _, cells in _side_rows(summaries, LATENCY_COLUMNS)]
    return format_table(headers, rows)


def format_ratio(ratio):
    if ratio["median"] is None:
        return "–"
    text = f"{ratio['median']:.2f}×"
    if len([value for value in ratio["pairs"] if value is not None]) > 1:
        text += f" ({ratio['min']:.2f}–{ratio['max']:.2f})"
    return text


def ratio_table(summaries):
    rows = [
        [entry["level"], "server/raw", *(format_ratio(entry["ratios"][key]) for key, _ in RATIO_COLUMNS)]
        for entry in summaries
        if "ratios" in entry
    ]
    if not rows:
        return ""
    return format_table(["level", "", *(title for _, title in RATIO_COLUMNS)], rows)


def format_health(health):
    if not health:
        return ""
    return (
        f"Health probe (GET /v2/health/live every 50 ms during the server runs at {health['level']}): "
        f"{health['count']} answers, p50 {scaled(health['p50_s'], 1000)} ms, "
        f"p99 {scaled(health['p99_s'], 1000)} ms, max {scaled(health['max_s'], 1000)} ms, "
        f"{health['over_50ms']} over 50 ms, {health['over_100ms']} over 100 ms, {health['failures']} failed."
    )


def format_report(summaries, health=None, title=""):
    """Everything printed on stdout at the end: the tables, then notes."""
    parts = [title] if title else []
    parts += [
        "Throughput (medians over the runs; E2E latency in ms)",
        throughput_table(summaries),
        "",
        "Latency (ms, medians over the runs)",
        latency_table(summaries),
    ]
    ratios = ratio_table(summaries)
    if ratios:
        parts += [
            "",
            "Server / raw engine (median of the per-pair ratios, min–max in brackets; "
            "tok/s and req/s: higher is better, latencies: lower is better)",
            ratios,
        ]
    if health:
        parts += ["", format_health(health)]
    counted = sum(summary["tokens_counted_from_chunks"] for entry in summaries for summary in entry["sides"].values())
    if counted:
        parts += [
            "",
            f"Note: the server sent no usage chunk for {counted} request(s); their output tokens are "
            "counted as content chunks (one chunk may hold several tokens, so tok/s and TPOT may be off).",
        ]
    errors = sum(summary["errors"] for entry in summaries for summary in entry["sides"].values())
    if errors:
        parts += [
            "",
            f"{errors} request(s) failed; they count only as errors (the first error of each run is in the "
            "JSON report and on stderr).",
        ]
    return "\n".join(parts)


# --- JSON -----------------------------------------------------------------------------------------


def _version(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_revision():
    """The source tree's commit (+dirty), when ovserve runs from a git checkout."""
    tree = Path(__file__).resolve().parents[2]
    if not (tree / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if head.returncode == 0 else None


def environment():
    """Where the numbers were measured: versions, machine, load (a busy machine explains a lot)."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "ovserve": _version("ovserve"),
        "openvino_genai": _version("openvino-genai"),
        "git": _git_revision(),
    }


def run_for_json(run):
    return {**run, "level": run["level"].label, "kind": run["level"].kind, "value": run["level"].to_json()}


def write_json(path, report):
    Path(path).write_text(json.dumps(report, indent=1, allow_nan=False), encoding="utf-8")
