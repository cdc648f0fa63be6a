"""The pure parts of benchmarks/prompt_lookup_bench.py: the edit task's typos and the report."""

from benchmarks import prompt_lookup_bench as bench


def test_typos_are_seeded_and_swap_letters_only():
    first = bench.with_typos(bench.PARAGRAPH, 0.15, 6)
    assert first == bench.with_typos(bench.PARAGRAPH, 0.15, 6) != bench.PARAGRAPH
    changed = [(a, b) for a, b in zip(bench.PARAGRAPH.split(" "), first.split(" ")) if a != b]
    assert 5 <= len(changed) and all(sorted(a) == sorted(b) for a, b in changed)


def task(tokens, steps, ids, wall):
    return {
        "prompt_tokens": 10,
        "wall_time_s": wall,
        "requests": [{"send": 0.0, "chunks": [0.1], "end": wall, "tokens": tokens, "ids": ids, "steps": steps}],
    }


def test_rows_give_the_per_pair_speed_up_and_compare_outputs():
    pairs = [
        {"off": {"tasks": {"t": task(100, 100, [1, 2], 2.0)}}, "on": {"tasks": {"t": task(100, 25, [1, 2], 1.0)}}},
        {"off": {"tasks": {"t": task(100, 100, [1, 2], 2.5)}}, "on": {"tasks": {"t": task(100, 25, [1, 3], 1.0)}}},
    ]
    (row,) = bench.summarize(pairs, ["t"])
    assert row["off_tok_s"] == 45.0 and row["on_tok_s"] == 100.0
    assert row["speedup"] == 2.25 and row["speedup_range"] == (2.0, 2.5)
    assert row["tokens_per_step"] == 4.0 and row["same_output"] is False
    assert "| t | 10 | 100 | 45.0 (40.0–50.0) | 100.0 (100.0–100.0) | 2.25× (2.00–2.50) | 4.00 |" in bench.markdown(
        [row]
    )
