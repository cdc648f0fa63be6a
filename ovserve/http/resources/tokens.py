"""POST /v3/tokenize and /v3/detokenize: count tokens against the context before sending a request."""

from ovserve.http.body import read_json
from ovserve.protocol.requests import parse_detokenize, parse_tokenize


class TokenizeResource:
    def __init__(self, registry, options):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes

    def on_post(self, req, resp):
        model, chat_input, text, add_special_tokens = parse_tokenize(read_json(req, self.max_body_bytes))
        servable = self.registry.require(model, "tokenize")
        tokens = (
            servable.tokenize_chat(chat_input)
            if chat_input is not None
            else servable.tokenize_text(text, add_special_tokens)
        )
        resp.media = {
            "model": model,
            "tokens": tokens,
            "count": len(tokens),
            "max_model_len": servable.terminal.describe().get("max_model_len"),
        }


class DetokenizeResource:
    def __init__(self, registry, options):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes

    def on_post(self, req, resp):
        model, tokens = parse_detokenize(read_json(req, self.max_body_bytes))
        resp.media = {"model": model, "prompt": self.registry.require(model, "tokenize").detokenize(tokens)}
