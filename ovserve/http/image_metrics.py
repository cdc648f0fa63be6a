"""The image engines' series on GET /metrics, from the stats each engine sends every worker each second.

As for the LLM engines' gauges (metrics.engine_families), the worker answering the scrape reports its own
copy. The counts are the engine's since it started: a restarted engine counts from zero again, which
Prometheus' rate() reads as a counter reset.
"""

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ovserve.http.engine_stats import stat_families


def _families():
    return [
        (
            CounterMetricFamily(
                "ovserve_images_generated", "Images the engine made (generations and edits).", labels=["name"]
            ),
            "images",
        ),
        (
            CounterMetricFamily(
                "ovserve_images_denoising_steps",
                "Denoising steps the engine ran, per image (a request of n images counts n per step).",
                labels=["name"],
            ),
            "denoising_steps",
        ),
        (
            CounterMetricFamily(
                "ovserve_images_requests_cancelled",
                "Image requests stopped because their client left.",
                labels=["name"],
            ),
            "cancelled",
        ),
        (
            GaugeMetricFamily(
                "ovserve_images_requests_waiting", "Image requests queued in the engine.", labels=["name"]
            ),
            "queued_requests",
        ),
        (
            GaugeMetricFamily(
                "ovserve_images_requests_running", "Image requests generating now (0 or 1).", labels=["name"]
            ),
            "running_requests",
        ),
    ]


def engine_families(registry):
    return stat_families(registry, ("image_generation",), _families())
