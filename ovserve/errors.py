"""The error types of ovserve.

Everything that can go wrong for a client is one of these types; the HTTP edge maps each to a
status and OpenAI's error object in one place (`ovserve.http.errors`). Code below the HTTP edge
raises these and never builds a response itself.
"""

from typing import Optional


class OvserveError(Exception):
    """Base of every error a client may see."""

    status = 500
    error_type = "internal_error"

    def __init__(self, message: str, *, param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(OvserveError):
    """The request is malformed or a value is out of range (the client must change it)."""

    status = 400
    error_type = "invalid_request_error"


class ModelNotFound(OvserveError):
    status = 404
    error_type = "invalid_request_error"

    def __init__(self, message, *, param="model", code="model_not_found"):
        super().__init__(message, param=param, code=code)


class NotFound(OvserveError):
    """A thing the request names by its id (a stored response) does not exist, or no longer does."""

    status = 404
    error_type = "invalid_request_error"


class UnsupportedByModel(InvalidRequest):
    """The model exists but can't serve this kind of request (e.g. chat on an embeddings model)."""


class UnsupportedMediaType(OvserveError):
    status = 415
    error_type = "invalid_request_error"


class NotReady(OvserveError):
    """The servable exists but its engine is loading, restarting or gone."""

    status = 503
    error_type = "service_unavailable"


class Overloaded(OvserveError):
    status = 503
    error_type = "overloaded"

    def __init__(self, message, *, retry_after=1, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RequestTimeout(OvserveError):
    """The request ran longer than the servable's request timeout and was stopped."""

    status = 408
    error_type = "timeout"


class ClientDisconnected(OvserveError):
    """The client went away; its generation was cancelled. Never sent (there is nobody to send it to)."""

    status = 499
    error_type = "client_disconnected"


class EngineFailure(OvserveError):
    """The engine failed this request (the server stays up, other requests are unaffected)."""

    status = 500
    error_type = "engine_error"


class ConfigError(Exception):
    """A configuration file is invalid. Raised at load time; stops start-up."""

    def __init__(self, file, json_path: Optional[str], problem: str, fix: Optional[str] = None):
        self.file = str(file)
        self.json_path = json_path
        self.problem = problem
        self.fix = fix
        # Imported here: this module sits below every package; a YAML file's lines are known once it was read.
        from ovserve.config.documents import line_of

        self.line = line_of(file, json_path)
        location = f"{self.file}, line {self.line}" if self.line else self.file
        text = f"{location}: at {json_path or '$'}: {problem}"
        if fix:
            text += f" — {fix}"
        super().__init__(text)
