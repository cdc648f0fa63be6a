"""What crosses between the embeddings node and its engine. Pure: no OpenVINO here."""

from ovserve.runtime.messages import WireMessage, wire_message


@wire_message
class EmbeddingRequest(WireMessage):
    tag = "embeddings.request"
    texts: tuple


@wire_message
class Vectors(WireMessage):
    """One vector per text of the request, in its order (a float32 array of shape texts x dimensions)."""

    tag = "embeddings.vectors"
    vectors: object
