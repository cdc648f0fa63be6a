"""The audio APIs at the edge and the audio codecs: forms -> typed inputs, transcripts -> formats, bytes <-> samples."""

import io
import json

import numpy
import pytest
import soundfile

from ovserve.errors import InvalidRequest
from ovserve.graph.audio_messages import TRANSLATE, Segment, Transcript, Word
from ovserve.http.multipart import MultipartForm, UploadedFile
from ovserve.nodes.speech.audio_encoding import PCM_SAMPLE_RATE, encode_speech
from ovserve.nodes.transcription.audio_decoding import AudioDecodeError, decode_audio
from ovserve.nodes.transcription.messages import TranscriptWindow
from ovserve.nodes.transcription.node import TranscriptionWork
from ovserve.protocol.api import RawAnswer
from ovserve.protocol.audio_speech import parse_speech
from ovserve.protocol.audio_transcriptions import parse_transcription_form, parse_translation_form
from ovserve.protocol.transcript_formats import srt, verbose_json, vtt
from tests.audio_files import ffmpeg_tone

AUDIO = UploadedFile("a.wav", "audio/wav", b"RIFF....")
TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi.",
    language="en",
    duration=3725.5,
    segments=(Segment(0.0, 1.25, " Hello there."), Segment(3601.0, 3725.5, " General Kenobi.")),
    words=(Word(0.0, 0.5, "Hello"),),
)


def _form(files=None, lists=(), **fields):
    text = {name: value if isinstance(value, list) else [value] for name, value in fields.items()}
    return MultipartForm(text, {"file": [AUDIO]} if files is None else files, frozenset(lists))


def test_a_form_becomes_a_transcription_input():
    call = parse_transcription_form(
        _form(
            lists=("timestamp_granularities",),
            model="whisper",
            language="en",
            prompt="p",
            temperature="0.4",
            response_format="verbose_json",
            timestamp_granularities=["segment", "word"],
        ),
        "req-1",
    )
    given = call.graph_input
    assert call.model == "whisper" and not call.stream
    assert (given.audio, given.language, given.prompt, given.temperature) == (AUDIO.data, "en", "p", 0.4)
    assert given.segment_timestamps and given.word_timestamps and given.request_id == "req-1"


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"temperature": "warm"}, "temperature"),
        ({"temperature": "nan"}, "temperature"),
        ({"temperature": "1.5"}, "temperature"),
        ({"stream": "yes"}, "stream"),
        ({"stream": "true", "response_format": "vtt"}, "stream"),
        ({"response_format": "ogg"}, "response_format"),
        ({"language": "en-US-x"}, "language"),
        ({"unknown_field": "1"}, None),
    ],
)
def test_bad_form_fields_name_the_field(fields, param):
    with pytest.raises(InvalidRequest) as refused:
        parse_transcription_form(_form(model="whisper", **fields))
    assert refused.value.param == param


def test_granularities_need_verbose_json_and_translations_take_no_language():
    form = _form(lists=("timestamp_granularities",), model="m", timestamp_granularities=["segment"])
    with pytest.raises(InvalidRequest) as refused:
        parse_transcription_form(form)
    assert refused.value.param == "timestamp_granularities"
    with pytest.raises(InvalidRequest) as translated:
        parse_translation_form(_form(model="m", language="de"))
    assert translated.value.param == "language"
    assert parse_translation_form(_form(model="m")).graph_input.task == TRANSLATE


def test_the_file_is_required():
    with pytest.raises(InvalidRequest) as refused:
        parse_transcription_form(_form(files={}, model="m"))
    assert refused.value.param == "file"


def test_subtitles_and_verbose_json():
    assert srt(TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n2\n01:00:01,000 --> 01:02:05,500\nGeneral Kenobi.\n"
    )
    assert vtt(TRANSCRIPT).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n")
    body = verbose_json(TRANSCRIPT, "transcribe")
    assert body["segments"][1] == {"id": 1, "start": 3601.0, "end": 3725.5, "text": " General Kenobi."}
    assert body["words"] == [{"word": "Hello", "start": 0.0, "end": 0.5}] and body["duration"] == 3725.5
    without_segments = Transcript("just text", "en", 2.0)
    assert srt(without_segments) == "1\n00:00:00,000 --> 00:00:02,000\njust text\n"


def test_text_formats_are_raw_answers():
    call = parse_transcription_form(_form(model="m", response_format="srt"))
    answer = call.writer.body(TRANSCRIPT)
    assert isinstance(answer, RawAnswer) and answer.content_type.startswith("text/plain")
    assert call.writer.body(TRANSCRIPT).data.decode().startswith("1\n")
    as_json = parse_transcription_form(_form(model="m")).writer.body(TRANSCRIPT)
    assert as_json == {"text": TRANSCRIPT.text, "usage": {"type": "duration", "seconds": 3725.5}}


def test_speech_request():
    call = parse_speech(
        {"model": "tts", "input": "hi", "voice": {"id": "alice"}, "speed": 1, "response_format": "flac"}
    )
    assert (call.graph_input.voice, call.graph_input.response_format, call.graph_input.speed) == ("alice", "flac", 1.0)
    for body, param in (
        ({"model": "tts", "input": "hi"}, "voice"),
        ({"model": "tts", "input": "hi", "voice": "a", "response_format": "aac"}, "response_format"),
        ({"model": "tts", "input": "hi", "voice": "a", "speed": 5}, "speed"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            parse_speech(body)
        assert refused.value.param == param


def _file(samples, rate, file_format):
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=file_format)
    return buffer.getvalue()


def test_decoding_resamples_to_mono_16k():
    stereo = numpy.zeros((44100, 2), dtype=numpy.float32)
    stereo[:, 0] = 0.5
    samples = decode_audio(_file(stereo, 44100, "FLAC"), 16000)
    assert samples.dtype == numpy.float32 and samples.shape == (16000,)
    assert abs(float(numpy.median(samples)) - 0.25) < 0.01  # the channels averaged


def test_undecodable_or_too_long_audio_is_refused():
    with pytest.raises(AudioDecodeError):
        decode_audio(b"not audio at all", 16000)
    with pytest.raises(AudioDecodeError):
        decode_audio(b"", 16000)
    with pytest.raises(AudioDecodeError, match="at most 1"):
        decode_audio(_file(numpy.zeros(8000 * 2, dtype=numpy.float32), 8000, "WAV"), 16000, max_seconds=1)


@pytest.mark.parametrize(
    "response_format, container", [("wav", "WAV"), ("flac", "FLAC"), ("mp3", "MP3"), ("opus", "OGG")]
)
def test_encoded_speech_reads_back(response_format, container):
    samples = numpy.sin(numpy.arange(16000) / 10).astype(numpy.float32) * 0.5
    data, content_type = encode_speech(samples, 16000, response_format)
    info = soundfile.info(io.BytesIO(data))
    assert (info.format, info.samplerate, info.channels) == (container, 16000, 1)
    assert content_type.startswith("audio/")


def test_pcm_is_16_bit_at_24k():
    data, content_type = encode_speech(numpy.zeros(16000, dtype=numpy.float32), 16000, "pcm")
    assert content_type == "audio/pcm" and len(data) == 2 * PCM_SAMPLE_RATE


class _Windows(list):
    """The engine stream of a transcription as the bridge gives it: its messages, then close()."""

    closed = False

    def close(self):
        self.closed = True


def test_streamed_transcript_events_window_by_window():
    windows = _Windows(
        [
            TranscriptWindow(" Hello", "<|en|>", 45.0, ((0.0, 2.0, " Hello"),), ()),
            TranscriptWindow(" world.", "<|en|>", 45.0, ((30.0, 31.5, " world."),), ()),
        ]
    )
    work = TranscriptionWork(windows)
    writer = parse_transcription_form(_form(model="m", stream="true")).writer
    events = [event for deltas in work for event in writer.chunks(deltas)] + writer.closing(work)
    payloads = [json.loads(event.decode().removeprefix("data: ")) for event in events]
    assert payloads == [
        {"type": "transcript.text.delta", "delta": " Hello"},
        {"type": "transcript.text.delta", "delta": " world."},
        {"type": "transcript.text.done", "text": "Hello world.", "usage": {"type": "duration", "seconds": 45.0}},
    ]
    transcript = work.transcript()
    assert transcript.language == "en" and [s.start for s in transcript.segments] == [0.0, 30.0]
    work.close()
    assert windows.closed


@pytest.mark.parametrize(
    "container, codec, rate", [("mp4", "aac", 44100), ("webm", "libopus", 48000), ("adts", "aac", 16000)]
)
def test_containers_libsndfile_cant_read_are_decoded_by_ffmpeg(container, codec, rate):
    samples = decode_audio(ffmpeg_tone(container, codec, rate), 16000)
    assert samples.dtype == numpy.float32 and abs(len(samples) - 16000) < 1600  # encoder padding aside
    with pytest.raises(AudioDecodeError, match="at most 0.5"):
        decode_audio(ffmpeg_tone(container, codec, rate), 16000, max_seconds=0.5)


@pytest.mark.parametrize(
    "data",
    [b"\x00\x00\x00\x18ftypM4A " + bytes(64), b"\x1a\x45\xdf\xa3" + bytes(100), b"\xff\xf1" + bytes(30)],
)
def test_corrupt_ffmpeg_containers_are_refused(data):
    with pytest.raises(AudioDecodeError):
        decode_audio(data, 16000)
