"""The benchmark as a picture: one PNG with throughput and latencies against the load level.

Four panels: output tokens/s (the band is the min-max over the repeats), TTFT p50/p99, ITL p50/p99,
and the server/raw ratios when the raw side ran (E2E latency p50/p99 otherwise). Server and raw
share the axes, one colour each; p50 is a solid line, p99 a dashed one. matplotlib is imported
here only, with the Agg backend, so the command works without a display.
"""

import math

SIDE_COLOURS = {"server": "#1f6fb4", "raw": "#e07b1a"}
RATIO_SERIES = (
    ("output_tokens_per_s", "tok/s", "#2a9d4b"),
    ("ttft_p50_s", "TTFT p50", "#b03a8c"),
    ("itl_p50_s", "ITL p50", "#5a5ad0"),
)
WIDE_RANGE = 30  # a latency axis goes logarithmic when its max/min exceeds this
MIN_RATIO_SPAN = 0.2  # the ratio axis shows at least 0.8-1.2, so noise doesn't look like a trend


def x_positions(summaries):
    """x of each level and the tick labels; a rate of inf sits one step right of the largest rate."""
    values = [entry["value"] for entry in summaries]
    finite = [value for value in values if value != "inf"]
    beyond = max(finite) * 2 if finite else 1.0
    xs = [beyond if value == "inf" else float(value) for value in values]
    labels = ["inf" if value == "inf" else f"{value:g}" for value in values]
    return xs, labels


def _series(summaries, side, key, scale=1.0):
    values = []
    for entry in summaries:
        value = entry["sides"].get(side, {}).get(key)
        values.append(math.nan if value is None else value * scale)
    return values


def _x_axis(axis, xs, labels, xlabel):
    if min(xs) > 0 and max(xs) / min(xs) >= 4:
        axis.set_xscale("log")
    axis.set_xticks(xs)
    axis.set_xticklabels(labels)
    axis.minorticks_off()
    axis.set_xlabel(xlabel)
    axis.grid(True, which="major", alpha=0.3)


def _y_axis_for(axis, values):
    present = [value for value in values if value == value and value > 0]  # drop NaN and zero
    if present and max(present) / min(present) > WIDE_RANGE:
        axis.set_yscale("log")


def _percentile_panel(axis, summaries, sides, xs, name, title):
    plotted = []
    for side in sides:
        for q, style, marker, face in ((50, "-", "o", SIDE_COLOURS[side]), (99, "--", "^", "white")):
            values = _series(summaries, side, f"{name}_p{q}_s", 1000)
            axis.plot(
                xs, values, style, marker=marker, markerfacecolor=face, color=SIDE_COLOURS[side], label=f"{side} p{q}"
            )
            plotted += values
    _y_axis_for(axis, plotted)
    axis.set_title(title)
    axis.set_ylabel("milliseconds")
    axis.legend(fontsize="small")


def _throughput_panel(axis, summaries, sides, xs):
    for side in sides:
        axis.plot(
            xs, _series(summaries, side, "output_tokens_per_s"), "-", marker="o", color=SIDE_COLOURS[side], label=side
        )
        axis.fill_between(
            xs,
            _series(summaries, side, "tok_s_min"),
            _series(summaries, side, "tok_s_max"),
            color=SIDE_COLOURS[side],
            alpha=0.15,
            linewidth=0,
        )
    axis.set_ylim(bottom=0)
    axis.set_title("Output throughput (higher is better)")
    axis.set_ylabel("tokens / s")
    axis.legend(fontsize="small")


def _ratio_panel(axis, summaries, xs):
    axis.axhline(1.0, color="#555555", linewidth=1)
    for key, label, colour in RATIO_SERIES:
        ratios = [entry.get("ratios", {}).get(key, {}) for entry in summaries]
        medians = [math.nan if ratio.get("median") is None else ratio["median"] for ratio in ratios]
        low = [0.0 if ratio.get("min") is None else median - ratio["min"] for ratio, median in zip(ratios, medians)]
        high = [0.0 if ratio.get("max") is None else ratio["max"] - median for ratio, median in zip(ratios, medians)]
        axis.errorbar(xs, medians, yerr=[low, high], marker="o", capsize=3, color=colour, label=label)
    low_limit, high_limit = axis.get_ylim()
    axis.set_ylim(min(low_limit, 1 - MIN_RATIO_SPAN), max(high_limit, 1 + MIN_RATIO_SPAN))
    axis.set_title("Server / raw engine (median, min–max of pairs)")
    axis.set_ylabel("ratio (1.0 = as fast as the engine)")
    axis.legend(fontsize="small")


def write_chart(path, summaries, sides, title, subtitle=""):
    """Draw the summaries (see report.summarize_levels) into a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    kind = summaries[0]["kind"]
    xlabel = "concurrent streams (closed loop)" if kind == "concurrency" else "request rate (requests / s, Poisson)"
    xs, labels = x_positions(summaries)
    figure, axes = pyplot.subplots(2, 2, figsize=(13, 9), constrained_layout=True)
    _throughput_panel(axes[0][0], summaries, sides, xs)
    _percentile_panel(axes[0][1], summaries, sides, xs, "ttft", "Time to first token (lower is better)")
    _percentile_panel(axes[1][0], summaries, sides, xs, "itl", "Inter-token latency (lower is better)")
    if any("ratios" in entry for entry in summaries):
        _ratio_panel(axes[1][1], summaries, xs)
    else:
        _percentile_panel(axes[1][1], summaries, sides, xs, "e2e", "End-to-end request latency (lower is better)")
    for axis in axes.flat:
        _x_axis(axis, xs, labels, xlabel)
    figure.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize="large")
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
