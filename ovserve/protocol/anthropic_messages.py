"""POST /v1/messages (and /v3/messages): Anthropic's Messages API, read into the ChatInput of the chat
path (anthropic_requests), answered by the servable's chat generation, written as Anthropic's Message or
its event stream (anthropic_writer), errors in Anthropic's shape and statuses (anthropic_errors)."""

from ovserve.graph.servable import Servable
from ovserve.protocol.anthropic_errors import anthropic_error, anthropic_status
from ovserve.protocol.anthropic_requests import parse_messages
from ovserve.protocol.anthropic_writer import MessageWriter
from ovserve.protocol.api import Api, Call

# The servable serves it as chat; the metrics count it under a method of its own (http/metrics.py).
CAPABILITY = "chat.completions"
METRICS_METHOD = "Messages"


def parse_messages_call(body, request_id=""):
    request = parse_messages(body, request_id)
    writer = MessageWriter(request.model, omit_thinking=request.omit_thinking)
    return Call(request.model, request.chat_input, writer, request.stream)


MESSAGES = Api(
    CAPABILITY,
    parse_messages_call,
    Servable.chat,
    error_body=anthropic_error,
    error_status=anthropic_status,
    method=METRICS_METHOD,
)
