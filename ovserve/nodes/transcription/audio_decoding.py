"""Uploaded audio -> float32 mono samples at the model's rate.

libsndfile (soundfile) reads WAV, FLAC, OGG (Vorbis, Opus), MP3 and AIFF by their content, whatever the
file's name says; scipy resamples. MP4/M4A, WebM/Matroska and raw AAC (ADTS) are decoded by FFmpeg through
PyAV, and only those: they are recognised by their first bytes and opened with that one demuxer, so FFmpeg
never probes its other demuxers (a playlist format would open the files or URLs it names). Anything else,
and anything corrupt, is an AudioDecodeError, which the engine turns into a 400 naming the file.
"""

import io
from math import gcd

import numpy
import soundfile
from scipy.signal import resample_poly

SUPPORTED_FORMATS = ("wav", "flac", "ogg", "mp3", "aiff", "m4a/mp4", "webm", "aac")


class AudioDecodeError(Exception):
    pass


def decode_audio(data, sample_rate, max_seconds=None):
    """The audio's samples as float32 mono at `sample_rate`; AudioDecodeError when unreadable or too long."""
    if not data:
        raise AudioDecodeError("The audio file is empty.")
    demuxer = ffmpeg_demuxer(data)
    if demuxer is not None:
        mono = _decode_with_ffmpeg(data, demuxer, sample_rate, max_seconds)
    else:
        mono, source_rate = _decode_with_libsndfile(data, max_seconds)
        if source_rate != sample_rate:
            common = gcd(int(source_rate), int(sample_rate))
            mono = resample_poly(mono, sample_rate // common, int(source_rate) // common)
    if mono.shape[0] == 0:
        raise AudioDecodeError("The audio file has no samples.")
    # A float file may hold NaN or huge values; the model takes [-1, 1].
    mono = numpy.clip(numpy.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    return numpy.ascontiguousarray(mono, dtype=numpy.float32)


def ffmpeg_demuxer(data):
    """The FFmpeg demuxer for the containers libsndfile can't read, from the file's first bytes; else None."""
    if data[4:8] == b"ftyp":
        return "mp4"  # also M4A, 3GP, QuickTime: FFmpeg's mov demuxer
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # also WebM
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS frames (an MPEG-1/2 layer field of 0); MP3's sync words have a non-zero layer
    return None


def _decode_with_libsndfile(data, max_seconds):
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as audio:
            seconds = audio.frames / audio.samplerate if audio.samplerate else 0
            _check_length(seconds, max_seconds)
            samples = audio.read(dtype="float32", always_2d=True)
            return samples.mean(axis=1), audio.samplerate
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioDecodeError(
            f"The audio file can't be decoded ({exc}); send one of: {', '.join(SUPPORTED_FORMATS)}."
        ) from None


def _decode_with_ffmpeg(data, demuxer, sample_rate, max_seconds):
    import av  # only for these containers

    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    chunks, total = [], 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            if not container.streams.audio:
                raise AudioDecodeError("The file has no audio stream.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                for resampled in resampler.resample(frame):
                    chunk = resampled.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                    if limit is not None and total > limit:
                        _check_length(total / sample_rate, max_seconds)
            for resampled in resampler.resample(None):
                chunks.append(resampled.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"The {demuxer} audio file can't be decoded ({exc}).") from None
    return numpy.concatenate(chunks) if chunks else numpy.zeros(0, dtype=numpy.float32)


def _check_length(seconds, max_seconds):
    if max_seconds is not None and seconds > max_seconds:
        raise AudioDecodeError(f"The audio is longer than {seconds:.1f} s; this model takes at most {max_seconds} s.")
