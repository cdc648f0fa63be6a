"""Request ids and the access log.

The id comes from the client's `x-request-id` when it sends one, else it is made here; it is echoed
in the response and written in the access log line, so a client's report can be found in the logs.

Whatever a client sent is written to a log through `printable`: the path is URL-decoded before it
gets here (`%0A` is a newline), so without escaping one request could write a forged log line.
"""

import logging
import time
import uuid

log = logging.getLogger("ovserve.access")


def _escape(character):
    code = ord(character)
    if character == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escaped(text, keep):
    return "".join(c if keep(c) else _escape(c) for c in text)


def printable(text):
    """`text` with every character that a terminal or a log reader could act on (control characters,
    line and paragraph separators, bidirectional overrides), and the backslash, as a backslash escape."""
    text = str(text)
    if text.isprintable() and "\\" not in text:
        return text
    return _escaped(text, lambda c: c.isprintable() and c != "\\")


class PrintableFormatter(logging.Formatter):
    """One record is one line, whatever a request put into it: escapes what is not printable in each
    record's message (tracebacks stay as they are). Backslashes stay, so text that went through
    `printable` comes out as it went in."""

    def formatMessage(self, record):
        if not record.message.isprintable():
            record.message = _escaped(record.message, str.isprintable)
        return super().formatMessage(record)


class RequestIdMiddleware:
    def process_request(self, req, resp):
        given = req.get_header("x-request-id")
        req.context.request_id = given[:128] if given else uuid.uuid4().hex
        req.context.started = time.monotonic()

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("x-request-id", req.context.request_id)
        elapsed_ms = (time.monotonic() - req.context.started) * 1000
        streaming = " (streaming)" if resp.stream is not None else ""
        log.info(
            "%s %s %s %.1fms request_id=%s%s",
            printable(req.method),
            printable(req.path),
            resp.status_code,
            elapsed_ms,
            printable(req.context.request_id),
            streaming,
        )
