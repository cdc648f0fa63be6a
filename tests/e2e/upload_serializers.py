"""How schemathesis writes the file parts of fuzzed multipart requests (audio and image uploads).

The OpenAPI document gives upload parts a media type (audio/wav, image/png) that schemathesis has no
serializer for, so a generated value — bytes, or a string, a number, `false` in its negative cases — could
not be sent at all. Each goes out as bytes here: bytes as they are, anything else as the JSON text it
would have been, so the server sees the malformed file a careless client would send.
"""

import json

import schemathesis

from ovserve.http.openapi.openai_audio import AUDIO_TYPES

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")


@schemathesis.serializer(*AUDIO_TYPES, *IMAGE_TYPES)
def upload_bytes(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    return json.dumps(value).encode("utf-8")
