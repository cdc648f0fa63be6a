"""GET /v3/openapi.json and /v1/openapi.json: the API's OpenAPI 3.1 document.

Built once, when the app is created, for the models this server serves; each prefix gets the
document of its own routes.
"""

import json

import falcon

from ovserve.http.openapi import build_openapi


class OpenApiResource:
    def __init__(self, model_names, prefixes, secured=False):
        self.documents = {
            f"{prefix}/openapi.json": json.dumps(
                build_openapi(model_names, prefix=prefix, secured=secured), ensure_ascii=False
            ).encode("utf-8")
            for prefix in prefixes
        }

    def on_get(self, req, resp):
        document = self.documents.get(req.path)
        if document is None:
            raise falcon.HTTPNotFound()
        resp.content_type = falcon.MEDIA_JSON
        resp.data = document
