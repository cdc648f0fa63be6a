"""`ovserve bench`'s arguments: defaults, the --raw default, chart path, redaction (nothing runs)."""

from pathlib import Path

import pytest

from ovserve.bench import cli as bench_cli
from ovserve.cli import build_parser


def parse(*arguments):
    return build_parser().parse_args(["bench", *arguments])


def test_defaults():
    args = parse()
    assert args.run is bench_cli.run_bench and args.ignore_eos is True and args.max_tokens == 64
    assert [level.label for level in bench_cli._levels(args)] == ["c=1", "c=8", "c=32"]
    assert bench_cli._workload(args).input_words == 60
    assert bench_cli._raw_argument(args) is None and bench_cli._chart_path(args) is None


def test_load_options():
    args = parse("--request-rate", "1,inf", "--num-prompts", "12", "--input-tokens", "200", "--no-ignore-eos")
    assert [level.label for level in bench_cli._levels(args)] == ["1 req/s", "inf req/s"]
    workload = bench_cli._workload(args)
    assert (args.requests, workload.input_words, workload.ignore_eos) == (12, 200, False)
    with pytest.raises(SystemExit):
        parse("--concurrency", "1", "--request-rate", "2")  # one kind of level per sweep
    for bad in (("--input-words", "0"), ("--input-tokens", "0"), ("--max-tokens", "0")):
        with pytest.raises(bench_cli.UsageError):
            bench_cli._workload(parse(*bad))


def test_raw_defaults_to_the_serve_config_then_the_local_one(tmp_path, monkeypatch):
    assert bench_cli._raw_argument(parse("--raw", "m.gguf")) == "m.gguf"
    assert bench_cli._raw_argument(parse("--serve", "x.json", "--raw")) == "x.json"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(bench_cli.UsageError, match="--raw needs"):
        bench_cli._raw_argument(parse("--raw"))
    (tmp_path / "config.json").write_text("{}")
    assert bench_cli._raw_argument(parse("--raw-only")) == "config.json"


def test_the_chart_goes_beside_the_json_unless_told_otherwise():
    assert bench_cli._chart_path(parse("--json", "out/b.json")) == Path("out/b.png")
    assert bench_cli._chart_path(parse("--json", "b.json", "--chart", "c.png")) == Path("c.png")
    assert bench_cli._chart_path(parse("--json", "b.json", "--no-chart")) is None


def test_the_api_key_stays_out_of_the_report():
    assert bench_cli._redacted(["ovserve", "bench", "--api-key", "sk-1", "--api-key=sk-2", "--url", "u"]) == [
        "ovserve",
        "bench",
        "--api-key",
        "(redacted)",
        "--api-key=(redacted)",
        "--url",
        "u",
    ]
