"""The benchmark's runs, in order: for each level, each repeat, the raw side then the server side.

The sides alternate (raw, server, raw, server, ...) because a shared machine's throughput drifts
between runs by ~10%: a pair measured back to back is fairer than two blocks measured minutes apart.
Both runs of a pair get the same prompts and the same arrival times; each pair gets prompts of its
own so a prefix cache can't favour later runs. Warm-up requests come first and are not counted.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Optional

from ovserve.bench import client, metrics, raw, schedule
from ovserve.bench.probe import HealthProbe
from ovserve.bench.workload import Workload

DEFAULT_RATE_REQUESTS = 32


@dataclass
class Plan:
    levels: list  # of schedule.Level, all of one kind
    sides: list  # "raw" and/or "server", in the order they run
    workload: Workload
    repeats: int = 1
    requests: Optional[int] = None  # per run; default: see requests_for
    rounds: int = 3  # closed loop without --requests: rounds * C requests (at least 8)
    warmup: int = 4
    endpoint: Optional[client.Endpoint] = None
    model: Optional[str] = None
    engine_options: dict = field(default_factory=dict)  # of the raw side
    probe_health: bool = False
    timeout_s: float = client.REQUEST_TIMEOUT_S

    def requests_for(self, level):
        if self.requests:
            return self.requests
        if level.kind == "concurrency":
            return max(self.rounds * int(level.value), 8)
        return DEFAULT_RATE_REQUESTS

    @property
    def probe_level(self):
        return max(self.levels, key=lambda level: level.value)

    def total_runs(self):
        return len(self.levels) * self.repeats * len(self.sides)


class Benchmark:
    def __init__(self, plan, progress, workdir):
        self.plan = plan
        self.progress = progress
        self.workdir = workdir

    def run(self):
        """Every run (a list of run dicts with records and metrics), in the order they ran."""
        runs = []
        for level in self.plan.levels:
            count = self.plan.requests_for(level)
            for repeat in range(self.plan.repeats):
                prompts = self.plan.workload.prompts(count, level.label, repeat)
                warmup = self.plan.workload.prompts(self.plan.warmup, level.label, repeat, "warmup")
                offsets = None
                if level.kind == "rate":
                    offsets = schedule.poisson_offsets(
                        count, level.value, f"{self.plan.workload.seed}-arrivals-{level.label}-{repeat}"
                    )
                for side in self.plan.sides:
                    runs.append(self._one_run(side, level, repeat, prompts, warmup, offsets))
        return runs

    def _one_run(self, side, level, repeat, prompts, warmup, offsets):
        label = f"{level.label} #{repeat + 1} {side}"
        self.progress.start_run(label, len(prompts) if side == "server" else 0)
        if side == "raw":
            result = self._raw_run(level, prompts, warmup, offsets)
        else:
            result = self._server_run(level, prompts, warmup, offsets)
        run = {"side": side, "level": level, "repeat": repeat, **result}
        run["metrics"] = metrics.summarize(run["records"], run["wall_time_s"])
        self.progress.finish_run(describe_run(label, run))
        return run

    def _raw_run(self, level, prompts, warmup, offsets):
        spec = {
            "engine": self.plan.engine_options,
            "prompts": prompts,
            "warmup_prompts": warmup,
            "max_tokens": self.plan.workload.max_tokens,
            "ignore_eos": self.plan.workload.ignore_eos,
        }
        if offsets is None:
            spec["concurrency"] = int(level.value)
        else:
            spec["offsets"] = offsets
        return raw.run_raw(spec, self.workdir)

    def _server_run(self, level, prompts, warmup, offsets):
        plan = self.plan
        probe = HealthProbe(plan.endpoint) if plan.probe_health and level == plan.probe_level else None

        async def warm_then_measure():
            if warmup:
                warm, _, _ = await schedule.closed_loop(sender(plan), warmup, len(warmup))
                failed = [record["error"] for record in warm if record["error"]]
                if failed:
                    self.progress.note(f"warning: {len(failed)} warm-up request(s) failed, e.g. {failed[0]}")
            if probe:
                probe.start()
            try:
                return await schedule.run_level(sender(plan, self.progress.request_done), prompts, level, offsets)
            finally:
                if probe:
                    probe.stop()

        records, start, wall = asyncio.run(warm_then_measure())
        result = {"records": raw.rebase(records, start), "wall_time_s": wall}
        if probe:
            result["health"] = probe.results()
        return result


def sender(plan, on_done=None):
    """`send(prompt)`: one streaming chat request to the plan's server, then `on_done()`."""

    async def send(prompt):
        record = await client.stream_chat(
            plan.endpoint, plan.model, prompt, plan.workload.max_tokens, plan.workload.ignore_eos, plan.timeout_s
        )
        if on_done:
            on_done()
        return record

    return send


def describe_run(label, run):
    """One line per run: the headline numbers and the first error, if any."""
    found = run["metrics"]

    def ms(key):
        return "–" if found[key] is None else f"{found[key] * 1000:.1f} ms"

    tok_s = "–" if found["output_tokens_per_s"] is None else f"{found['output_tokens_per_s']:.1f}"
    line = (
        f"{label}: {tok_s} tok/s, {found['completed']}/{found['requests']} completed, TTFT p50 {ms('ttft_p50_s')}, "
        f"ITL p50 {ms('itl_p50_s')}"
    )
    errors = [record["error"] for record in run["records"] if record["error"]]
    if errors:
        line += f"; {len(errors)} failed, first: {errors[0][:200]}"
    return line
