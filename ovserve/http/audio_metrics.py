"""The audio engines' series on GET /metrics, from the stats each engine sends every worker each second.

As for the image engines (image_metrics.py), the worker answering the scrape reports its own copy, and the
counts are the engine's since it started (a restarted engine counts from zero: a counter reset).
"""

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ovserve.http.engine_stats import stat_families

AUDIO_KINDS = ("automatic_speech_recognition", "text_to_speech")


def _families():
    return [
        (
            CounterMetricFamily(
                "ovserve_audio_seconds",
                "Seconds of audio the engine transcribed (speech recognition) or spoke (text to speech).",
                labels=["name"],
            ),
            "audio_seconds",
        ),
        (
            CounterMetricFamily(
                "ovserve_audio_requests_completed", "Audio requests the engine answered.", labels=["name"]
            ),
            "completed_requests",
        ),
        (
            GaugeMetricFamily(
                "ovserve_audio_requests_waiting", "Audio requests queued or in progress in the engine.", labels=["name"]
            ),
            "queued_requests",
        ),
    ]


def engine_families(registry):
    return stat_families(registry, AUDIO_KINDS, _families())
