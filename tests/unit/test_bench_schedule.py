"""`ovserve bench`'s load levels and arrival schedules: closed loop, seeded Poisson arrivals."""

import asyncio
import math
import time

import pytest

from ovserve.bench import schedule


def test_poisson_mean_gap_is_one_over_the_rate():
    offsets = schedule.poisson_offsets(4000, rate=5.0, seed="fixed")
    gaps = [later - earlier for earlier, later in zip(offsets, offsets[1:])]
    assert offsets[0] == 0.0
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 5.0, rel=0.05)
    # exponential gaps: their standard deviation equals their mean
    mean = sum(gaps) / len(gaps)
    deviation = math.sqrt(sum((gap - mean) ** 2 for gap in gaps) / len(gaps))
    assert deviation == pytest.approx(mean, rel=0.1)
    assert all(gap >= 0 for gap in gaps)


def test_poisson_offsets_are_reproducible_per_seed():
    assert schedule.poisson_offsets(50, 2.0, "a") == schedule.poisson_offsets(50, 2.0, "a")
    assert schedule.poisson_offsets(50, 2.0, "a") != schedule.poisson_offsets(50, 2.0, "b")


def test_an_infinite_rate_sends_everything_at_once():
    assert schedule.poisson_offsets(5, math.inf, "a") == [0.0] * 5


def test_levels_parse_and_label():
    assert [level.label for level in schedule.parse_concurrencies("1, 8,32")] == ["c=1", "c=8", "c=32"]
    rates = schedule.parse_rates("0.5,2,inf")
    assert [level.label for level in rates] == ["0.5 req/s", "2 req/s", "inf req/s"]
    assert rates[-1].to_json() == "inf" and rates[0].to_json() == 0.5


@pytest.mark.parametrize("text", ["0", "1.5", "x", "", "-2"])
def test_bad_concurrencies_are_refused(text):
    with pytest.raises(ValueError):
        schedule.parse_concurrencies(text)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "fast", ""])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError):
        schedule.parse_rates(text)


def test_closed_loop_keeps_exactly_c_in_flight():
    in_flight, peak = 0, 0

    async def send(prompt):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return prompt

    records, _, wall = asyncio.run(schedule.closed_loop(send, list(range(10)), 3))
    assert records == list(range(10)) and peak == 3 and wall > 0


def test_open_loop_sends_at_the_offsets_whatever_is_running():
    sent = {}

    async def send(prompt):
        sent[prompt] = time.perf_counter()
        await asyncio.sleep(0.2)  # longer than the gaps: an open loop doesn't wait for it
        return prompt

    async def scenario():
        return await schedule.open_loop(send, [0, 1, 2], [0.0, 0.05, 0.1])

    records, start, wall = asyncio.run(scenario())
    assert records == [0, 1, 2]
    assert sent[0] - start < 0.05 and sent[1] - start >= 0.045 and sent[2] - start >= 0.095  # never early
    assert sent[2] < sent[0] + 0.2  # sent while the first one still ran
    assert wall >= 0.3
