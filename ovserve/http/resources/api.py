"""POST on an API's route (/v3/chat/completions, /v3/completions, /v3/embeddings, /v3/rerank): the
request pipeline answers it; `api` says how that API reads and writes (ovserve/protocol/api.py)."""


class ApiResource:
    def __init__(self, pipeline, api):
        self.pipeline = pipeline
        self.api = api  # the error responses look it up too (http/errors.py), for the API's error shape

    def on_post(self, req, resp):
        self.pipeline.answer(req, resp, self.api)
