"""Reading a JSON request body: size limit, content type, UTF-8 and JSON syntax, each a clear 4xx."""

import json

from ovserve.errors import InvalidRequest, OvserveError, UnsupportedMediaType

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class BodyTooLarge(OvserveError):
    status = 413
    error_type = "invalid_request_error"


def read_json(req, max_bytes=DEFAULT_MAX_BODY_BYTES):
    content_type = (req.content_type or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got '{content_type}'.")
    if req.content_length is not None and req.content_length > max_bytes:
        raise BodyTooLarge(f"The request body is {req.content_length} bytes; the limit is {max_bytes}.")
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    try:
        # "\ud800" escapes decode to lone surrogates, which no tokenizer (or UTF-8 response) can take.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("The request body contains an invalid Unicode escape (a lone surrogate).") from None
    return body


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")
