"""`ovserve bench`'s summaries, terminal tables, JSON and progress output, on synthetic runs."""

import io
import json

import pytest

from ovserve.bench import metrics, report, schedule
from ovserve.bench.progress import Progress


def synthetic_run(side, level, repeat, gap, requests=4, tokens=8):
    """A run whose requests send at 0 and get `tokens` chunks `gap` s apart, after one gap."""
    records = [
        {
            "send": 0.0,
            "chunks": [gap * (i + 1) for i in range(tokens)],
            "end": None,
            "tokens": tokens,
            "prompt_tokens": 90,
            "usage": True,
            "error": None,
        }
        for _ in range(requests)
    ]
    wall = gap * tokens
    return {
        "side": side,
        "level": level,
        "repeat": repeat,
        "records": records,
        "wall_time_s": wall,
        "metrics": metrics.summarize(records, wall),
    }


LEVELS = schedule.parse_concurrencies("1,4")


@pytest.fixture
def runs():
    found = []
    for level in LEVELS:
        for repeat, (raw_gap, server_gap) in enumerate([(0.010, 0.011), (0.010, 0.012), (0.010, 0.010)]):
            found.append(synthetic_run("raw", level, repeat, raw_gap))
            found.append(synthetic_run("server", level, repeat, server_gap))
    return found


def test_summaries_take_medians_and_sum_counts(runs):
    summaries = report.summarize_levels(runs, LEVELS, ["raw", "server"])
    assert [entry["level"] for entry in summaries] == ["c=1", "c=4"]
    server = summaries[0]["sides"]["server"]
    assert server["runs"] == 3 and server["completed"] == 12 and server["errors"] == 0
    assert server["itl_p50_s"] == pytest.approx(0.011)  # median of 0.011, 0.012, 0.010
    assert server["tok_s_min"] == pytest.approx(32 / 0.096) and server["tok_s_max"] == pytest.approx(32 / 0.080)
    assert server["prompt_tokens_mean"] == pytest.approx(90)


def test_ratios_are_medians_of_per_pair_ratios_with_their_spread(runs):
    ratios = report.summarize_levels(runs, LEVELS, ["raw", "server"])[0]["ratios"]
    itl = ratios["itl_p50_s"]
    assert itl["pairs"] == pytest.approx([1.1, 1.2, 1.0])
    assert (itl["median"], itl["min"], itl["max"]) == pytest.approx((1.1, 1.0, 1.2))
    assert ratios["output_tokens_per_s"]["median"] == pytest.approx(1 / 1.1)
    assert report.format_ratio(itl) == "1.10× (1.00–1.20)"


def test_the_terminal_report(runs):
    summaries = report.summarize_levels(runs, LEVELS, ["raw", "server"])
    health = {"level": "c=4", "failures": 0, **metrics.latency_summary([0.002, 0.003, 0.07, 0.12])}
    text = report.format_report(summaries, health, title="ovserve bench: m")
    assert text.startswith("ovserve bench: m")
    for expected in (
        "| level | side",
        "TTFT p90",
        "ITL p99",
        "E2E p50",
        "req/s",
        "| c=4   | server/raw |",
        "1.10× (1.00–1.20)",
        "2 over 50 ms, 1 over 100 ms",
        "4 answers",
    ):
        assert expected in text
    assert "usage chunk" not in text and "failed" not in text.split("Health")[0]


def test_tables_are_aligned():
    table = report.format_table(["level", "side", "tok/s"], [["c=1", "server", "12.5"], ["c=32", "raw", "1234.0"]])
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1].startswith("|---") and lines[3].endswith("| 1234.0 |")


def test_the_report_says_when_tokens_were_counted_from_chunks():
    level = schedule.Level("rate", float("inf"))
    run = synthetic_run("server", level, 0, 0.01)
    for record in run["records"]:
        record["usage"] = False
    run["records"][0]["error"] = "HTTP 500: boom"
    run["metrics"] = metrics.summarize(run["records"], run["wall_time_s"])
    text = report.format_report(report.summarize_levels([run], [level], ["server"]))
    assert "no usage chunk for 3 request(s)" in text
    assert "1 request(s) failed" in text and "inf req/s" in text


def test_json_report_holds_levels_as_json_can(tmp_path, runs):
    level = schedule.Level("rate", float("inf"))
    summaries = report.summarize_levels([synthetic_run("server", level, 0, 0.01)], [level], ["server"])
    path = tmp_path / "out.json"
    report.write_json(
        path,
        {"summary": summaries, "runs": [report.run_for_json(run) for run in runs], "environment": report.environment()},
    )
    document = json.loads(path.read_text())
    assert document["summary"][0]["value"] == "inf"
    assert document["runs"][0]["level"] == "c=1" and document["runs"][0]["value"] == 1
    assert document["environment"]["cpu_count"] >= 1


def test_progress_without_a_terminal_prints_one_line_per_run():
    out = io.StringIO()
    progress = Progress(2, out=out)
    progress.start_run("c=1 #1 server", 2)
    progress.request_done()
    progress.request_done()
    progress.finish_run("c=1 #1 server: 10.0 tok/s")
    assert out.getvalue() == "[1/2] c=1 #1 server: 10.0 tok/s\n"


class FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_progress_on_a_terminal_draws_a_bar_in_place():
    out = FakeTerminal()
    progress = Progress(1, out=out)
    progress.start_run("c=8 #1 server", 4)
    progress.request_done()
    progress.request_done()  # too soon after the last draw: not redrawn
    for _ in range(2):
        progress.request_done()  # the last one always is
    progress.finish_run("done")
    text = out.getvalue()
    assert "\r\033[K[1/1] c=8 #1 server " + "·" * 24 + " 0/4 requests" in text
    assert "█" * 24 + " 4/4 requests" in text
    assert text.endswith("\r\033[K[1/1] done\n")
