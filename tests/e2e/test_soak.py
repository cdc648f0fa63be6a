"""Soak: a bounded run of mixed load (streaming, unary, cancelled and bad requests from 8 clients)
ends with every good request complete and correct, every bad one a 4xx, memory flat and the server
idle. Part of `make test` (OVSERVE_SOAK_SECONDS, default 60); `make soak` runs it for 120 s.
"""

import json
import os
import time

import pytest
import requests

from tests.e2e.conftest import DEFAULT_MODEL
from tests.soak import procs
from tests.soak.load import BAD_KINDS, CANCEL_KINDS, GOOD_KINDS, run_load, wait_idle

SOAK_SECONDS = float(os.environ.get("OVSERVE_SOAK_SECONDS", "60"))
WARMUP_SECONDS = min(20.0, max(5.0, SOAK_SECONDS / 6))
CLIENTS = 8
IDLE_TIMEOUT_SECONDS = 15
# Memory growth over the soak, summed over the supervisor and all its descendants, leaving out the
# engine's KV cache. The KV cache (cache_size 2 GB for this model) is reserved at the first request
# as one anonymous mapping (see tests/soak/procs.py) whose pages turn resident as blocks are first
# used. Under steady load it kept growing, 60-120 MB per minute on a shared 2-core machine, with
# prefix caching on or off, although cache usage is back to 0 at idle: the engine apparently hands
# out never-used blocks before reusing freed ones, until all of cache_size is resident (~15-30 min
# here; faster machines get there faster). That is configured memory being touched, not a leak, and a
# bound on total RSS would only measure the machine's speed: it is reported (kv_pool) and bounded by
# the mapping's size. The rest, measured on 60 s soaks after the warm-up: engine
# +15-22 MB on a fresh or lightly used server, +3-5 MB per minute on one warmed by 10 minutes of load
# (one malloc arena and the heap creeping: allocator caches, not yet a proven leak); HTTP worker,
# master and supervisor +0.0 MB. 64 MB total is ~3x the worst measured, room for a 120 s `make soak`;
# the HTTP processes (where a retained stream, queue or greenlet per request would pile up) get 16 MB.
RSS_GROWTH_BOUND_MB = 64
NON_ENGINE_GROWTH_BOUND_MB = 16
LOG_PROBLEMS = (" ERROR ", " CRITICAL ", "Traceback", "[ERROR]", "[CRITICAL]")


def memory_report(before, after):
    processes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        entry = {"pid": (new or old)["pid"]}
        for key, value in (("before", old), ("after", new)):
            if value:
                entry[f"rss_{key}_mb"] = round(value["rss_kb"] / 1024, 1)
                entry[f"kv_pool_{key}_mb"] = round(value["pool_kb"] / 1024, 1)
        if old and new:
            entry["growth_mb"] = round((new["rss_kb"] - old["rss_kb"]) / 1024, 1)
            entry["growth_without_kv_pool_mb"] = round(
                ((new["rss_kb"] - new["pool_kb"]) - (old["rss_kb"] - old["pool_kb"])) / 1024, 1
            )
        processes[name] = entry

    def total(tree, field):
        return round(procs.total_kb(tree, field) / 1024, 1)

    return {
        "processes": processes,
        "total_before_mb": total(before, "rss_kb"),
        "total_after_mb": total(after, "rss_kb"),
        "total_growth_mb": round(total(after, "rss_kb") - total(before, "rss_kb"), 1),
        "kv_pool_growth_mb": round(total(after, "pool_kb") - total(before, "pool_kb"), 1),
        "kv_pool_reserved_mb": total(after, "pool_reserved_kb"),
        "growth_without_kv_pool_mb": round(
            (total(after, "rss_kb") - total(after, "pool_kb")) - (total(before, "rss_kb") - total(before, "pool_kb")), 1
        ),
        "bound_without_kv_pool_mb": RSS_GROWTH_BOUND_MB,
    }


def log_problems(server, offset):
    if not server.log_path:
        return []
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return [line for line in text.splitlines() if any(marker in line for marker in LOG_PROBLEMS)][:50]


def log_size(server):
    return os.path.getsize(server.log_path) if server.log_path else 0


def print_report(report, path):
    load, memory = report["load"], report["memory"]
    lines = [
        "",
        f"=== soak: {load['seconds_elapsed']} s, {load['clients']} clients, seed {load['seed']}: "
        f"{load['requests_total']} requests ({load['requests_per_second']}/s) ===",
        f"good {load['good_total']} (failed {load['good_failed']}; greedy repeats differing "
        f"{load['greedy_answers_differed']}/{load['greedy_answers_compared']}), "
        f"cancelled {load['cancel_total']} (failed {load['cancel_failed']}), bad {load['bad_total']} "
        f"(failed {load['bad_failed']}, statuses {load['bad_statuses']})",
    ]
    for kind, count in load["requests"].items():
        latency = load["latency"][kind]
        first = f", first token p50 {latency['first_token_p50_ms']} ms" if "first_token_p50_ms" in latency else ""
        lines.append(
            f"  {kind:18} {count:5}  statuses {load['statuses'][kind]}  "
            f"p50 {latency['p50_ms']} ms  p99 {latency['p99_ms']} ms{first}"
        )
    for failure in load["failures"][:10]:
        lines.append(f"  FAILED {failure}")
    lines.append(
        f"memory: total {memory['total_before_mb']} -> {memory['total_after_mb']} MB "
        f"({memory['total_growth_mb']:+} MB; KV pool {memory['kv_pool_growth_mb']:+} MB of "
        f"{memory['kv_pool_reserved_mb']} MB reserved; without it {memory['growth_without_kv_pool_mb']:+} MB, "
        f"bound {RSS_GROWTH_BOUND_MB} MB)"
    )
    for name, entry in memory["processes"].items():
        lines.append(
            f"  {name:45} pid {entry['pid']:>7}  {entry.get('rss_before_mb')} -> {entry.get('rss_after_mb')} MB"
            f"  (KV pool {entry.get('kv_pool_before_mb')} -> {entry.get('kv_pool_after_mb')} MB)"
        )
    idle = report["idle_after"]
    lines.append(
        f"idle after the load: {idle['idle']} in {idle['seconds']} s; log problems: {len(report['log_problems'])}; "
        f"test took {report['test_seconds']} s"
    )
    lines.append(f"summary: {path}")
    print("\n".join(lines))


@pytest.mark.timeout(int(SOAK_SECONDS + WARMUP_SECONDS + 600))
def test_soak_mixed_load_keeps_answers_correct_memory_flat_and_ends_idle(server, tmp_path):
    started = time.monotonic()
    base = server.base
    warmup = run_load(base, DEFAULT_MODEL, WARMUP_SECONDS, CLIENTS, seed=7)
    assert warmup["failures_total"] == 0, warmup["failures"]
    idle, _, stats = wait_idle(base, DEFAULT_MODEL, IDLE_TIMEOUT_SECONDS)
    assert idle, f"not idle after the warm-up: {stats}"
    rss_before = procs.tree_rss(server.process.pid)
    offset = log_size(server)

    load = run_load(base, DEFAULT_MODEL, SOAK_SECONDS, CLIENTS, seed=20240601)

    idle, waited, stats = wait_idle(base, DEFAULT_MODEL, IDLE_TIMEOUT_SECONDS)
    rss_after = procs.tree_rss(server.process.pid)
    ready = requests.get(base + "/v2/health/ready", timeout=10).status_code
    report = {
        "load": load,
        "warmup": {key: warmup[key] for key in ("seconds_elapsed", "requests_total", "requests", "failures_total")},
        "memory": memory_report(rss_before, rss_after),
        "idle_after": {"idle": idle, "seconds": waited, "stats": stats},
        "ready_after": ready,
        "log_problems": log_problems(server, offset),
        "test_seconds": round(time.monotonic() - started, 1),
    }
    path = tmp_path / "soak-summary.json"
    path.write_text(json.dumps(report, indent=2))
    print_report(report, path)

    assert load["good_total"] and load["cancel_total"] and load["bad_total"], load["requests"]
    good_failures = [failure for failure in load["failures"] if failure["kind"] in GOOD_KINDS]
    assert load["good_failed"] == 0, good_failures
    assert all(status.isdigit() and 400 <= int(status) < 500 for status in load["bad_statuses"]), load["bad_statuses"]
    assert load["bad_failed"] == 0, [failure for failure in load["failures"] if failure["kind"] in BAD_KINDS]
    assert load["cancel_failed"] == 0, [failure for failure in load["failures"] if failure["kind"] in CANCEL_KINDS]
    assert idle, f"the server was not idle {IDLE_TIMEOUT_SECONDS} s after the load stopped: {stats}"
    assert ready == 200
    assert {name: entry["pid"] for name, entry in rss_before.items()} == {
        name: entry["pid"] for name, entry in rss_after.items()
    }, "a process died or was restarted during the soak"
    assert report["memory"]["growth_without_kv_pool_mb"] < RSS_GROWTH_BOUND_MB, report["memory"]
    for name, entry in report["memory"]["processes"].items():
        if not name.startswith("engine "):
            assert entry.get("growth_mb", 0) < NON_ENGINE_GROWTH_BOUND_MB, (name, entry)
    assert not report["log_problems"], report["log_problems"]
