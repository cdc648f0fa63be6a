"""API keys and CORS.

When keys are configured, every request needs `Authorization: Bearer KEY` or `x-api-key: KEY` (as
Anthropic's clients send it; 401 in the route's API's error shape otherwise), except on the routes
given as open: the health probes (/v2/health/*, vLLM's /health). The check asks the app's own router
which resource a path reaches, so no spelling of a path (`//v3/...`, `/%2Fv3/...`, a trailing slash)
can reach a resource that the check did not see; a path that reaches nothing (a sink, an
unknown route) needs the key too. CORS preflights are answered before the check (browsers send them
without credentials). Keys are compared in constant time.
"""

import hmac
import os

from ovserve.errors import OvserveError


class Unauthorized(OvserveError):
    status = 401
    error_type = "invalid_request_error"

    def __init__(self, message):
        super().__init__(message, code="invalid_api_key")


def load_api_keys(key_file=None, environment=os.environ):
    keys = []
    if key_file:
        with open(key_file, encoding="utf-8") as handle:
            keys += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    if environment.get("OVSERVE_API_KEY"):
        keys.append(environment["OVSERVE_API_KEY"].strip())
    return tuple(keys)


class ApiKeyMiddleware:
    """Default deny: only the resources in `open_resources` answer without a key."""

    def __init__(self, keys, router, open_resources):
        self._keys = [key.encode() for key in keys]
        self._router = router
        self._open = {id(resource) for resource in open_resources}

    def _reaches_open_resource(self, req):
        route = self._router.find(req.path, req)
        return route is not None and id(route[0]) in self._open

    def process_request(self, req, resp):
        if self._reaches_open_resource(req):
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            # Anthropic's clients send their key as x-api-key.
            token = req.get_header("X-Api-Key") or ""
        if not token.strip():
            raise Unauthorized("Missing API key: send 'Authorization: Bearer YOUR_KEY' or 'x-api-key: YOUR_KEY'.")
        given = token.strip().encode()
        if not any(hmac.compare_digest(given, key) for key in self._keys):
            raise Unauthorized("Incorrect API key provided.")


# Offered when a preflight names no headers: OpenAI's and Anthropic's clients' own.
_ALLOWED_HEADERS = "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, x-request-id"


class CorsMiddleware:
    """Answers preflight requests and marks responses for the configured origins ('*' for any)."""

    def __init__(self, origins):
        self._origins = set(origins)

    def _allowed(self, origin):
        return origin and ("*" in self._origins or origin in self._origins)

    def process_request(self, req, resp):
        origin = req.get_header("Origin")
        if req.method == "OPTIONS" and self._allowed(origin) and req.get_header("Access-Control-Request-Method"):
            resp.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            resp.set_header(
                "Access-Control-Allow-Headers",
                req.get_header("Access-Control-Request-Headers") or _ALLOWED_HEADERS,
            )
            resp.set_header("Access-Control-Max-Age", "600")
            resp.complete = True

    def process_response(self, req, resp, resource, req_succeeded):
        origin = req.get_header("Origin")
        if self._allowed(origin):
            resp.set_header("Access-Control-Allow-Origin", "*" if "*" in self._origins else origin)
            resp.set_header("Access-Control-Expose-Headers", "x-request-id")
            if "*" not in self._origins:
                resp.append_header("Vary", "Origin")
