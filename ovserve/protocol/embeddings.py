"""OpenAI's embeddings request and response: POST /v3/embeddings."""

import base64

import numpy

from ovserve.graph.messages import EmbeddingsInput
from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.validation import validate_body


def parse_embeddings(body, request_id=""):
    """Return (model, EmbeddingsInput, encoding_format) or raise InvalidRequest."""
    validate_body("embeddings", body)
    given = body["input"]
    texts, token_ids = (), ()
    if isinstance(given, str):
        texts = (given,)
    elif isinstance(given[0], str):
        texts = tuple(given)
    elif isinstance(given[0], int):
        token_ids = (tuple(given),)
    else:
        token_ids = tuple(tuple(ids) for ids in given)
    embeddings_input = EmbeddingsInput(texts, token_ids, body.get("dimensions"), request_id)
    return body["model"], embeddings_input, body.get("encoding_format") or "float"


def _encode(vector, encoding_format):
    if encoding_format == "base64":  # what the openai client asks for by default, and decodes itself
        return base64.b64encode(numpy.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist()


def embeddings_response(model, result, encoding_format):
    vectors = numpy.asarray(result.vectors, dtype=numpy.float32)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }


class EmbeddingsWriter:
    def __init__(self, model, encoding_format):
        self.model = model
        self.encoding_format = encoding_format

    def body(self, result):
        return embeddings_response(self.model, result, self.encoding_format)


def parse_embeddings_call(body, request_id=""):
    model, embeddings_input, encoding_format = parse_embeddings(body, request_id)
    return Call(model, embeddings_input, EmbeddingsWriter(model, encoding_format))


EMBEDDINGS = Api("embeddings", parse_embeddings_call, Servable.embed)
