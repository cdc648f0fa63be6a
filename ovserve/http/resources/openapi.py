"""GET /v3/openapi.json and /v1/openapi.json: the API's OpenAPI 3.1 document.

Built for the models this server serves, and built again when that list changes (a reload added or
removed one); each prefix gets the document of its own routes.
"""

import json

import falcon

from ovserve.http.openapi import build_openapi


class OpenApiResource:
    def __init__(self, registry, prefixes, secured=False):
        self.registry = registry
        self.prefixes = prefixes
        self.secured = secured
        self._built_for = None
        self.documents = {}

    def _current_documents(self):
        names = tuple(self.registry.names())
        if names != self._built_for:
            self.documents = {
                f"{prefix}/openapi.json": json.dumps(
                    build_openapi(list(names), prefix=prefix, secured=self.secured), ensure_ascii=False
                ).encode("utf-8")
                for prefix in self.prefixes
            }
            self._built_for = names
        return self.documents

    def on_get(self, req, resp):
        document = self._current_documents().get(req.path)
        if document is None:
            raise falcon.HTTPNotFound()
        resp.content_type = falcon.MEDIA_JSON
        resp.data = document
