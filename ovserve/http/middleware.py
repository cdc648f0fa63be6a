"""Request ids and the access log.

The id comes from the client's `x-request-id` when it sends one, else it is made here; it is echoed
in the response and written in the access log line, so a client's report can be found in the logs.
"""

import logging
import time
import uuid

log = logging.getLogger("ovserve.access")


class RequestIdMiddleware:
    def process_request(self, req, resp):
        given = req.get_header("x-request-id")
        req.context.request_id = given[:128] if given else uuid.uuid4().hex
        req.context.started = time.monotonic()

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("x-request-id", req.context.request_id)
        elapsed_ms = (time.monotonic() - req.context.started) * 1000
        streaming = " (streaming)" if resp.stream is not None else ""
        log.info("%s %s %s %.1fms request_id=%s%s", req.method, req.path, resp.status[:3] if isinstance(resp.status, str) else resp.status,
                 elapsed_ms, req.context.request_id, streaming)
