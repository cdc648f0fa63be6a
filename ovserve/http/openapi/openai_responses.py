"""OpenAI's Responses API: create (unary or typed events), and the stored responses."""

from ovserve.http.openapi.operations import get_operation, post_operation


def responses_schemas():
    return {
        "Response": {
            "type": "object",
            "required": ["id", "object", "created_at", "status", "model", "output", "usage"],
            "description": 'OpenAI\'s response object. With "stream": true, typed events (`event: <type>`, `data` '
            "with `type` and `sequence_number`): response.created, response.in_progress, response.output_item.added, "
            "response.content_part.added, response.output_text.delta/.done, response.reasoning_text.delta/.done, "
            "response.function_call_arguments.delta/.done, response.content_part.done, response.output_item.done, "
            "then response.completed or response.incomplete (after an error: `error`, then response.failed).",
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "response"},
                "created_at": {"type": "integer"},
                "status": {"enum": ["completed", "incomplete", "in_progress", "failed"]},
                "incomplete_details": {"type": ["object", "null"]},
                "model": {"type": "string"},
                "output": {
                    "type": "array",
                    "items": _item(),
                    "description": "reasoning, message and function_call items.",
                },
                "usage": {"type": ["object", "null"]},
                "previous_response_id": {"type": ["string", "null"]},
                "store": {"type": "boolean"},
            },
        },
        "ResponseDeleted": {
            "type": "object",
            "required": ["id", "object", "deleted"],
            "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
        },
        "ResponseInputItems": {
            "type": "object",
            "required": ["object", "data", "first_id", "last_id", "has_more"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": _item()},
                "first_id": {"type": ["string", "null"]},
                "last_id": {"type": ["string", "null"]},
                "has_more": {"type": "boolean"},
            },
        },
    }


def responses_paths(prefix, secured):
    response_id = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    page = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"]}},
        {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    create = post_operation(
        "createResponse", "OpenAI Responses (unary or streamed)", "generation", "ResponsesRequest", "Response", secured
    )
    create["responses"]["404"] = {"$ref": "#/components/responses/404"}  # also: an unknown previous_response_id
    stored = ("404",)
    return {
        f"{prefix}/responses": {"post": create},
        prefix + "/responses/{response_id}": {
            "get": get_operation(
                "getResponse", "A stored response", "responses", "Response", stored, secured, [response_id]
            ),
            "delete": get_operation(
                "deleteResponse",
                "Delete a stored response",
                "responses",
                "ResponseDeleted",
                stored,
                secured,
                [response_id],
            ),
        },
        prefix + "/responses/{response_id}/input_items": {
            "get": get_operation(
                "listResponseInputItems",
                "The conversation items before a stored response's output",
                "responses",
                "ResponseInputItems",
                ("400", "404"),
                secured,
                [response_id, *page],
            )
        },
    }


def _item():
    """An output or input item: reasoning, message, function_call... told apart by `type`."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
    }
