"""The worker side of the transcription node: request checks against the model, then the upload goes to
the engine (engine.py), which decodes it and sends the transcript back window by window."""

import logging

from ovserve.errors import InvalidRequest
from ovserve.graph.audio_messages import Segment, Transcript, TranscriptDelta, Word
from ovserve.graph.node import Transcriber
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.transcription.messages import TranscriptionRequest

log = logging.getLogger("ovserve.transcription")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.transcription")
WHISPER_FILES = ("openvino_encoder_model.xml", "openvino_decoder_model.xml", "openvino_tokenizer.xml")


class TranscriptionNode(EngineNode, Transcriber):
    type_name = "transcription"
    options_schema = OPTIONS_SCHEMA
    engine_factory = "ovserve.nodes.transcription.engine:TranscriptionEngine"
    engine_option_names = (
        "device",
        "plugin_config",
        "max_audio_seconds",
        "max_new_tokens",
        "max_queued_requests",
        "word_timestamps",
    )

    def __init__(self, options, context):
        super().__init__(options, context)
        missing = [name for name in WHISPER_FILES if not (self.models_path / name).is_file()]
        if missing:
            raise context.error(
                "models_path",
                f"{self.models_path} is not an OpenVINO Whisper folder (missing {', '.join(missing)})",
                "convert the model with `ovserve export SOURCE --task automatic_speech_recognition`",
            )

    @property
    def max_file_bytes(self):
        return self.options["max_file_bytes"]

    def _engine_info(self):
        return (self.client.info if self.client is not None else None) or {}

    def describe(self):
        info = self._engine_info()
        facts = {"max_audio_seconds": self.options["max_audio_seconds"], "max_file_bytes": self.max_file_bytes}
        if info:
            facts["languages"] = [token.strip("<|>") for token in info.get("languages", ())]
            facts["timestamp_granularities"] = ["segment", "word"] if info.get("word_timestamps") else ["segment"]
        return facts

    def _language_token(self, language):
        if language is None:
            return None
        token = f"<|{language.lower()}|>"
        known = self._engine_info().get("languages", ())
        if token not in known:
            offered = ", ".join(sorted(name.strip("<|>") for name in known)) or "none"
            raise InvalidRequest(
                f"'language' is '{language}'; this model knows: {offered}.", param="language", code="unsupported_value"
            )
        return token

    def transcribe(self, transcription_input):
        self.require_ready()
        if len(transcription_input.audio) > self.max_file_bytes:
            raise InvalidRequest(
                f"The file is {len(transcription_input.audio)} bytes; this model takes at most {self.max_file_bytes}.",
                param="file",
                code="file_too_large",
            )
        if transcription_input.word_timestamps and not self._engine_info().get("word_timestamps"):
            raise InvalidRequest(
                "This servable gives no word timestamps (they need the node option word_timestamps and "
                "alignment_heads in the model's generation_config.json); ask for timestamp_granularities ['segment'].",
                param="timestamp_granularities",
                code="unsupported_value",
            )
        prompt = transcription_input.prompt
        if prompt and len(prompt) > self.options["max_prompt_characters"]:
            raise InvalidRequest(
                f"'prompt' is {len(prompt)} characters; the limit is {self.options['max_prompt_characters']}.",
                param="prompt",
                code="invalid_value",
            )
        request = TranscriptionRequest(
            transcription_input.audio,
            transcription_input.task,
            self._language_token(transcription_input.language),
            prompt or None,
            float(transcription_input.temperature),
            transcription_input.segment_timestamps,
            transcription_input.word_timestamps,
        )
        stream = self.client.submit(request, timeout=self.options["request_timeout_seconds"])
        return TranscriptionWork(stream)


class TranscriptionWork:
    """A started transcription: iterate it for its text window by window (each a list of one TranscriptDelta),
    or result() for the whole Transcript; close() cancels it in the engine if unfinished."""

    completion_tokens = 0  # read by the request metrics, which count tokens for generations only

    def __init__(self, stream):
        self._stream = stream
        self._windows = []

    def __iter__(self):
        for window in self._stream:
            self._windows.append(window)
            yield [TranscriptDelta(window.text)]

    def result(self):
        for _ in self:
            pass
        return self.transcript()

    def transcript(self):
        """The Transcript of the windows received so far (all of them once iteration ended)."""
        windows = self._windows
        if not windows:
            raise RuntimeError("the engine finished the transcription without an answer")
        return Transcript(
            text="".join(window.text for window in windows).strip(),
            language=windows[-1].language.strip("<|>"),
            duration=windows[-1].duration,
            segments=tuple(Segment(start, end, text) for window in windows for start, end, text in window.segments),
            words=tuple(Word(start, end, word) for window in windows for start, end, word in window.words),
        )

    def close(self):
        self._stream.close()
