"""A Transcript as OpenAI's subtitle and verbose formats: SubRip (srt), WebVTT (vtt), verbose_json."""


def _clock(seconds, decimal_mark):
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{decimal_mark}{milliseconds:03d}"


def _cues(transcript):
    """(start, end, text) of each cue: the segments, or one cue over the whole audio if the model gave none."""
    cues = [(segment.start, segment.end, segment.text.strip()) for segment in transcript.segments]
    if not cues and transcript.text:
        cues = [(0.0, transcript.duration, transcript.text)]
    return cues


def srt(transcript):
    blocks = [
        f"{index}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
        for index, (start, end, text) in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def vtt(transcript):
    blocks = [f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n" for start, end, text in _cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def verbose_json(transcript, task, with_segments=True):
    """OpenAI's verbose_json; only what the model tells (no log-probabilities or no-speech scores)."""
    body = {
        "task": task,
        "language": transcript.language,
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
        "usage": {"type": "duration", "seconds": round(transcript.duration, 3)},
    }
    if with_segments:
        body["segments"] = [
            {"id": index, "start": round(segment.start, 3), "end": round(segment.end, 3), "text": segment.text}
            for index, segment in enumerate(transcript.segments)
        ]
    if transcript.words:
        body["words"] = [
            {"word": word.word, "start": round(word.start, 3), "end": round(word.end, 3)} for word in transcript.words
        ]
    return body
