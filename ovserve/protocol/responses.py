"""POST /v3/responses: OpenAI's Responses API, read into the ChatInput of the chat path
(responses_request.py), answered by the servable's chat generation, written as a `response` object or its
typed stream events (responses_writer.py, responses_output.py), kept for previous_response_id and
GET /v3/responses/{id} in the store (responses_store.py) that the pipeline's ApiContext holds."""

from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.responses_request import parse_responses
from ovserve.protocol.responses_writer import ResponsesWriter


def parse_responses_call(body, request_id, context):
    request = parse_responses(body, request_id, context.responses_store)
    return Call(request.model, request.chat_input, ResponsesWriter(request, context.responses_store), request.stream)


# Served by any servable that chats; counted in the metrics as a method of its own.
RESPONSES = Api("chat.completions", parse_responses_call, Servable.chat, method="Responses", takes_context=True)
