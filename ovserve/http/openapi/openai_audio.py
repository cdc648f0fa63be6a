"""OpenAI's audio routes: POST {prefix}/audio/transcriptions and /audio/translations (forms with an audio
file) and /audio/speech (JSON, answered with the audio file)."""

import copy

from ovserve.http.openapi.components import ref
from ovserve.http.openapi.operations import post_operation

TRANSCRIPTION_FIELDS = "AudioTranscriptionFields"  # components/schemas name of audio_transcriptions.json
SPEECH_REQUEST = "AudioSpeechRequest"  # of audio_speech.json
AUDIO_TYPES = ("audio/wav", "audio/flac", "audio/mpeg", "audio/ogg", "audio/pcm")


def audio_schemas(request_schemas):
    """The transcription form (its fields plus the `file` part) and the transcript answers."""
    form = copy.deepcopy(request_schemas[TRANSCRIPTION_FIELDS])
    form["required"] = ["model", "file"]
    form["properties"]["file"] = {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": "The audio: WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF, MP4/M4A, WebM or AAC, any rate and "
        "channels (resampled to the model's 16 kHz mono); other formats are refused (400).",
    }
    form["properties"]["timestamp_granularities[]"] = form["properties"].pop("timestamp_granularities")
    translation = copy.deepcopy(form)
    translation["title"] = "POST /v3/audio/translations form"
    for name in ("language", "timestamp_granularities[]", "stream"):
        del translation["properties"][name]
    return {
        "AudioTranscriptionRequest": form,
        "AudioTranslationRequest": translation,
        "AudioTranscriptionResponse": {
            "type": "object",
            "required": ["text"],
            "properties": {
                "text": {"type": "string"},
                "usage": {"type": "object", "description": "{type: duration, seconds}: the audio's length."},
                "language": {"type": "string", "description": "verbose_json: the language, given or detected."},
                "duration": {"type": "number", "description": "verbose_json: seconds of audio."},
                "segments": {"type": "array", "description": "verbose_json: {id, start, end, text} each."},
                "words": {"type": "array", "description": "verbose_json with word granularity: {word, start, end}."},
            },
        },
    }


def _form_operation(operation_id, summary, request_name, secured):
    operation = post_operation(operation_id, summary, "audio", request_name, "AudioTranscriptionResponse", secured)
    operation["requestBody"]["content"] = {
        "multipart/form-data": {"schema": ref(request_name), "encoding": {"file": {"contentType": "audio/wav"}}}
    }
    ok = operation["responses"]["200"]
    ok["description"] = "The transcript: JSON (json, verbose_json), text (text, srt, vtt), or server-sent events."
    ok["content"]["text/plain"] = {"schema": {"type": "string"}}
    return operation


def audio_paths(prefix, secured):
    speech = post_operation(
        "createSpeech", "Speech from a text", "audio", SPEECH_REQUEST, "AudioTranscriptionResponse", secured, False
    )
    speech["responses"]["200"] = {
        "description": "The audio file, in the response_format asked for.",
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in AUDIO_TYPES},
        "headers": speech["responses"]["200"]["headers"],
    }
    transcriptions = _form_operation(
        "createTranscription", "The text of an audio file", "AudioTranscriptionRequest", secured
    )
    translations = _form_operation(
        "createTranslation", "An audio file's speech in English", "AudioTranslationRequest", secured
    )
    return {
        f"{prefix}/audio/transcriptions": {"post": transcriptions},
        f"{prefix}/audio/translations": {"post": translations},
        f"{prefix}/audio/speech": {"post": speech},
    }
