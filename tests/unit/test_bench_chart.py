"""`ovserve bench --chart`: a PNG from synthetic summaries, with and without the raw side."""

import pytest

from ovserve.bench import report, schedule
from tests.unit.test_bench_report import synthetic_run

pytest.importorskip("matplotlib")
from ovserve.bench.chart import write_chart, x_positions  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def summaries_of(levels, sides):
    runs = [
        synthetic_run(side, level, repeat, 0.01 * (index + 1) * (1.1 if side == "server" else 1))
        for index, level in enumerate(levels)
        for repeat in range(2)
        for side in sides
    ]
    return report.summarize_levels(runs, levels, sides)


def test_a_concurrency_sweep_with_the_raw_side(tmp_path):
    path = tmp_path / "bench.png"
    summaries = summaries_of(schedule.parse_concurrencies("1,8,32"), ["raw", "server"])
    write_chart(path, summaries, ["raw", "server"], "ovserve bench: m", "http://x/v3 · 90 prompt tokens")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000


def test_a_rate_sweep_of_the_server_alone(tmp_path):
    path = tmp_path / "rates.png"
    summaries = summaries_of(schedule.parse_rates("0.5,2,inf"), ["server"])
    write_chart(path, summaries, ["server"], "ovserve bench: m")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_an_infinite_rate_sits_right_of_the_largest():
    summaries = [{"value": 0.5}, {"value": 4}, {"value": "inf"}]
    assert x_positions(summaries) == ([0.5, 4.0, 8.0], ["0.5", "4", "inf"])
