"""What crosses between the transcription node and its engine. Pure: no OpenVINO here."""

from ovserve.runtime.messages import WireMessage, wire_message


@wire_message
class TranscriptionRequest(WireMessage):
    tag = "transcription.request"
    audio: bytes  # the file as uploaded; the engine decodes it (off the workers' gevent hub)
    task: str  # "transcribe" | "translate"
    language: object  # the model's language token ("<|en|>"), or None to detect
    prompt: object  # str or None
    temperature: float
    segment_timestamps: bool
    word_timestamps: bool


@wire_message
class TranscriptWindow(WireMessage):
    """One window of audio transcribed; the last one of a request comes marked done."""

    tag = "transcription.window"
    text: str
    language: str  # the model's language token, as given or detected, "" if unknown
    duration: float  # seconds of the whole audio
    segments: tuple  # of (start, end, text), seconds from the start of the audio
    words: tuple  # of (start, end, word)
