"""Latency and throughput math for streaming benchmarks, defined as vLLM's benchmark_serving does.

Pure functions over plain lists of timestamps (seconds, any common clock), so they can be unit-tested
without a server or a model. A request is described by:

- ``send``: when the client sent it (for an in-process engine: when ``add_request`` was called);
- ``chunks``: when each chunk carrying new content reached the client, in order;
- ``tokens``: how many completion tokens it produced (the server's usage count);
- ``error``: ``None`` if it succeeded, else a message. Failed requests count only as errors.

Definitions:

- output tokens/s: total completion tokens of the successful requests / wall time of the run;
- TTFT (time to first token): first content chunk - send, one value per request;
- ITL (inter-token latency): every gap between consecutive content chunks of a request, pooled over
  all requests (a chunk carrying several tokens yields one gap, as a streaming client sees it);
- TPOT (time per output token): (last chunk - first chunk) / (tokens - 1), one value per request with
  at least two tokens; it excludes the first token, so TTFT and TPOT together describe a request.
"""

import math


def percentile(values, q):
    """The q-th percentile (0-100) with linear interpolation (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return ordered[lower]
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def median(values):
    """The median of a list, ignoring None; None if nothing is left."""
    return percentile([value for value in values if value is not None], 50)


def spread(values):
    """(min, max) of a list, ignoring None; (None, None) if nothing is left."""
    present = [value for value in values if value is not None]
    return (min(present), max(present)) if present else (None, None)


def ratio(numerator, denominator):
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def ttft(send, chunks):
    """Time from sending a request to its first content chunk; None if no chunk came."""
    return chunks[0] - send if chunks else None


def itls(chunks):
    """Every gap between consecutive content chunks of one request."""
    return [later - earlier for earlier, later in zip(chunks, chunks[1:])]


def tpot(chunks, tokens):
    """(last chunk - first chunk) / (tokens - 1); None with fewer than two tokens or no chunk."""
    if not chunks or tokens is None or tokens < 2:
        return None
    return (chunks[-1] - chunks[0]) / (tokens - 1)


def summarize(requests, wall_time):
    """Aggregate metrics of one run: a list of request dicts (see module doc) and its wall time.

    Returns seconds for latencies, and counts; percentiles are None when there is no sample.
    """
    succeeded = [request for request in requests if request.get("error") is None]
    ttfts = [ttft(request["send"], request["chunks"]) for request in succeeded]
    ttfts = [value for value in ttfts if value is not None]
    gaps = [gap for request in succeeded for gap in itls(request["chunks"])]
    tpots = [tpot(request["chunks"], request["tokens"]) for request in succeeded]
    tpots = [value for value in tpots if value is not None]
    output_tokens = sum(request["tokens"] or 0 for request in succeeded)
    return {
        "requests": len(requests),
        "completed": len(succeeded),
        "errors": len(requests) - len(succeeded),
        "output_tokens": output_tokens,
        "wall_time_s": wall_time,
        "output_tokens_per_s": output_tokens / wall_time if wall_time > 0 else None,
        "ttft_p50_s": percentile(ttfts, 50),
        "ttft_p99_s": percentile(ttfts, 99),
        "itl_p50_s": percentile(gaps, 50),
        "itl_p99_s": percentile(gaps, 99),
        "tpot_p50_s": percentile(tpots, 50),
    }


def latency_summary(latencies, threshold):
    """p50 / p99 / max of a list of latencies, and how many exceeded ``threshold`` (same unit)."""
    return {
        "count": len(latencies),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else None,
        "over_threshold": sum(1 for value in latencies if value > threshold),
        "threshold": threshold,
    }
