"""A minimal asyncio client for streaming chat completions from any OpenAI-compatible server.

Raw sockets, HTTP/1.1, one connection per request, chunked transfer encoding, server-sent events:
nothing between the socket and the timestamps. A chunk's time is when its bytes reached this
process; a request's send time is just before it connects (connecting is part of what a client
waits for).
"""

import asyncio
import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

REQUEST_TIMEOUT_S = 600


class Endpoint:
    """Where the server is: scheme, host, port, the API prefix (e.g. /v3) and the API key, if any."""

    def __init__(self, url, api_key=None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be an http:// or https:// URL, not '{url}'")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.url = url.rstrip("/")
        self.root = f"{parts.scheme}://{parts.netloc}"
        self.api_key = api_key

    def headers(self):
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def http_get(endpoint, path, timeout=5.0):
    """(status, body bytes) of GET root+path; status None if the server can't be reached."""
    request = urllib.request.Request(endpoint.root + path, headers=endpoint.headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, http.client.HTTPException):
        return None, b""


def first_model(endpoint):
    """The id of the first model GET {url}/models lists; ValueError naming the problem otherwise."""
    status, body = http_get(endpoint, endpoint.prefix + "/models")
    if status != 200:
        raise ValueError(f"GET {endpoint.url}/models answered {status or 'nothing'}; pass --model")
    try:
        models = json.loads(body).get("data") or []
    except (ValueError, AttributeError):
        models = []
    if not models:
        raise ValueError(f"{endpoint.url}/models lists no model; pass --model")
    return models[0]["id"]


async def read_head(reader):
    """Status code and lower-cased headers of an HTTP/1.1 response."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def body_pieces(reader, headers):
    """Yield (bytes, arrival time): one piece per transfer chunk if chunked, else per socket read."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, if any
                    pass
                return
            data = await reader.readexactly(size + 2)  # the chunk and its CRLF
            yield data[:-2], time.perf_counter()
    elif "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining > 0:
            data = await reader.read(min(remaining, 1 << 16))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            yield data, time.perf_counter()
    else:
        while data := await reader.read(1 << 16):
            yield data, time.perf_counter()


class SseParser:
    """Splits a byte stream into the `data:` payloads of server-sent events."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data.replace(b"\r", b"")
        payloads = []
        while b"\n\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\n\n", 1)
            lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
            if lines:
                payloads.append(b"\n".join(lines).decode("utf-8"))
        return payloads


def has_content(message):
    """True if an OpenAI stream chunk carries generated text (chat delta or completion text)."""
    for choice in message.get("choices") or []:
        if (choice.get("delta") or {}).get("content") or choice.get("text"):
            return True
    return False


def chat_request_bytes(endpoint, model, prompt, max_tokens, ignore_eos=True):
    fields = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if ignore_eos:
        fields["ignore_eos"] = True  # not OpenAI's, but vLLM's and ovserve's: every answer gets max_tokens
    body = json.dumps(fields).encode("utf-8")
    extra = "".join(f"{name}: {value}\r\n" for name, value in endpoint.headers().items())
    head = (
        f"POST {endpoint.prefix}/chat/completions HTTP/1.1\r\n"
        f"Host: {endpoint.host}:{endpoint.port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\nUser-Agent: ovserve-bench\r\n"
        f"{extra}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def new_record():
    return {
        "send": time.perf_counter(),
        "chunks": [],
        "end": None,
        "tokens": None,
        "prompt_tokens": None,
        "usage": None,
        "error": None,
    }


async def stream_chat(endpoint, model, prompt, max_tokens, ignore_eos=True, timeout=REQUEST_TIMEOUT_S):
    """One streaming chat completion on a fresh connection; returns its request record."""
    record = new_record()

    async def exchange():
        reader, writer = await asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=ssl.create_default_context() if endpoint.tls else None
        )
        try:
            writer.write(chat_request_bytes(endpoint, model, prompt, max_tokens, ignore_eos))
            await writer.drain()
            await read_stream(reader, record)
        finally:
            writer.close()

    try:
        await asyncio.wait_for(exchange(), timeout)
    except asyncio.TimeoutError:  # not an OSError before Python 3.11
        record["error"] = f"no complete answer within {timeout:g} s"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    return record


async def read_stream(reader, record):
    """Read one SSE response into `record`: content chunk arrival times, token counts, errors.

    A server that sends no usage chunk (stream_options unsupported) is not an error: the record's
    tokens are then its content chunks, and `usage` is False so the report can say so.
    """
    status, headers = await read_head(reader)
    if status != 200:
        body = b"".join([piece async for piece, _ in body_pieces(reader, headers)])
        record["error"] = f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}"
        return
    parser, done = SseParser(), False
    async for piece, arrived in body_pieces(reader, headers):
        for payload in parser.feed(piece):
            record["end"] = arrived
            if payload == "[DONE]":
                done = True
                continue
            message = json.loads(payload)
            if "error" in message:
                error = message["error"]
                record["error"] = f"stream error: {error.get('message') if isinstance(error, dict) else error}"
            if has_content(message):
                record["chunks"].append(arrived)
            if message.get("usage"):
                record["tokens"] = message["usage"].get("completion_tokens")
                record["prompt_tokens"] = message["usage"].get("prompt_tokens")
    if record["error"] is None and not done:
        record["error"] = "stream ended without [DONE]"
    record["usage"] = record["tokens"] is not None
    if not record["usage"]:
        record["tokens"] = len(record["chunks"])
