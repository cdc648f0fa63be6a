"""`ovserve bench`: a load generator for OpenAI-compatible servers, and the raw engine beside it.

One job per module, from the bottom up:
- metrics.py: the numbers (vLLM benchmark_serving's definitions), pure functions;
- workload.py: the seeded prompts; schedule.py: when requests are sent (closed loop, Poisson);
- client.py: the asyncio streaming HTTP client; probe.py: the liveness probe;
- target.py + raw.py: the raw engine side (--raw); a server of our own (--serve) is
  ovserve/server/launcher.py, which the end-to-end tests start too;
- runner.py: the runs in order; progress.py: what stderr shows meanwhile;
- report.py: summaries, tables, JSON; chart.py: the PNG; cli.py: the command.
"""
