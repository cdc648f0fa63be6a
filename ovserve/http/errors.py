"""The one place where errors become HTTP responses, in the error shape of the API the request was for.

Typed errors (ovserve.errors) are told as they are; anything else is a bug, logged with its traceback
and told as a generic internal error, so no internals reach a client. The shape is the `error_body` of
the Api whose route the path reaches (ovserve/protocol/api.py), and so is the status (Api.error_status:
Anthropic's routes answer an overloaded server with 529); OpenAI's for every other path.
"""

import logging

import falcon

from ovserve.errors import ClientDisconnected, Overloaded, OvserveError
from ovserve.http.middleware import printable
from ovserve.protocol.errors import openai_error

log = logging.getLogger("ovserve.http")

_FALCON_ERROR_TYPES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "invalid_request_error",
}


def internal_error():
    return OvserveError("The server hit an internal error; it has been logged.")


def stream_error(error, request_id):
    """The error to tell a stream's client, its headers being sent: a typed error as it is, logged (at INFO
    for a client that left); anything else as the internal error, logged with its traceback."""
    if isinstance(error, OvserveError):
        level = logging.INFO if isinstance(error, ClientDisconnected) else logging.WARNING
        log.log(level, "the stream of request %s ended: %s", printable(request_id), error.message)
        return error
    log.exception("the stream of request %s failed", printable(request_id))
    return internal_error()


class FalconError(OvserveError):
    """One of Falcon's own errors (no route, wrong method, ...), told like ours."""

    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class ErrorResponses:
    def __init__(self, router):
        self._router = router

    def _render(self, req, resp, error):
        route = self._router.find(req.path, req)
        api = getattr(route[0], "api", None) if route else None
        resp.status = api.error_status(error) if api else error.status
        resp.content_type = falcon.MEDIA_JSON
        resp.media = (api.error_body if api else openai_error)(error)
        if isinstance(error, Overloaded):
            resp.set_header("Retry-After", str(error.retry_after))

    def typed(self, req, resp, error, params):
        self._render(req, resp, error)

    def unexpected(self, req, resp, error, params):
        if isinstance(error, falcon.HTTPError):  # Falcon's own: its handler serializes them with falcon_error
            raise error
        log.exception("unhandled error on %s %s", printable(req.method), printable(req.path))
        self._render(req, resp, internal_error())

    def falcon_error(self, req, resp, exception):
        status = exception.status_code
        message = exception.description or exception.title
        if status == 404 and not exception.description:
            message = f"No route for {req.method} {req.path}."
        if status == 405 and not exception.description:
            message = f"Method {req.method} is not allowed on {req.path}."
        self._render(req, resp, FalconError(status, _FALCON_ERROR_TYPES.get(status, "invalid_request_error"), message))


def install(app, router):
    responses = ErrorResponses(router)
    app.add_error_handler(Exception, responses.unexpected)
    app.add_error_handler(OvserveError, responses.typed)
    app.set_error_serializer(responses.falcon_error)
