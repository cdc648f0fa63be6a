"""The liveness probe: does the server stay responsive while it streams at full load?

A thread GETs /v2/health/live every 50 ms on a new connection each time (as a Kubernetes probe
does) and records each latency, or the failure. Only servers that answer that path are probed
(ovserve, OpenVINO Model Server); for others the probe is skipped without a word.
"""

import http.client
import threading
import time

from ovserve.bench.client import http_get

HEALTH_PATH = "/v2/health/live"
INTERVAL_S = 0.05


def answers_health(endpoint):
    status, _ = http_get(endpoint, HEALTH_PATH, timeout=5)
    return status == 200


class HealthProbe:
    def __init__(self, endpoint, interval=INTERVAL_S, timeout=5.0):
        self.endpoint, self.interval, self.timeout = endpoint, interval, timeout
        self.latencies = []
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-probe", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _probe_once(self):
        kind = http.client.HTTPSConnection if self.endpoint.tls else http.client.HTTPConnection
        connection = kind(self.endpoint.host, self.endpoint.port, timeout=self.timeout)
        try:
            connection.request("GET", HEALTH_PATH, headers=self.endpoint.headers())
            response = connection.getresponse()
            response.read()
            return None if response.status == 200 else f"HTTP {response.status}"
        finally:
            connection.close()

    def _run(self):
        next_probe = time.perf_counter()
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                failure = self._probe_once()
            except (OSError, http.client.HTTPException) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if failure:
                self.failures.append(failure)
            else:
                self.latencies.append(time.perf_counter() - started)
            next_probe = max(next_probe + self.interval, time.perf_counter())
            self._stop.wait(next_probe - time.perf_counter())

    def results(self):
        return {"latencies_s": self.latencies, "failures": self.failures}
