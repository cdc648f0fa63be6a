"""The engine side of the transcription node: one WhisperPipeline, stepped by the engine host.

Requests queue here from every HTTP worker. Each step decodes a request's audio if it is new, then
transcribes its next window of 30 s (Whisper's input length) and sends that window's text: a stream gets
its text window by window, a long file never blocks the other requests for more than one window (the
queue goes round-robin), and a cancelled request stops at the next window. Window timestamps are moved by
the window's start, so segments count from the start of the file.
"""

import logging
from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy
import openvino_genai

from ovserve.nodes.engine_errors import describe
from ovserve.nodes.transcription.audio_decoding import AudioDecodeError, decode_audio
from ovserve.nodes.transcription.messages import TranscriptWindow
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.transcription")
SAMPLE_RATE = 16000  # what Whisper's feature extractor takes
WINDOW_SECONDS = 30
# The feature extractor refuses fewer samples than half its FFT (400): a file of a few milliseconds, or the last
# window of a file just over 30 s. Padding with silence is what Whisper does to every window anyway (to 30 s).
MIN_WINDOW_SAMPLES = 1600


@dataclass
class Job:
    key: object
    request: object
    samples: Optional[object] = None
    next_window: int = 0
    language: Optional[str] = None  # fixed after the first window (detected there when not given)

    @property
    def windows(self):
        return max(1, -(-len(self.samples) // (SAMPLE_RATE * WINDOW_SECONDS)))


class TranscriptionEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        plugin_config = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
        if options["word_timestamps"]:  # the decoder's cross-attention is decomposed to read the alignment
            plugin_config["word_timestamps"] = True
        self.pipeline = openvino_genai.WhisperPipeline(options["models_path"], options["device"], **plugin_config)
        defaults = self.pipeline.get_generation_config()
        self.languages = sorted(defaults.lang_to_id)
        self.word_timestamps = options["word_timestamps"] and bool(defaults.alignment_heads)
        self.jobs = deque()
        self.windows_done = 0
        self.completed = 0
        self.cancelled = 0  # requests dropped before their last window (their client left)
        self.audio_seconds = 0.0

    def info(self):
        return {
            "kind": "automatic_speech_recognition",
            "models_path": self.options["models_path"],
            "languages": self.languages,
            "word_timestamps": self.word_timestamps,
            "sample_rate": SAMPLE_RATE,
        }

    def submit(self, key, request):
        if len(self.jobs) >= self.options["max_queued_requests"]:
            raise EngineBusy(f"The server is at capacity ({len(self.jobs)} transcriptions queued); retry shortly.")
        self.jobs.append(Job(key, request, language=request.language))

    def cancel(self, key):
        kept = deque(job for job in self.jobs if job.key != key)
        self.cancelled += len(self.jobs) - len(kept)
        self.jobs = kept

    def has_work(self):
        return bool(self.jobs)

    def step(self):
        job = self.jobs.popleft()
        if job.samples is None:
            try:
                job.samples = decode_audio(job.request.audio, SAMPLE_RATE, self.options["max_audio_seconds"])
            except AudioDecodeError as exc:
                return [(job.key, RequestFailure(FailureKind.REJECTED, str(exc), "file"), True)]
            job.request = _without_audio(job.request)  # the decoded samples are all that is needed now
        try:
            window = self._transcribe_window(job)
        except Exception as exc:  # a window the model can't run fails its request, not the engine
            log.exception("transcribing a window failed")
            return [(job.key, RequestFailure(FailureKind.ENGINE, describe(exc)), True)]
        job.next_window += 1
        done = job.next_window >= job.windows
        if done:
            self.completed += 1
        else:
            self.jobs.append(job)
        return [(job.key, window, done)]

    def _config(self, job):
        request = job.request
        config = self.pipeline.get_generation_config()
        config.task = request.task
        config.language = job.language
        config.return_timestamps = request.segment_timestamps or request.word_timestamps
        config.word_timestamps = request.word_timestamps
        config.max_new_tokens = self.options["max_new_tokens"]
        if request.prompt:
            config.initial_prompt = request.prompt
        if request.temperature > 0:
            config.do_sample = True
            config.temperature = request.temperature
        return config

    def _transcribe_window(self, job):
        start = job.next_window * WINDOW_SECONDS * SAMPLE_RATE
        samples = job.samples[start : start + WINDOW_SECONDS * SAMPLE_RATE]
        length = len(samples) / SAMPLE_RATE
        if len(samples) < MIN_WINDOW_SAMPLES:
            samples = numpy.pad(samples, (0, MIN_WINDOW_SAMPLES - len(samples)))
        result = self.pipeline.generate(samples, self._config(job))
        if job.language is None:
            job.language = getattr(result, "language", None) or None
        offset = start / SAMPLE_RATE

        def moved(seconds):  # Whisper pads a short window to 30 s and may put timestamps in the padding
            return offset + min(max(seconds, 0.0), length)

        segments = tuple((moved(chunk.start_ts), moved(chunk.end_ts), chunk.text) for chunk in result.chunks or ())
        words = tuple((moved(word.start_ts), moved(word.end_ts), word.word) for word in result.words or ())
        self.windows_done += 1
        self.audio_seconds += length
        duration = len(job.samples) / SAMPLE_RATE
        return TranscriptWindow(result.texts[0] if result.texts else "", job.language or "", duration, segments, words)

    def stats(self):
        return {
            "queued_requests": len(self.jobs),
            "completed_requests": self.completed,
            "cancelled_requests": self.cancelled,
            "windows_transcribed": self.windows_done,
            "audio_seconds": round(self.audio_seconds, 3),
        }


def _without_audio(request):
    fields = dict(zip(request._field_names, request.fields_tuple()))
    fields["audio"] = b""
    return type(request)(**fields)
