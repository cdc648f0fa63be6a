"""The README's quick-start snippets, run exactly as written (only the address changes) against the default
servable: bounded by the servable's default max_tokens and answered in seconds, by the server's own counters.

Before issue 10 the streaming snippet sampled at OpenAI's temperature 1 with no length limit: the 135M model
drifted into garbage until the 8,192-token context was full, for minutes.
"""

import contextlib
import io
import re

import requests

from tests.e2e.conftest import DEFAULT_MODEL
from tests.e2e.server import REPO
from tests.e2e.test_metrics import value, wait_until_idle

README = (REPO / "README.md").read_text()
README_ADDRESS = "http://localhost:8000"
# Generous on a busy 2-core machine: 512 tokens take ~6 s alone; the old default took minutes.
LONGEST_SECONDS = 90


def quick_start_blocks(language):
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", quick_start, re.S)


def default_max_tokens(base_url):
    card = requests.get(f"{base_url}/v3/models/{DEFAULT_MODEL}", timeout=30).json()
    return card["generation_defaults"]["max_tokens"]


def counters(base_url):
    samples = wait_until_idle(base_url)
    return {
        series: value(samples, series, name=DEFAULT_MODEL)
        for series in (
            "ovserve_llm_generated_tokens_total",
            "ovserve_llm_request_latency_seconds_sum",
            "ovserve_llm_request_latency_seconds_count",
        )
    }


def moved(before, after):
    return {series: after[series] - before[series] for series in before}


def test_the_readme_curl_answers_within_the_default_length(base_url):
    (curl,) = [block for block in quick_start_blocks("bash") if block.lstrip().startswith("curl")]
    url = re.search(r"curl (\S+)", curl).group(1).replace(README_ADDRESS, base_url)
    payload = re.search(r"-d '(.*?)'", curl, re.S).group(1)
    assert "max_tokens" not in payload and "temperature" not in payload  # the servable's defaults apply
    before = counters(base_url)
    response = requests.post(url, data=payload, headers={"Content-Type": "application/json"}, timeout=300)
    assert response.status_code == 200, response.text
    answer = response.json()
    after = moved(before, counters(base_url))
    assert answer["choices"][0]["finish_reason"] in ("stop", "length")
    assert 0 < answer["usage"]["completion_tokens"] <= default_max_tokens(base_url)
    assert after["ovserve_llm_generated_tokens_total"] == answer["usage"]["completion_tokens"]
    assert after["ovserve_llm_request_latency_seconds_count"] == 1
    assert after["ovserve_llm_request_latency_seconds_sum"] < LONGEST_SECONDS


def test_the_readme_streaming_snippet_prints_a_bounded_answer_in_seconds(base_url):
    (snippet,) = [block for block in quick_start_blocks("python") if "stream=True" in block]
    assert README_ADDRESS in snippet
    before = counters(base_url)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet.replace(README_ADDRESS, base_url), "README.md", "exec"), {})
    after = moved(before, counters(base_url))
    assert printed.getvalue().strip()
    assert 0 < after["ovserve_llm_generated_tokens_total"] <= default_max_tokens(base_url)
    assert after["ovserve_llm_request_latency_seconds_count"] == 1
    assert after["ovserve_llm_request_latency_seconds_sum"] < LONGEST_SECONDS
