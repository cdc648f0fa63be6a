"""Tokens: POST /v3/tokenize and /v3/detokenize (count tokens against the context before sending a
request), and vLLM's root routes, /tokenize, /detokenize and GET /tokenizer_info, which lm-eval's remote
tokenizer and vLLM tools call.

The root routes run the same handlers; as vLLM's, they take a body without `model` (the default model:
the first servable that tokenizes) and /tokenizer_info takes `?model=`.
"""

from ovserve.errors import InvalidRequest, NotReady, UnsupportedByModel
from ovserve.http.body import read_json
from ovserve.protocol.requests import parse_detokenize, parse_tokenize

TOKENIZER_CLASS = "openvino_genai.Tokenizer"  # what tokenizes here (vLLM names its tokenizer's class)


def default_tokenizing_model(registry):
    """The model the root routes use when a request names none: the first servable that tokenizes."""
    return next((servable.name for servable in registry if "tokenize" in servable.capabilities), None)


def _with_model(body, registry, model_optional):
    """The body, naming the default model when it names none and the route allows that (vLLM's routes)."""
    if model_optional and isinstance(body, dict) and body.get("model") is None:
        default_model = default_tokenizing_model(registry)
        if default_model is not None:
            return {**body, "model": default_model}
    return body


class TokenizeResource:
    def __init__(self, registry, options, model_optional=False):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes
        self.model_optional = model_optional  # False: the request must name its model (the /v3 routes)

    def on_post(self, req, resp):
        body = _with_model(read_json(req, self.max_body_bytes), self.registry, self.model_optional)
        model, chat_input, text, add_special_tokens = parse_tokenize(body)
        if body.get("return_token_strs"):
            # vLLM's option; its token strings are the vocabulary's pieces, which this tokenizer doesn't list.
            raise InvalidRequest(
                "'return_token_strs' is not supported: this server returns token ids only.",
                param="return_token_strs",
                code="unsupported_value",
            )
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
    def __init__(self, registry, options, model_optional=False):
        self.registry = registry
        self.max_body_bytes = options.max_body_bytes
        self.model_optional = model_optional

    def on_post(self, req, resp):
        body = _with_model(read_json(req, self.max_body_bytes), self.registry, self.model_optional)
        model, tokens = parse_detokenize(body)
        resp.media = {"model": model, "prompt": self.registry.require(model, "tokenize").detokenize(tokens)}


class TokenizerInfoResource:
    """GET /tokenizer_info[?model=NAME]: vLLM's answer, the facts of tokenizer_config.json a client needs to
    tokenize as the server does. lm-eval's remote tokenizer reads eos_token, bos_token and chat_template
    (and tokenizes eos_token itself to learn its id)."""

    def __init__(self, registry):
        self.registry = registry

    def on_get(self, req, resp):
        model = req.get_param("model") or default_tokenizing_model(self.registry)
        if model is None:
            raise InvalidRequest("This server serves no model that tokenizes.", param="model")
        resp.media = tokenizer_info(self.registry.require(model, "tokenize"))


def tokenizer_info(servable):
    terminal = servable.terminal
    if not servable.is_ready():
        raise NotReady(f"The model '{servable.name}' is still loading; retry shortly.")
    tokenizer, prompts = getattr(terminal, "tokenizer", None), getattr(terminal, "prompts", None)
    if tokenizer is None or prompts is None:  # a plugin node that tokenizes without an LLM tokenizer
        raise UnsupportedByModel(
            f"The model '{servable.name}' does not describe its tokenizer.", param="model", code="unsupported_value"
        )
    info = {"model": servable.name, "tokenizer_class": TOKENIZER_CLASS, "model_max_length": tokenizer.max_model_len}
    for name, token in tokenizer.special_tokens.items():
        if token:  # an empty text: the model has no such token
            info[name] = token
            ids = terminal.tokenize_text(token, add_special_tokens=False)
            if len(ids) == 1:
                info[f"{name}_id"] = ids[0]
    # The template this server renders (a node's chat_template option, the model's, or the ChatML fallback).
    info["chat_template"] = prompts.template.source
    return info
