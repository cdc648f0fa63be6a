"""POST /v1/messages/count_tokens (and /v3/...): Anthropic's token count of a Messages request, the exact
length of the prompt its chat template renders (the prompt_tokens its generation would report)."""

from ovserve.http.body import read_json
from ovserve.protocol.anthropic_messages import MESSAGES
from ovserve.protocol.anthropic_requests import parse_count_tokens


class CountTokensResource:
    def __init__(self, registry, options):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes
        self.api = MESSAGES  # the error responses look it up (http/errors.py): Anthropic's error shape here too

    def on_post(self, req, resp):
        model, chat_input = parse_count_tokens(read_json(req, self.max_body_bytes))
        servable = self.registry.require(model, "tokenize")
        resp.media = {"input_tokens": len(servable.tokenize_chat(chat_input))}
