"""Speech samples -> the bytes of a response_format, with libsndfile (soundfile).

pcm is OpenAI's: raw 16-bit signed little-endian mono at 24 kHz, so the samples are resampled to 24 kHz for it;
the other formats keep the model's rate in their headers.
"""

import io
from math import gcd

import numpy
import soundfile
from scipy.signal import resample_poly

PCM_SAMPLE_RATE = 24000
# response_format -> (libsndfile format, subtype, Content-Type)
FORMATS = {
    "wav": ("WAV", "PCM_16", "audio/wav"),
    "flac": ("FLAC", "PCM_16", "audio/flac"),
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
    "opus": ("OGG", "OPUS", "audio/ogg"),
}
CONTENT_TYPES = {name: content_type for name, (_, _, content_type) in FORMATS.items()} | {"pcm": "audio/pcm"}


def resample(samples, source_rate, target_rate):
    if source_rate == target_rate:
        return samples
    common = gcd(source_rate, target_rate)
    return resample_poly(samples, target_rate // common, source_rate // common).astype(numpy.float32)


def encode_speech(samples, sample_rate, response_format):
    """(bytes, Content-Type) of mono float32 samples in the format asked for."""
    samples = numpy.clip(numpy.asarray(samples, dtype=numpy.float32).reshape(-1), -1.0, 1.0)
    if response_format == "pcm":
        pcm = resample(samples, sample_rate, PCM_SAMPLE_RATE)
        return (numpy.clip(pcm, -1.0, 1.0) * 32767).astype("<i2").tobytes(), CONTENT_TYPES["pcm"]
    container, subtype, content_type = FORMATS[response_format]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=container, subtype=subtype)
    return buffer.getvalue(), content_type
