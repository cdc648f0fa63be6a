"""The rerank request and response of Cohere and OpenVINO Model Server: POST /v3/rerank."""

import uuid

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import RerankInput
from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.validation import validate_body


def _document_text(document, index, rank_fields):
    """The text scored for one document: a string, or the rank fields of an object (Cohere's rule)."""
    if isinstance(document, str):
        return document
    parts = []
    for field in rank_fields:
        value = document.get(field)
        if not isinstance(value, str):
            raise InvalidRequest(
                f"documents[{index}] has no text field '{field}'"
                + ("" if value is None else f" (it is {type(value).__name__})")
                + ".",
                param=f"documents[{index}].{field}",
                code="invalid_value",
            )
        parts.append(value if len(rank_fields) == 1 else f"{field}: {value}")
    return "\n".join(parts)


def parse_rerank(body, request_id=""):
    """Return (model, RerankInput, return_documents) or raise InvalidRequest."""
    validate_body("rerank", body)
    if (body.get("max_chunks_per_doc") or 1) > 1:
        raise InvalidRequest(
            "'max_chunks_per_doc' above 1 is not supported: each document is scored once, "
            "truncated to the model's max_length.",
            param="max_chunks_per_doc",
            code="unsupported_parameter",
        )
    rank_fields = tuple(body.get("rank_fields") or ("text",))
    documents = tuple(_document_text(document, index, rank_fields) for index, document in enumerate(body["documents"]))
    rerank_input = RerankInput(body["query"], documents, body.get("top_n"), request_id)
    return body["model"], rerank_input, bool(body.get("return_documents"))


def _document(document):
    return {"text": document} if isinstance(document, str) else document


def rerank_response(model, result, documents, return_documents):
    """`documents`: the request's documents as given (strings or objects)."""
    results = []
    for index, score in result.ranking:
        entry = {"index": index, "relevance_score": score}
        if return_documents:
            entry["document"] = _document(documents[index])
        results.append(entry)
    return {
        "id": f"rerank-{uuid.uuid4().hex}",
        "object": "list",
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
        "meta": {"billed_units": {"search_units": 1}},
    }


class RerankWriter:
    def __init__(self, model, documents, return_documents):
        self.model = model
        self.documents = documents  # as the request gave them (strings or objects)
        self.return_documents = return_documents

    def body(self, result):
        return rerank_response(self.model, result, self.documents, self.return_documents)


def parse_rerank_call(body, request_id=""):
    model, rerank_input, return_documents = parse_rerank(body, request_id)
    return Call(model, rerank_input, RerankWriter(model, body["documents"], return_documents))


RERANK = Api("rerank", parse_rerank_call, Servable.rerank)
