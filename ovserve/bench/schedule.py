"""When requests are sent: a closed loop of C streams, or Poisson arrivals at R requests/s.

- closed loop (`--concurrency C`): C workers each send their next request as soon as their previous
  one ends, until every prompt is sent; the load is exactly C requests in flight;
- open loop (`--request-rate R`): request i is sent at a fixed offset from the run's start, whatever
  happens to the others; the gaps between offsets are exponential with mean 1/R (a Poisson process,
  as benchmark_serving's), drawn from a seeded RNG so every run and both sides of a pair get the
  same arrivals. R = inf sends every request at once.
"""

import asyncio
import math
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One load level of a sweep: `kind` is "concurrency" (value: streams) or "rate" (value: req/s)."""

    kind: str
    value: float

    @property
    def label(self):
        if self.kind == "concurrency":
            return f"c={int(self.value)}"
        return f"{format_rate(self.value)} req/s"

    def to_json(self):
        """The value as JSON can hold it (JSON has no infinity)."""
        return "inf" if math.isinf(self.value) else self.value


def format_rate(rate):
    return "inf" if math.isinf(rate) else f"{rate:g}"


def _numbers(text, option):
    values = [part.strip() for part in str(text).split(",") if part.strip()]
    if not values:
        raise ValueError(f"{option} needs at least one value")
    return values


def parse_concurrencies(text):
    """Levels of '1,8,32': whole numbers of at least 1."""
    levels = []
    for value in _numbers(text, "--concurrency"):
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"--concurrency: '{value}' is not a whole number of at least 1")
        levels.append(Level("concurrency", int(value)))
    return levels


def parse_rates(text):
    """Levels of '0.5,2,inf': requests per second above 0, or inf."""
    levels = []
    for value in _numbers(text, "--request-rate"):
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not rate > 0 or math.isnan(rate):
            raise ValueError(f"--request-rate: '{value}' is not a rate above 0 (or inf)")
        levels.append(Level("rate", rate))
    return levels


def poisson_offsets(count, rate, seed):
    """Send times (s from the run's start) of `count` Poisson arrivals at `rate`/s; the first at 0."""
    if math.isinf(rate):
        return [0.0] * count
    rng = random.Random(seed)
    offsets, moment = [], 0.0
    for _ in range(count):
        offsets.append(moment)
        moment += rng.expovariate(rate)
    return offsets


async def closed_loop(send, prompts, concurrency):
    """Run `send(prompt)` for every prompt, `concurrency` at a time, each worker back to back.

    Returns (records in prompt order, start time, wall time).
    """
    order = iter(range(len(prompts)))
    records = [None] * len(prompts)

    async def worker():
        for index in order:  # the iterator is shared: each worker takes the next prompt
            records[index] = await send(prompts[index])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prompts)))))
    return records, start, time.perf_counter() - start


async def open_loop(send, prompts, offsets):
    """Send prompt i at `offsets[i]` s after the start, whatever is still running.

    Returns (records in prompt order, start time, wall time).
    """
    records = [None] * len(prompts)

    async def one(index):
        records[index] = await send(prompts[index])

    start = time.perf_counter()
    tasks = []
    for index, offset in enumerate(offsets):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return records, start, time.perf_counter() - start


def run_level(send, prompts, level, offsets=None):
    """The coroutine of one measured run at `level` (offsets: the Poisson send times of a rate level)."""
    if level.kind == "concurrency":
        return closed_loop(send, prompts, int(level.value))
    return open_loop(send, prompts, offsets)
