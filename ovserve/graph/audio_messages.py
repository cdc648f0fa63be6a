"""The typed inputs and results of the audio servables (transcription, translation, speech).

They are what the protocol modules give the graph and get back: no HTTP and no OpenVINO types here.
"""

from dataclasses import dataclass
from typing import Optional

TRANSCRIBE, TRANSLATE = "transcribe", "translate"


@dataclass(frozen=True)
class TranscriptionInput:
    audio: bytes  # the uploaded file as sent (wav, flac, ogg, mp3...); decoded by the engine
    task: str = TRANSCRIBE  # or TRANSLATE (into English)
    language: Optional[str] = None  # ISO-639-1 ("en"); None: the model detects it
    prompt: Optional[str] = None
    temperature: float = 0.0
    segment_timestamps: bool = False
    word_timestamps: bool = False
    request_id: str = ""


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class TranscriptDelta:
    """The text of one window of audio (30 s for Whisper), as a stream gives it.

    finish_reason is always None: the request pipeline's metrics read it as they read a generation's deltas.
    """

    text: str
    finish_reason: Optional[str] = None


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # ISO-639-1, as given or detected ("" when the model does not tell)
    duration: float  # seconds of audio
    segments: tuple = ()  # of Segment, when segment timestamps were asked for
    words: tuple = ()  # of Word, when word timestamps were asked for


@dataclass(frozen=True)
class SpeechInput:
    text: str
    voice: str  # a voice name the servable configures ("default": the model's own speaker)
    response_format: str = "wav"  # wav, pcm, flac, mp3, opus
    speed: float = 1.0
    request_id: str = ""


@dataclass(frozen=True)
class Speech:
    """Spoken audio, encoded in the format asked for."""

    data: bytes
    content_type: str
    sample_rate: int
    seconds: float
