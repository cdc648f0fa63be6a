"""The one place where errors become HTTP responses in OpenAI's error shape."""

import logging

import falcon

from ovserve.errors import OvserveError, Overloaded
from ovserve.http.middleware import printable
from ovserve.protocol.responses import error_body

log = logging.getLogger("ovserve.http")

_FALCON_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 415: "invalid_request_error"}


def handle_ovserve_error(req, resp, error, params):
    resp.status = error.status
    resp.media = error_body(error)
    if isinstance(error, Overloaded):
        resp.set_header("Retry-After", str(error.retry_after))


def handle_unexpected(req, resp, error, params):
    if isinstance(error, falcon.HTTPError):  # falcon's own (routing, method) errors
        raise error
    log.exception("unhandled error on %s %s", printable(req.method), printable(req.path))
    resp.status = 500
    resp.media = {"error": {"message": "The server hit an internal error; it has been logged.",
                            "type": "internal_error", "param": None, "code": None}}


def serialize_falcon_error(req, resp, exception):
    """Falcon's own errors (unknown route, wrong method, ...) in OpenAI's shape too."""
    status = exception.status_code
    message = exception.description or exception.title
    if status == 404 and not exception.description:
        message = f"No route for {req.method} {req.path}."
    if status == 405 and not exception.description:
        message = f"Method {req.method} is not allowed on {req.path}."
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"error": {"message": message, "type": _FALCON_ERROR_TYPES.get(status, "invalid_request_error"),
                            "param": None, "code": None}}


def install(app):
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(OvserveError, handle_ovserve_error)
    app.set_error_serializer(serialize_falcon_error)
