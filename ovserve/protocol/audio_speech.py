"""OpenAI's speech API: POST /v3/audio/speech, a JSON request answered with the audio file itself."""

from ovserve.graph.audio_messages import SpeechInput
from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call, RawAnswer
from ovserve.protocol.validation import validate_body

DEFAULT_FORMAT = "mp3"  # OpenAI's default: a client that saves speech.mp3 without asking gets an mp3


def parse_speech(body, request_id=""):
    validate_body("audio_speech", body)
    voice = body["voice"]["id"] if isinstance(body["voice"], dict) else body["voice"]
    speech_input = SpeechInput(
        text=body["input"],
        voice=voice,
        response_format=body.get("response_format", DEFAULT_FORMAT),
        speed=float(body.get("speed", 1.0)),
        request_id=request_id,
    )
    return Call(body["model"], speech_input, SpeechWriter())


class SpeechWriter:
    def body(self, speech):
        return RawAnswer(speech.data, speech.content_type)


AUDIO_SPEECH = Api("audio.speech", parse_speech, Servable.synthesize)
