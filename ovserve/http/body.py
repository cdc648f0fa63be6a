"""Reading a JSON request body: size limit, content type, UTF-8 and JSON syntax, each a clear 4xx.

Content types: as OpenVINO Model Server does, a body sent without a type or with curl's default (`curl -d`
sends application/x-www-form-urlencoded) is read as JSON; a malformed one still gets a 400 saying why.
Other types (text/plain, multipart, XML, octet-stream...) get a 415: text/plain is what a web page may post
across origins without a CORS preflight, so refusing it keeps such pages from starting generations.
"""

import json
import re

from ovserve.errors import InvalidRequest, OvserveError, UnsupportedMediaType

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# A lone surrogate can only come from a \uD800-\uDFFF escape (UTF-8 can't encode one): most bodies
# have none, and the scan costs 13 ms on 15 MB where a walk of the parsed values costs more.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Types whose body is read as JSON, besides application/json and the *+json vendor types.
READ_AS_JSON = frozenset({"", "application/x-www-form-urlencoded"})


class BodyTooLarge(OvserveError):
    status = 413
    error_type = "invalid_request_error"


class BodyTimeout(OvserveError):
    """The client did not send the whole body within the server's --body-timeout-seconds."""

    status = 408
    error_type = "timeout"

    def __init__(self, message):
        super().__init__(message, code="body_timeout")


def is_json_content_type(content_type):
    """Whether a body sent with this Content-Type header (None when absent) is read as JSON."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in READ_AS_JSON or media_type == "application/json" or media_type.endswith("+json")


def read_json(req, max_bytes=DEFAULT_MAX_BODY_BYTES):
    if not is_json_content_type(req.content_type):
        media_type = req.content_type.split(";")[0].strip().lower()
        raise UnsupportedMediaType(f"Content-Type must be application/json, got '{media_type}'.")
    raw = read_body_bytes(req, max_bytes)
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    # "\ud800" escapes decode to lone surrogates, which no tokenizer (or UTF-8 response) can take.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(body):
        raise InvalidRequest("The request body contains an invalid Unicode escape (a lone surrogate).")
    return body


def read_body_bytes(req, max_bytes):
    """The body, at most max_bytes + 1 of it; with chunked transfer encoding (no Content-Length) too."""
    if req.content_length is not None:
        if req.content_length > max_bytes:
            raise BodyTooLarge(f"The request body is {req.content_length} bytes; the limit is {max_bytes}.")
        stream = req.bounded_stream
    elif req.env.get("wsgi.input_terminated"):
        # The server (gunicorn) decoded the chunks and ends the stream after the last one; Falcon's
        # bounded_stream would read nothing without a Content-Length.
        stream = req.stream
    else:
        return b""
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
    return raw


def _has_lone_surrogate(value):
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")
