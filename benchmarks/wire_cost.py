"""The per-step cost of the engine -> worker wire: one frame of every request's new tokens.

Side by side in one run, framing and pickling included, socket excluded: the typed messages
(RequestUpdates of (request id, TokenUpdate, done), built by the engine host, encoded, decoded into the
same objects by the worker) against the untyped tuples-and-dicts frame
that crossed before them, `("updates", [(request_id, {"sequences": ..., "status": ...}, done), ...])`,
pickled as they were. Microseconds per frame, median of 7 rounds, at 1, 32 and 256 requests per step.

    .venv/bin/python benchmarks/wire_cost.py
"""

import pickle
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ovserve.nodes.llm.messages import TokenUpdate  # noqa: E402
from ovserve.runtime import wire  # noqa: E402
from ovserve.runtime.messages import RequestUpdates, decode  # noqa: E402

HEADER = struct.Struct("!I")


def typed_frame(results):
    """Engine: (key, result, done) from the step -> one frame; worker: the frame -> messages."""
    frame = wire.encode(RequestUpdates(tuple(results)))
    return decode(pickle.loads(frame[HEADER.size :]))  # as engine_host.py sends it and bridge.py reads it


def untyped_frame(results):
    message = (
        "updates",
        [(key, {"sequences": list(result.sequences), "status": result.status}, done) for key, result, done in results],
    )
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    frame = HEADER.pack(len(body)) + body
    return pickle.loads(frame[HEADER.size :])


def per_frame_us(encode_decode, results, rounds=7, frames=2000):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(frames):
            encode_decode(results)
        times.append((time.perf_counter() - started) / frames * 1e6)
    return statistics.median(times)


def main():
    print("requests | untyped us | typed us | typed/untyped")
    for count in (1, 32, 256):
        # One new token per request and step (decoding), with its log-probability.
        results = [(key, TokenUpdate(((0, [1234], [-0.5], None),), "running"), False) for key in range(count)]
        untyped, typed = per_frame_us(untyped_frame, results), per_frame_us(typed_frame, results)
        print(f"{count:8d} | {untyped:10.1f} | {typed:8.1f} | {typed / untyped:.2f}x")


if __name__ == "__main__":
    main()
