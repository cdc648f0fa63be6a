"""The worker side of the speech node: the request's limits and voice are checked here, then the text
goes to the engine (engine.py), which speaks and encodes it."""

import json
import logging

from ovserve.errors import InvalidRequest
from ovserve.graph.audio_messages import Speech
from ovserve.graph.node import SpeechSynthesizer
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.speech.messages import SpeechRequest
from ovserve.nodes.unary import EngineResult

log = logging.getLogger("ovserve.speech")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.speech")
SPEECH_FILES = ("openvino_tokenizer.xml",)
DEFAULT_VOICE = "default"
FLOAT32_BYTES = 4


class SpeechNode(EngineNode, SpeechSynthesizer):
    type_name = "speech"
    options_schema = OPTIONS_SCHEMA
    engine_factory = "ovserve.nodes.speech.engine:SpeechEngine"
    engine_option_names = ("device", "plugin_config", "batch_size", "max_queued_requests")

    def __init__(self, options, context):
        super().__init__(options, context)
        missing = [name for name in SPEECH_FILES if not (self.models_path / name).is_file()]
        if missing:
            raise context.error(
                "models_path",
                f"{self.models_path} is not an OpenVINO text-to-speech folder (missing {', '.join(missing)})",
                "convert the model with `ovserve export SOURCE --task text_to_speech --vocoder VOCODER`",
            )
        if self.options["min_speed"] > self.options["max_speed"]:
            raise context.error("min_speed", "is larger than max_speed", "make min_speed <= max_speed")
        self.voices = {name: self._voice_file(name, path) for name, path in self.options["voices"].items()}
        self.max_text_tokens = _max_text_positions(self.models_path)
        self.tokenizer = None

    def load_worker_side(self):
        import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

        self.tokenizer = openvino_genai.Tokenizer(str(self.models_path))

    def _voice_file(self, name, value):
        path = self.context.resolve_path(f"voices.{name}", value)
        size = path.stat().st_size if path.is_file() else 0
        if size == 0 or size % FLOAT32_BYTES:
            raise self.context.error(
                f"voices.{name}",
                f"{path} is not a speaker embedding ({size} bytes; expected raw float32 values)",
                "write the embedding with numpy: embedding.astype('<f4').tofile(path)",
            )
        return str(path)

    def engine_options(self):
        return dict(super().engine_options(), voices=self.voices)

    @property
    def voice_names(self):
        return sorted({DEFAULT_VOICE, *self.voices})

    def describe(self):
        return {
            "voices": self.voice_names,
            "response_formats": ["wav", "pcm", "flac", "mp3", "opus"],
            "speed": [self.options["min_speed"], self.options["max_speed"]],
            "max_input_characters": self.options["max_input_characters"],
        }

    def _check_tokens(self, text):
        """A text longer than the model's text positions fails its inference (and the batch it is in)."""
        if self.max_text_tokens is None:
            return
        count = int(self.tokenizer.encode([text]).attention_mask.data.sum())
        if count > self.max_text_tokens:
            raise InvalidRequest(
                f"'input' is {count} tokens; this model reads at most {self.max_text_tokens}.",
                param="input",
                code="invalid_value",
            )

    def synthesize(self, speech_input):
        self.require_ready()
        limit = self.options["max_input_characters"]
        if len(speech_input.text) > limit:
            raise InvalidRequest(
                f"'input' is {len(speech_input.text)} characters; the limit is {limit}.",
                param="input",
                code="invalid_value",
            )
        self._check_tokens(speech_input.text)
        if speech_input.voice not in self.voice_names:
            raise InvalidRequest(
                f"'voice' is '{speech_input.voice}'; this model's voices are: {', '.join(self.voice_names)}.",
                param="voice",
                code="unsupported_value",
            )
        low, high = self.options["min_speed"], self.options["max_speed"]
        if not low <= speech_input.speed <= high:
            raise InvalidRequest(
                f"'speed' is {speech_input.speed}; this model speaks at {low} to {high}.",
                param="speed",
                code="unsupported_value",
            )
        request = SpeechRequest(speech_input.text, speech_input.voice, speech_input.response_format, speech_input.speed)
        stream = self.client.submit(request, timeout=self.options["request_timeout_seconds"])
        return EngineResult(
            stream, lambda audio: Speech(audio.data, audio.content_type, audio.sample_rate, audio.seconds)
        )


def _max_text_positions(folder):
    """SpeechT5's `max_text_positions` from config.json (None when the model's files don't say)."""
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("max_text_positions")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) and value > 0 else None
