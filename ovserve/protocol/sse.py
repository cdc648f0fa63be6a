"""Server-sent events framing, as OpenAI's streaming API uses it."""

import json

DONE = b"data: [DONE]\n\n"


def event(payload):
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"
