"""Framing of the typed messages (messages.py) between HTTP workers and engine processes.

A frame is a 4-byte big-endian length and the pickled `to_wire()` tuple of one message: its tag and
its fields, plain values only, rebuilt into the message on arrival. Pickle is used because both ends
are ovserve processes of one server, talking over a Unix socket in a folder only the server's user
can open; it is several times faster than JSON for the token-id lists that cross this wire every step.
"""

import pickle
import struct

from ovserve.runtime.messages import decode

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024


def encode(message):
    body = pickle.dumps(message.to_wire(), protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Accumulates received bytes and yields complete messages."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ValueError(f"frame of {length} bytes exceeds the limit")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            messages.append(decode(pickle.loads(bytes(self._buffer[HEADER.size : end]))))
            del self._buffer[:end]
        return messages
