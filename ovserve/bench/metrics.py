"""Latency and throughput math of `ovserve bench`, defined as vLLM's benchmark_serving defines them.

Pure functions over plain lists of timestamps (seconds, any common clock), so they can be unit-tested
without a server or a model. A request is a dict:

- ``send``: when the client sent it (raw engine: when it was due to arrive);
- ``chunks``: when each chunk carrying new content reached the client, in order;
- ``end``: when the response's last event arrived (default: its last content chunk);
- ``tokens``: how many completion tokens it produced (the server's usage count, or the number of
  content chunks when the server sent no usage);
- ``prompt_tokens``: the prompt's length in tokens, when known;
- ``error``: ``None`` if it succeeded, else a message. Failed requests count only as errors.

Definitions (benchmark_serving's):

- duration: the run's wall time, from its start to the end of its last request;
- request throughput: completed requests / duration; output throughput: completion tokens of the
  completed requests / duration; total token throughput: prompt + completion tokens / duration;
- TTFT (time to first token): first content chunk - send, one value per request;
- TPOT (time per output token): (E2E latency - TTFT) / (tokens - 1), one value per request with at
  least two tokens; it excludes the first token, so TTFT and TPOT together describe a request;
- ITL (inter-token latency): every gap between consecutive content chunks of a request, pooled over
  all requests (a chunk carrying several tokens yields one gap, as a streaming client sees it);
- E2E latency: end - send, one value per request.
"""

import math

PERCENTILES = (50, 90, 99)


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


def mean(values):
    return sum(values) / len(values) if values else None


def median(values):
    """The median of a list, ignoring None; None if nothing is left."""
    return percentile(_present(values), 50)


def spread(values):
    """(min, max) of a list, ignoring None; (None, None) if nothing is left."""
    present = _present(values)
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


def end_time(request):
    """When the request's response ended: its last event, else its last content chunk."""
    if request.get("end") is not None:
        return request["end"]
    return request["chunks"][-1] if request["chunks"] else None


def e2e_latency(request):
    """End - send; None when nothing came back."""
    end = end_time(request)
    return None if end is None else end - request["send"]


def tpot(request):
    """(E2E latency - TTFT) / (tokens - 1); None with fewer than two tokens or no chunk."""
    tokens, chunks = request["tokens"], request["chunks"]
    if not chunks or tokens is None or tokens < 2:
        return None
    return (end_time(request) - chunks[0]) / (tokens - 1)


def _distribution(name, values):
    """{name_mean_s, name_p50_s, name_p90_s, name_p99_s} of a list of seconds."""
    summary = {f"{name}_mean_s": mean(values)}
    summary.update({f"{name}_p{q}_s": percentile(values, q) for q in PERCENTILES})
    return summary


def _present(values):
    return [value for value in values if value is not None]


def summarize(requests, wall_time):
    """Aggregate metrics of one run: a list of request dicts (see module doc) and its wall time.

    Returns seconds for latencies, and counts; percentiles are None when there is no sample.
    """
    succeeded = [request for request in requests if request.get("error") is None]
    output_tokens = sum(request["tokens"] or 0 for request in succeeded)
    prompt_tokens = sum(request.get("prompt_tokens") or 0 for request in succeeded)

    def per_second(count):
        return count / wall_time if wall_time > 0 else None

    summary = {
        "requests": len(requests),
        "completed": len(succeeded),
        "errors": len(requests) - len(succeeded),
        "output_tokens": output_tokens,
        "prompt_tokens": prompt_tokens,
        "tokens_counted_from_chunks": sum(1 for request in succeeded if request.get("usage") is False),
        "wall_time_s": wall_time,
        "requests_per_s": per_second(len(succeeded)),
        "output_tokens_per_s": per_second(output_tokens),
        "total_tokens_per_s": per_second(output_tokens + prompt_tokens),
    }
    summary.update(_distribution("ttft", _present(ttft(request["send"], request["chunks"]) for request in succeeded)))
    summary.update(_distribution("tpot", _present(tpot(request) for request in succeeded)))
    summary.update(_distribution("itl", [gap for request in succeeded for gap in itls(request["chunks"])]))
    summary.update(_distribution("e2e", _present(e2e_latency(request) for request in succeeded)))
    return summary


def latency_summary(latencies, thresholds_s=(0.05, 0.1)):
    """count, p50, p99 and max of a list of latencies (seconds), and how many exceeded each threshold."""
    summary = {
        "count": len(latencies),
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies) if latencies else None,
    }
    for threshold in thresholds_s:
        summary[f"over_{threshold * 1000:.0f}ms"] = sum(1 for value in latencies if value > threshold)
    return summary
