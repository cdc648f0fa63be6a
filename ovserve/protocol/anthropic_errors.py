"""Anthropic's error object and statuses: the one place they are written, for the HTTP answers of the
Messages routes and for the `error` event of their streams.

Anthropic names the error by its status (invalid_request_error for 400, not_found_error for 404, ...),
and tells an overloaded server with 529, which its SDKs retry. Our typed errors keep their statuses
otherwise, so a client sees the same failure on /v1/messages as on /v1/chat/completions.
"""

from ovserve.errors import Overloaded

OVERLOADED_STATUS = 529  # Anthropic's status for "overloaded_error"
_TYPES_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    OVERLOADED_STATUS: "overloaded_error",
}


def anthropic_status(error):
    """The HTTP status Anthropic gives this typed error (an OvserveError)."""
    return OVERLOADED_STATUS if isinstance(error, Overloaded) else error.status


def anthropic_error_type(error):
    status = anthropic_status(error)
    if status in _TYPES_BY_STATUS:
        return _TYPES_BY_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_error(error):
    """Anthropic's error object for a typed error. Our `param` has no place in it, so the message names
    the field (the field is in the message already for schema errors; the others get it appended)."""
    message = error.message
    if error.param and error.param not in message:
        message = f"{error.param}: {message}"
    return {"type": "error", "error": {"type": anthropic_error_type(error), "message": message}}
