"""What crosses between the speech node and its engine. Pure: no OpenVINO here."""

from ovserve.runtime.messages import WireMessage, wire_message


@wire_message
class SpeechRequest(WireMessage):
    tag = "speech.request"
    text: str
    voice: str  # a name of the engine's voices ("default": the model's own speaker)
    response_format: str  # wav, pcm, flac, mp3, opus
    speed: float


@wire_message
class SpokenAudio(WireMessage):
    tag = "speech.audio"
    data: bytes  # encoded in the request's response_format
    content_type: str
    sample_rate: int
    seconds: float
