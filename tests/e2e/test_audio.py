"""The audio servables next to the default LLM in one config: a tiny random Whisper (transcriptions,
translations) and a tiny SpeechT5 (speech), built here, converted with `ovserve export`, then brought by
`ovserve pull --add-to-config` from a stand-in hub, and driven by the official openai client and by raw
multipart forms. The models' words are noise; the shapes, formats, streams, limits
and every refusal are what is checked."""

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy
import pytest
import requests
import schemathesis
import soundfile
from openai import BadRequestError, OpenAI
from schemathesis.checks import not_a_server_error

from ovserve.http.openapi import build_openapi
from tests.audio_files import ffmpeg_tone, tone
from tests.e2e.hub_stand_in import HubStandIn
from tests.e2e.prepared_models import checked, run_ovserve
from tests.e2e.server import REPO, serving
from tests.e2e.tiny_audio_models import write_speaker_embedding

LLM = "HuggingFaceTB/SmolLM2-135M-Instruct"
WHISPER, SPEECH = "tiny-whisper", "tiny-speecht5"
MAX_AUDIO_SECONDS = 1600
HUB_ENV = {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "30", "HF_HUB_DOWNLOAD_TIMEOUT": "30"}
FUZZ_EXAMPLES = int(os.environ.get("OVSERVE_FUZZ_EXAMPLES", "15"))  # per operation and phase


def _build(kind, folder):
    script = REPO / "tests" / "e2e" / "tiny_audio_models.py"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(script), kind, str(folder)], env=env)


def _export(source, task, output, *extra):
    command = [sys.executable, "-m", "ovserve", "export", str(source), "--task", task, "--weight-format", "fp16"]
    command += ["--output-dir", str(output), *map(str, extra)]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _set_options(folder, **options):
    graph_file = folder / "graph.json"
    graph = json.loads(graph_file.read_text())
    graph["nodes"][0]["options"].update(options)
    graph_file.write_text(json.dumps(graph))


@pytest.fixture(scope="module")
def audio_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    config = root / "config.json"
    sources = root / "sources"
    builds = [_build("whisper", sources / "whisper"), _build("speecht5", sources)]
    assert [build.wait(timeout=300) for build in builds] == [0, 0]
    # Both at once: 2 cores.
    exports = [
        _export(sources / "whisper", "automatic_speech_recognition", root / "whisper"),
        _export(sources / "speecht5", "text_to_speech", root / "speecht5", "--vocoder", sources / "hifigan"),
    ]
    for export in exports:
        output = export.communicate(timeout=600)[0]
        assert export.returncode == 0, output[-4000:]
    # Served as `ovserve pull` brings them from a hub (a stand-in serving the exports, as the OpenVINO/...-ov
    # repositories would), each added to the config next to the default LLM by --add-to-config.
    config.write_text(json.dumps({"servables": [{"name": LLM, "base_path": str(REPO / "servables" / "smollm2")}]}))
    repositories = {}
    for name, exported in ((WHISPER, root / "whisper"), (SPEECH, root / "speecht5")):
        repositories[f"OpenVINO/{name}-ov"] = root / "hub" / name
        shutil.copytree(exported, root / "hub" / name, ignore=shutil.ignore_patterns("graph.json"))
    with HubStandIn(repositories) as hub:
        for repository, name in zip(repositories, (WHISPER, SPEECH)):
            pull = (
                "pull",
                repository,
                "--output-dir",
                root / "pulled" / name,
                "--add-to-config",
                config,
                "--name",
                name,
            )
            checked(run_ovserve(*pull, env=dict(HUB_ENV, HF_ENDPOINT=hub.endpoint, HF_HOME=str(root / "hf-home"))))
    served = root / "pulled"
    _set_options(served / WHISPER, max_audio_seconds=MAX_AUDIO_SECONDS, max_prompt_characters=200)
    write_speaker_embedding(served / SPEECH / "alice.bin", seed=1)
    _set_options(served / SPEECH, voices={"alice": "alice.bin"}, max_input_characters=300)
    return config


@pytest.fixture(scope="module")
def audio_server(audio_config, tmp_path_factory):
    with serving(audio_config, log_path=tmp_path_factory.mktemp("audio-server") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def client(audio_server):
    return OpenAI(base_url=audio_server.base + "/v3", api_key="unused", max_retries=0, timeout=120)


def _form(server, route, files=None, **fields):
    files = files if files is not None else {"file": ("tone.wav", tone(2), "audio/wav")}
    return requests.post(f"{server.base}/v3/audio/{route}", data={"model": WHISPER, **fields}, files=files, timeout=120)


def _refused(response, param):
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    return error["message"]


def test_models_list_the_audio_kinds_and_their_facts(audio_server):
    cards = {card["id"]: card for card in requests.get(audio_server.base + "/v3/models").json()["data"]}
    assert cards[LLM]["kind"] == "text_generation"
    assert cards[WHISPER]["kind"] == "automatic_speech_recognition"
    assert cards[WHISPER]["capabilities"] == ["audio.transcriptions", "audio.translations"]
    assert cards[WHISPER]["languages"] == ["de", "en", "es", "fr", "it"]
    assert cards[SPEECH]["kind"] == "text_to_speech" and cards[SPEECH]["capabilities"] == ["audio.speech"]
    assert cards[SPEECH]["voices"] == ["alice", "default"]
    assert cards[WHISPER]["architecture"]["modality"] == "audio->text"
    assert cards[SPEECH]["architecture"]["modality"] == "text->audio"


def test_transcription_formats_through_the_openai_client(client):
    audio = ("tone.flac", tone(3, sample_rate=44100, file_format="FLAC", channels=2), "audio/flac")
    as_json = client.audio.transcriptions.create(model=WHISPER, file=audio, language="en")
    assert isinstance(as_json.text, str) and as_json.usage.seconds == pytest.approx(3, abs=0.01)
    text = client.audio.transcriptions.create(model=WHISPER, file=audio, response_format="text")
    assert isinstance(text, str)
    srt = client.audio.transcriptions.create(model=WHISPER, file=audio, response_format="srt")
    assert srt == "" or " --> " in srt
    vtt = client.audio.transcriptions.create(model=WHISPER, file=audio, response_format="vtt")
    assert vtt.startswith("WEBVTT")
    verbose = client.audio.transcriptions.create(
        model=WHISPER, file=audio, response_format="verbose_json", timestamp_granularities=["segment"]
    )
    assert verbose.duration == pytest.approx(3, abs=0.01) and verbose.language in ("de", "en", "es", "fr", "it")
    for segment in verbose.segments:
        assert 0 <= segment.start <= segment.end <= 3.01


def test_translation_through_the_openai_client(client):
    translation = client.audio.translations.create(model=WHISPER, file=("tone.wav", tone(2), "audio/wav"))
    assert isinstance(translation.text, str)


def test_long_audio_is_transcribed_window_by_window_not_cut(client):
    verbose = client.audio.transcriptions.create(
        model=WHISPER, file=("long.wav", tone(65), "audio/wav"), response_format="verbose_json", language="en"
    )
    assert verbose.duration == pytest.approx(65, abs=0.01)
    assert all(0 <= segment.start <= segment.end <= 65.01 for segment in verbose.segments)


def test_streamed_transcript_events(client):
    events = list(
        client.audio.transcriptions.create(
            model=WHISPER, file=("long.wav", tone(40), "audio/wav"), language="en", stream=True
        )
    )
    assert events and events[-1].type == "transcript.text.done"
    deltas = [event.delta for event in events[:-1]]
    assert all(event.type == "transcript.text.delta" for event in events[:-1])
    assert "".join(deltas).strip() == events[-1].text


def test_odd_but_valid_audio_is_transcribed(audio_server):
    nan_wav = io.BytesIO()
    soundfile.write(nan_wav, numpy.full(8000, numpy.nan, dtype=numpy.float32), 16000, format="WAV", subtype="FLOAT")
    for name, data in (
        ("10 ms", tone(0.01)),  # fewer samples than Whisper's feature extractor takes
        ("just over 30 s", tone(30.003)),  # a last window of 48 samples
        ("NaN samples", nan_wav.getvalue()),
        ("8 kHz mp3", tone(2, sample_rate=8000, file_format="MP3")),
        ("m4a", ffmpeg_tone("mp4", "aac", 44100)),
        ("webm", ffmpeg_tone("webm", "libopus", 48000)),
    ):
        answer = _form(audio_server, "transcriptions", {"file": ("a", data, "application/octet-stream")})
        assert answer.status_code == 200, (name, answer.text)


def _engine_stats(server):
    answer = requests.get(f"{server.base}/v2/models/{WHISPER}/stats", timeout=10).json()
    return answer["nodes"]["transcription"].get("engine", {})


def _wait_for(condition, what, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def test_a_client_that_leaves_cancels_its_transcription(audio_server):
    """25 minutes of audio (50 windows) sent on a raw socket, closed once the engine holds the request:
    the engine drops it (counted as cancelled, its queue empties). The stats reach the workers once a
    second, so each step waits for what it needs: an idle engine first (a request of an earlier test still
    queued would pass for this one), then this request queued, then its cancellation counted."""
    _wait_for(lambda: _engine_stats(audio_server).get("queued_requests", 1) == 0, "an idle engine")
    cancelled = _engine_stats(audio_server).get("cancelled_requests", 0)
    prepared = requests.Request(
        "POST",
        f"{audio_server.base}/v3/audio/transcriptions",
        data={"model": WHISPER, "language": "en", "stream": "true"},
        files={"file": ("long.wav", tone(1500, 4000, subtype="PCM_U8"), "audio/wav")},
    ).prepare()
    head = "POST /v3/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in prepared.headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", audio_server.port), timeout=30) as client:
        client.sendall(head.encode() + prepared.body)
        _wait_for(lambda: _engine_stats(audio_server).get("queued_requests", 0) >= 1, "the engine to take it")
    _wait_for(lambda: _engine_stats(audio_server).get("cancelled_requests", 0) > cancelled, "the cancellation")
    stats = _engine_stats(audio_server)
    assert stats["cancelled_requests"] == cancelled + 1 and stats["queued_requests"] == 0


@pytest.mark.parametrize(
    "fields, files, param",
    [
        ({}, {"file": ("x.wav", b"RIFF this is no audio", "audio/wav")}, "file"),
        ({}, {"file": ("x.m4a", b"\x00\x00\x00\x18ftypM4A " + bytes(64), "audio/mp4")}, "file"),
        ({}, {"file": ("x.wav", b"", "audio/wav")}, "file"),
        ({}, {"file": ("long.wav", tone(MAX_AUDIO_SECONDS + 5, 4000, subtype="PCM_U8"), "audio/wav")}, "file"),
        ({"language": "xx"}, None, "language"),
        ({"language": "english"}, None, "language"),
        ({"response_format": "verbose_json", "timestamp_granularities[]": "word"}, None, "timestamp_granularities"),
        ({"timestamp_granularities[]": "segment"}, None, "timestamp_granularities"),
        ({"response_format": "mp3"}, None, "response_format"),
        ({"temperature": "hot"}, None, "temperature"),
        ({"temperature": "2"}, None, "temperature"),
        ({"stream": "maybe"}, None, "stream"),
        ({"stream": "true", "response_format": "srt"}, None, "stream"),
        ({"prompt": "p" * 201}, None, "prompt"),
        ({"surprise": "1"}, None, None),
        ({}, {"notes": ("notes.txt", b"no audio here", "text/plain")}, "file"),
    ],
)
def test_bad_transcription_forms_are_400_naming_the_field(audio_server, fields, files, param):
    _refused(_form(audio_server, "transcriptions", files, **fields), param)


def test_form_mistakes_are_400(audio_server):
    url = f"{audio_server.base}/v3/audio/transcriptions"
    twice = requests.post(url, data=[("model", WHISPER), ("model", WHISPER)], files={"file": ("a.wav", tone(1))})
    _refused(twice, "model")
    assert "multipart/form-data" in _refused(requests.post(url, json={"model": WHISPER}), None)
    _refused(_form(audio_server, "translations", language="en"), "language")
    missing_model = requests.post(url, files={"file": ("a.wav", tone(1), "audio/wav")})
    _refused(missing_model, "model")
    # The chat route still refuses a form.
    form_to_chat = requests.post(f"{audio_server.base}/v3/chat/completions", files={"file": ("a.wav", tone(1))})
    assert form_to_chat.status_code == 415
    # The engine is alive after all of these.
    assert _form(audio_server, "transcriptions").status_code == 200


def test_speech_formats_read_back(client, audio_server):
    wav = client.audio.speech.create(model=SPEECH, voice="alice", input="hello world", response_format="wav")
    samples, rate = soundfile.read(io.BytesIO(wav.content))
    assert rate == 16000 and samples.ndim == 1 and len(samples) > 0
    for response_format, container in (("flac", "FLAC"), ("mp3", "MP3"), ("opus", "OGG")):
        data = client.audio.speech.create(
            model=SPEECH, voice="default", input="one two three", response_format=response_format
        ).content
        info = soundfile.info(io.BytesIO(data))
        assert (info.format, info.samplerate) == (container, 16000)
    unasked = client.audio.speech.create(model=SPEECH, voice="alice", input="hello world")
    assert soundfile.info(io.BytesIO(unasked.content)).format == "MP3"  # OpenAI's default
    assert unasked.response.headers["content-type"] == "audio/mpeg"
    pcm = client.audio.speech.create(model=SPEECH, voice="alice", input="hello world", response_format="pcm")
    assert len(pcm.content) % 2 == 0 and len(pcm.content) > 0  # 16-bit samples at 24 kHz
    assert len(pcm.content) // 2 == pytest.approx(len(samples) * 24000 / 16000, abs=4)


def test_speech_with_streaming_response(client):
    with client.audio.speech.with_streaming_response.create(
        model=SPEECH, voice="alice", input="streamed speech", response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        data = b"".join(response.iter_bytes())
    assert soundfile.info(io.BytesIO(data)).samplerate == 16000


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"voice": "nobody"}, "voice"),
        ({"speed": 2.0}, "speed"),
        ({"speed": 9.0}, "speed"),
        ({"input": "x" * 301}, "input"),  # over max_input_characters
        ({"input": "x" * 250}, "input"),  # over the tiny model's 200 text positions
        ({"input": ""}, "input"),
        ({"response_format": "aac"}, "response_format"),
        ({"stream_format": "sse"}, "stream_format"),
    ],
)
def test_bad_speech_requests_are_400_naming_the_field(audio_server, changes, param):
    body = {"model": SPEECH, "input": "hello", "voice": "alice", **changes}
    _refused(requests.post(f"{audio_server.base}/v3/audio/speech", json=body, timeout=60), param)


def test_wrong_kind_of_model_is_400(client):
    with pytest.raises(BadRequestError):
        client.audio.speech.create(model=WHISPER, voice="alice", input="hello")
    with pytest.raises(BadRequestError):
        client.audio.transcriptions.create(model=LLM, file=("a.wav", tone(1), "audio/wav"))


def test_concurrent_audio_requests_all_answered(client):
    results, errors = [], []

    def speak(index):
        try:
            voice = "alice" if index % 2 else "default"
            audio = client.audio.speech.create(model=SPEECH, voice=voice, input=f"request {index}")
            results.append(soundfile.info(io.BytesIO(audio.content)).samplerate)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def transcribe(index):
        try:
            text = client.audio.transcriptions.create(model=WHISPER, file=("a.wav", tone(1 + index), "audio/wav"))
            results.append(text.usage.seconds)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=transcribe, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 7


# --- fuzzing the audio routes (multipart forms included), from the served OpenAPI document ------------

AUDIO_FUZZ = schemathesis.openapi.from_dict(
    build_openapi([LLM, WHISPER, SPEECH]),
    config=schemathesis.Config.from_dict(
        {
            "seed": 20261,
            "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 60,
        }
    ),
).include(path_regex="/v3/audio/")


def _openai_error_on_4xx(ctx, response, case):
    if 400 <= response.status_code < 500:
        error = json.loads(response.content)["error"]
        assert {"message", "type", "param", "code"} <= set(error) and error["message"], error


@AUDIO_FUZZ.parametrize()
def test_fuzzed_audio_requests_never_get_a_server_error(case, audio_server):
    case.call_and_validate(base_url=audio_server.base, checks=[not_a_server_error, _openai_error_on_4xx], timeout=60)
