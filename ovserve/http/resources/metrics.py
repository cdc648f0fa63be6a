"""GET /metrics: Prometheus text format, open like health (no API key), for every worker's numbers."""

from ovserve.http.metrics import render


class MetricsResource:
    def __init__(self, registry):
        self.registry = registry

    def on_get(self, req, resp):
        resp.data, resp.content_type = render(self.registry)
