"""`ovserve bench` as a user runs it: against the running e2e server, and with the raw engine beside it."""

import json
import subprocess
import sys

from tests.e2e.conftest import DEFAULT_MODEL
from tests.e2e.server import FIXTURES, REPO, free_port

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench(*arguments, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "ovserve", "bench", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bench_against_the_server(server, tmp_path):
    out = tmp_path / "bench.json"
    result = bench(
        "--url",
        server.base + "/v3",
        "--concurrency",
        "1,2",
        "--requests",
        "4",
        "--max-tokens",
        "8",
        "--warmup",
        "1",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "| level | side" in result.stdout and "| c=2 " in result.stdout and "TTFT p99" in result.stdout
    assert "Health probe" in result.stdout  # ovserve answers /v2/health/live
    document = json.loads(out.read_text())
    assert document["environment"]["model"] == DEFAULT_MODEL
    assert [entry["level"] for entry in document["summary"]] == ["c=1", "c=2"]
    assert [(run["level"], run["side"]) for run in document["runs"]] == [("c=1", "server"), ("c=2", "server")]
    for run in document["runs"]:
        found = run["metrics"]
        assert found["requests"] == found["completed"] == 4 and found["errors"] == 0
        assert found["output_tokens"] == 4 * 8  # ignore_eos: every answer is max_tokens long
        assert all(record["tokens"] == 8 and record["usage"] for record in run["records"])
        assert 0 < found["ttft_p50_s"] <= found["e2e_p50_s"] and found["output_tokens_per_s"] > 0
    assert document["health"]["level"] == "c=2" and document["health"]["count"] >= 1
    assert out.with_suffix(".png").read_bytes().startswith(PNG_SIGNATURE)


def test_bench_with_the_raw_engine(server, tmp_path):
    out = tmp_path / "raw.json"
    result = bench(
        "--url",
        server.base + "/v3",
        "--raw",
        str(FIXTURES / "config.json"),
        "--concurrency",
        "2",
        "--requests",
        "2",
        "--repeats",
        "1",
        "--max-tokens",
        "8",
        "--warmup",
        "0",
        "--json",
        str(out),
        "--no-chart",
    )
    assert result.returncode == 0, result.stderr
    assert "server/raw" in result.stdout
    document = json.loads(out.read_text())
    assert [run["side"] for run in document["runs"]] == ["raw", "server"]
    for run in document["runs"]:
        assert run["metrics"]["completed"] == 2 and run["metrics"]["output_tokens"] == 16
    assert document["summary"][0]["ratios"]["output_tokens_per_s"]["median"] > 0
    assert f"'{DEFAULT_MODEL}'" in document["environment"]["raw_target"]
    assert document["environment"]["engine_options"]["models_path"].endswith(".gguf")
    assert not out.with_suffix(".png").exists()


def test_bench_names_an_unreachable_server():
    result = bench("--url", f"http://127.0.0.1:{free_port()}/v3", "--requests", "1", timeout=60)
    assert result.returncode == 1
    assert "pass --model" in result.stderr and "Traceback" not in result.stderr
