"""The engine side of the speech node: one Text2SpeechPipeline, stepped by the engine host.

Each step speaks the queued requests that share the first one's voice and speed, up to batch_size texts in
one generate() (the pipeline takes a list of texts and one speaker embedding), and encodes each answer in its
response_format here, off the HTTP workers' gevent hub.
"""

import logging
from collections import deque

import numpy
import openvino
import openvino_genai

from ovserve.nodes.engine_errors import describe
from ovserve.nodes.speech.audio_encoding import encode_speech
from ovserve.nodes.speech.messages import SpokenAudio
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure, RequestRejected
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.speech")
DEFAULT_VOICE = "default"  # the pipeline's own speaker: generate() without a speaker embedding


def load_speaker_embedding(path):
    """A speaker embedding file: raw little-endian float32 values (SpeechT5: 512 of them)."""
    values = numpy.fromfile(path, dtype="<f4")
    return openvino.Tensor(values.reshape(1, -1))


class SpeechEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        plugin_config = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
        self.pipeline = openvino_genai.Text2SpeechPipeline(options["models_path"], options["device"], **plugin_config)
        self.voices = {name: load_speaker_embedding(path) for name, path in options["voices"].items()}
        self.queue = deque()
        self.spoken = 0
        self.audio_seconds = 0.0

    def info(self):
        return {"kind": "text_to_speech", "models_path": self.options["models_path"], "voices": self.voice_names()}

    def voice_names(self):
        return [DEFAULT_VOICE, *sorted(self.voices)] if DEFAULT_VOICE not in self.voices else sorted(self.voices)

    def submit(self, key, request):
        if request.voice != DEFAULT_VOICE and request.voice not in self.voices:
            raise RequestRejected(f"Unknown voice '{request.voice}'.", param="voice")
        if len(self.queue) >= self.options["max_queued_requests"]:
            raise EngineBusy(f"The server is at capacity ({len(self.queue)} speech requests queued); retry shortly.")
        self.queue.append((key, request))

    def cancel(self, key):
        self.queue = deque(item for item in self.queue if item[0] != key)

    def has_work(self):
        return bool(self.queue)

    def _take_batch(self):
        first = self.queue[0][1]
        batch, rest = [], deque()
        for key, request in self.queue:
            same = (request.voice, request.speed) == (first.voice, first.speed)
            if same and len(batch) < self.options["batch_size"]:
                batch.append((key, request))
            else:
                rest.append((key, request))
        self.queue = rest
        return batch, first

    def step(self):
        batch, first = self._take_batch()
        texts = [request.text for _, request in batch]
        try:
            config = self.pipeline.get_generation_config()
            config.speed = first.speed
            speaker = self.voices.get(first.voice)
            args = (texts, speaker) if speaker is not None else (texts,)
            result = self.pipeline.generate(*args, generation_config=config)
        except Exception as exc:  # a batch the model can't run fails its requests, not the engine
            log.exception("speaking a batch of %d texts failed", len(texts))
            failure = RequestFailure(FailureKind.ENGINE, describe(exc))
            return [(key, failure, True) for key, _ in batch]
        rate = int(result.output_sample_rate)
        answers = []
        for (key, request), speech in zip(batch, result.speeches):
            samples = numpy.asarray(speech.data, dtype=numpy.float32).reshape(-1)
            data, content_type = encode_speech(samples, rate, request.response_format)
            seconds = len(samples) / rate
            self.spoken += 1
            self.audio_seconds += seconds
            answers.append((key, SpokenAudio(data, content_type, rate, seconds), True))
        return answers

    def stats(self):
        return {
            "queued_requests": len(self.queue),
            "completed_requests": self.spoken,
            "audio_seconds": round(self.audio_seconds, 3),
        }
