"""Images in chat messages, as every API's module hands them to the chat path: each image becomes an
ImagePart (graph/messages.py) and a `{"type": "image"}` part of its message's content, where it stood
among the text parts. A message without images keeps its text as one string, as before.
"""

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import ImagePart

DETAILS = ("auto", "low", "high")


def image_part(url, param, detail=None):
    if not isinstance(url, str) or not url:
        raise InvalidRequest("An image part needs its URL (a string).", param=param, code="invalid_value")
    if detail is not None and detail not in DETAILS:
        raise InvalidRequest(f"'detail' must be one of {', '.join(DETAILS)}.", param=f"{param}.detail")
    return ImagePart(url, param, detail)


def message_content(pieces):
    """[str | ImagePart] in order -> (content, [ImagePart]): the text joined by new lines when there
    are no images, else the content as text and image parts."""
    images = [piece for piece in pieces if isinstance(piece, ImagePart)]
    if not images:
        return "\n".join(pieces), []
    parts = [{"type": "image"} if isinstance(piece, ImagePart) else {"type": "text", "text": piece} for piece in pieces]
    return parts, images
