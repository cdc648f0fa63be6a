"""The shapes every operation shares: its error statuses, the POST and GET operation, the common parameters."""

from ovserve.http.openapi.components import json_content, ref

# Error statuses every generation operation may answer, with what they mean here.
ERROR_STATUSES = {
    "400": "Invalid request: malformed JSON, a field of the wrong type or out of range, an unsupported parameter.",
    "404": "No such model (or route).",
    "408": "The request ran longer than the model's request timeout and was stopped.",
    "413": "The request body is larger than the server's limit.",
    "415": "The Content-Type is not application/json.",
    "503": "The model is loading or restarting, the server is draining, or it is at capacity (see Retry-After).",
}


def described_errors(statuses, schema_name):
    """Error responses, status -> its description and a body of the named error schema."""
    return {status: {"description": text, "content": json_content(schema_name)} for status, text in statuses.items()}


def post_operation(operation_id, summary, tag, request_name, response_name, secured, streams=True):
    """A POST taking a JSON body; `streams`: it may answer with server-sent events (and so may time out)."""
    if streams:
        ok = {
            "description": 'The answer: one JSON object, or server-sent events when "stream" is true.',
            "content": {**json_content(response_name), "text/event-stream": {"schema": ref("EventStream")}},
        }
        statuses = ERROR_STATUSES
    else:
        ok = {"description": "OK.", "content": json_content(response_name)}
        statuses = [status for status in ERROR_STATUSES if status != "408"]
    ok["headers"] = {"x-request-id": {"$ref": "#/components/headers/RequestId"}}
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [_request_id_parameter()],
        "requestBody": {"required": True, "content": json_content(request_name)},
        "responses": {"200": ok, **_error_refs(statuses, secured)},
    }
    return _keyed(operation, secured)


def get_operation(operation_id, summary, tag, response_name, statuses, secured, parameters=(), ok="OK."):
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [*parameters, _request_id_parameter()],
        "responses": {"200": {"description": ok, "content": json_content(response_name)}},
    }
    operation["responses"].update(_error_refs(statuses, secured))
    return _keyed(operation, secured)


def model_id_parameter():
    return {
        "name": "model_id",
        "in": "path",
        "required": True,
        "description": "The model's name; it may contain '/'.",
        "schema": ref("ModelId"),
    }


def _request_id_parameter():
    return {"$ref": "#/components/parameters/RequestId"}


def _error_refs(statuses, secured):
    responses = {status: {"$ref": f"#/components/responses/{status}"} for status in statuses}
    if secured:
        responses["401"] = {"$ref": "#/components/responses/401"}
    return responses


def _keyed(operation, secured):
    """`secured`: the operation needs the API key (the /v2 health routes are built unsecured, so stay open)."""
    if secured:
        operation["security"] = [{"apiKey": []}]
    return operation
