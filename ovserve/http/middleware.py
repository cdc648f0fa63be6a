"""Request ids: taken from `x-request-id` when the client sends one, else made; echoed and logged."""

import logging
import uuid

log = logging.getLogger("ovserve.access")


class RequestIdMiddleware:
    def process_request(self, req, resp):
        given = req.get_header("x-request-id")
        req.context.request_id = given[:128] if given else uuid.uuid4().hex

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("x-request-id", req.context.request_id)
