"""OpenAI's transcription and translation APIs: POST /v3/audio/transcriptions and /v3/audio/translations.

A multipart form (the audio `file` and text fields) becomes a TranscriptionInput; the Transcript comes back
as json, text, srt, vtt or verbose_json, or, with stream=true, as OpenAI's transcript events
(`transcript.text.delta` per 30 s window of audio, then `transcript.text.done`).
"""

from ovserve.errors import InvalidRequest
from ovserve.graph.audio_messages import TRANSCRIBE, TRANSLATE, TranscriptionInput
from ovserve.graph.servable import Servable
from ovserve.protocol import sse
from ovserve.protocol.api import Api, Call, RawAnswer
from ovserve.protocol.errors import openai_error
from ovserve.protocol.form_fields import form_body
from ovserve.protocol.transcript_formats import srt, verbose_json, vtt
from ovserve.protocol.validation import validate_body

TIMESTAMPED_FORMATS = ("srt", "vtt", "verbose_json")
STREAMABLE_FORMATS = ("json", "text")
# What a translation form may not have (OpenAI's translations take neither).
NOT_FOR_TRANSLATION = ("language", "timestamp_granularities", "stream")


def parse_transcription_form(form, request_id="", task=TRANSCRIBE):
    upload = form.file("file")
    body = form_body(form, numbers=("temperature",), booleans=("stream",))
    validate_body("audio_transcriptions", body)
    if task == TRANSLATE:
        for name in NOT_FOR_TRANSLATION:
            if name in body:
                raise InvalidRequest(f"Translations take no '{name}'.", param=name, code="invalid_value")
    response_format = body.get("response_format", "json")
    granularities = body.get("timestamp_granularities", [])
    if granularities and response_format != "verbose_json":
        raise InvalidRequest(
            "timestamp_granularities needs response_format 'verbose_json'.",
            param="timestamp_granularities",
            code="invalid_value",
        )
    stream = body.get("stream", False)
    if stream and response_format not in STREAMABLE_FORMATS:
        raise InvalidRequest(
            f"stream=true gives json or text events; response_format '{response_format}' can't be streamed.",
            param="stream",
            code="invalid_value",
        )
    transcription_input = TranscriptionInput(
        audio=upload.data,
        task=task,
        language=body.get("language"),
        prompt=body.get("prompt"),
        temperature=body.get("temperature", 0.0),
        segment_timestamps=response_format in TIMESTAMPED_FORMATS,
        word_timestamps="word" in granularities,
        request_id=request_id,
    )
    writer = TranscriptWriter(task, response_format, "segment" in granularities or not granularities)
    return Call(body["model"], transcription_input, writer, stream=stream)


def parse_translation_form(form, request_id=""):
    return parse_transcription_form(form, request_id, task=TRANSLATE)


def usage(transcript):
    return {"type": "duration", "seconds": round(transcript.duration, 3)}


class TranscriptWriter:
    """The answer in the response_format asked for; streamed, OpenAI's transcript events."""

    def __init__(self, task, response_format, with_segments=True):
        self.task = task
        self.response_format = response_format
        self.with_segments = with_segments

    def body(self, transcript):
        if self.response_format == "json":
            return {"text": transcript.text, "usage": usage(transcript)}
        if self.response_format == "verbose_json":
            return verbose_json(transcript, self.task, self.with_segments)
        text = {"text": lambda: transcript.text + "\n", "srt": lambda: srt(transcript), "vtt": lambda: vtt(transcript)}
        content_type = "text/vtt" if self.response_format == "vtt" else "text/plain"
        return RawAnswer(text[self.response_format]().encode("utf-8"), f"{content_type}; charset=utf-8")

    # --- streamed (stream=true) ------------------------------------------------------------
    def opening(self, work):
        return []

    def chunks(self, deltas):
        return [sse.event({"type": "transcript.text.delta", "delta": delta.text}) for delta in deltas if delta.text]

    def closing(self, work):
        transcript = work.transcript()
        return [sse.event({"type": "transcript.text.done", "text": transcript.text, "usage": usage(transcript)})]

    def failed(self, error):
        return [sse.event(openai_error(error)), sse.DONE]


AUDIO_TRANSCRIPTIONS = Api("audio.transcriptions", parse_transcription_form, Servable.transcribe, reads_form=True)
AUDIO_TRANSLATIONS = Api("audio.translations", parse_translation_form, Servable.transcribe, reads_form=True)
