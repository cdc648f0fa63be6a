"""Audio files the tests synthesise: a 440 Hz tone written by libsndfile (soundfile) or by FFmpeg (PyAV)."""

import io

import numpy
import soundfile


def tone_samples(seconds, sample_rate):
    t = numpy.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * numpy.sin(2 * numpy.pi * 440 * t)).astype(numpy.float32)


def tone(seconds, sample_rate=16000, file_format="WAV", channels=1, subtype=None):
    """A tone as the bytes of a file libsndfile writes (WAV, FLAC, OGG, MP3...; subtype e.g. PCM_U8)."""
    samples = tone_samples(seconds, sample_rate)
    if channels == 2:
        samples = numpy.stack([samples, samples], axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=file_format, subtype=subtype)
    return buffer.getvalue()


def ffmpeg_tone(container, codec, sample_rate, seconds=1.0):
    """A tone as the bytes of a file FFmpeg writes: e.g. ("mp4", "aac"), ("webm", "libopus"), ("adts", "aac")."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=sample_rate)
        stream.layout = "mono"
        samples = tone_samples(seconds, sample_rate)
        step = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), step):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + step].reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()
