"""What crosses between the rerank node and its engine. Pure: no OpenVINO here."""

from ovserve.runtime.messages import WireMessage, wire_message


@wire_message
class RerankRequest(WireMessage):
    tag = "rerank.request"
    query: str
    documents: tuple


@wire_message
class Scores(WireMessage):
    """(document index, relevance score) for every document of the request, in no particular order."""

    tag = "rerank.scores"
    scores: tuple
