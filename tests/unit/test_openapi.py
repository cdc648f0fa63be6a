"""ovserve.http.openapi: the OpenAPI 3.1 document, its $refs, and the routes that serve it."""

import json
from types import SimpleNamespace

import jsonschema
import pytest
from falcon import testing
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ovserve.graph.registry import ServableRegistry
from ovserve.http.app import AppOptions, create_app
from ovserve.http.openapi import build_openapi
from ovserve.protocol.validation import SCHEMAS, VALIDATORS

NAMES = ["org/chat-model", "plain"]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
EXPECTED_OPERATIONS = {
    ("post", "/v3/chat/completions"),
    ("post", "/v3/completions"),
    ("get", "/v3/models"),
    ("get", "/v3/models/{model_id}"),
    ("get", "/v2/health/live"),
    ("get", "/v2/health/ready"),
    ("get", "/v2/models/{model_id}/ready"),
}
REQUEST_COMPONENTS = {
    "chat_completions": "ChatCompletionRequest",
    "completions": "CompletionRequest",
    "tokenize": "TokenizeRequest",
    "detokenize": "DetokenizeRequest",
}


@pytest.fixture(scope="module")
def document():
    return build_openapi(NAMES)


def walk(node, path=""):
    """(json pointer, dict) for every object in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def resolve(document, ref):
    assert ref.startswith("#/"), f"not a local $ref: {ref}"
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def schema_validator(document, component):
    """A validator of one component, with the document as the root its #/ refs resolve against."""
    registry = Registry().with_resource("urn:ovserve:openapi", Resource(contents=document, specification=DRAFT202012))
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:ovserve:openapi#/components/schemas/{component}"}, registry=registry
    )


# --- the document's structure -------------------------------------------------------------------------


def test_is_an_openapi_3_1_document_with_the_routes(document):
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] and all("url" in server for server in document["servers"])
    found = {(method, path) for method, path, _ in operations(document)}
    assert EXPECTED_OPERATIONS <= found
    for method, path, operation in operations(document):
        assert operation["operationId"] and operation["responses"], (method, path)
        assert "200" in operation["responses"], (method, path)
        for name in (part[1:-1] for part in path.split("/") if part.startswith("{")):
            parameters = [resolve(document, p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])]
            assert any(p["in"] == "path" and p["name"] == name and p["required"] for p in parameters), (path, name)
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_validates_against_the_openapi_3_1_meta_schema(document):
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")  # ships the OAS 3.1 schema
    validator = jsonschema.Draft202012Validator(definitions.OPENAPI_31)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)
    ]
    assert not errors, errors[:10]


def test_every_ref_is_local_and_resolves(document):
    refs = [(where, node["$ref"]) for where, node in walk(document) if "$ref" in node]
    assert len(refs) > 20
    for where, ref in refs:
        assert ref.startswith("#/components/"), (where, ref)
        resolve(document, ref)  # KeyError or IndexError if it doesn't


def test_no_json_schema_identity_left_inside(document):
    for where, node in walk(document):
        assert "$id" not in node and "$schema" not in node and "$defs" not in node, where


def test_every_component_schema_is_a_valid_2020_12_schema(document):
    for _name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_common_definition_is_a_component(document):
    for name in SCHEMAS["common.json"]["$defs"]:
        assert name in document["components"]["schemas"]


def test_responses_include_json_and_the_error_object(document):
    chat = document["paths"]["/v3/chat/completions"]["post"]["responses"]
    assert set(chat["200"]["content"]) == {"application/json", "text/event-stream"}
    for status in ("400", "404", "408", "413", "415", "503"):
        response = resolve(document, chat[status]["$ref"])
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    error = schema_validator(document, "Error")
    assert error.is_valid({"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}})
    assert not error.is_valid({"error": {"message": "m"}})
    assert not error.is_valid({"detail": "m"})
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            response = resolve(document, response["$ref"]) if "$ref" in response else response
            if path == "/health":  # vLLM's probe answers an empty body
                assert "description" in response and "content" not in response, status
                continue
            if path.endswith("/audio/speech") and status == "200":  # the answer is the audio file itself
                assert "audio/wav" in response["content"] and "application/json" not in response["content"]
                continue
            assert "description" in response and "application/json" in response["content"], (method, path, status)


# --- request schemas: the same verdicts as the server's own validators ---------------------------------

BODIES = {
    "chat_completions": [
        {"model": "plain", "messages": [{"role": "user", "content": "Hi"}]},
        {
            "model": "anything",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_tokens": 5,
            "stop": ["a"],
            "n": 2,
            "temperature": 0.5,
            "stream": True,
        },
        {"model": "plain", "messages": []},
        {"model": "plain"},
        {"model": "", "messages": [{"role": "user", "content": "Hi"}]},
        {"model": "plain", "messages": [{"role": "robot", "content": "Hi"}]},
        {"model": "plain", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 0},
        {"model": "plain", "messages": [{"role": "user", "content": "Hi"}], "temperature": 3},
        {"model": "plain", "messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b", "c", "d", "e"]},
        {"model": 5, "messages": [{"role": "user", "content": "Hi"}]},
    ],
    "completions": [
        {"model": "plain", "prompt": "Hi"},
        {"model": "plain", "prompt": ["Hi"], "max_tokens": 3, "seed": 7},
        {"model": "plain", "prompt": ["a", "b"]},
        {"model": "plain", "prompt": 5},
        {"model": "plain", "prompt": "Hi", "n": 17},
        {"prompt": "Hi"},
    ],
    "tokenize": [
        {"model": "plain", "prompt": "Hi"},
        {"model": "plain", "messages": [{"role": "user", "content": "Hi"}]},
        {"model": "plain"},
        {"model": "plain", "messages": [{"role": "robot"}]},
    ],
    "detokenize": [
        {"model": "plain", "tokens": [1, 2, 3]},
        {"model": "plain", "tokens": [-1]},
        {"model": "plain"},
    ],
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_request_components_agree_with_the_server_validators(document, kind):
    if kind not in VALIDATORS:
        pytest.skip(f"no {kind} schema in this version")
    validator = schema_validator(document, REQUEST_COMPONENTS[kind])
    verdicts = [(body, validator.is_valid(body), VALIDATORS[kind].is_valid(body)) for body in BODIES[kind]]
    assert all(ours == theirs for _, ours, theirs in verdicts), [v for v in verdicts if v[1] != v[2]]
    assert any(ok for _, ok, _ in verdicts) and not all(ok for _, ok, _ in verdicts)


def test_model_offers_the_served_names_and_any_string(document):
    for request in ("ChatCompletionRequest", "CompletionRequest"):
        assert document["components"]["schemas"][request]["properties"]["model"] == {
            "$ref": "#/components/schemas/ModelId"
        }
    model = document["components"]["schemas"]["ModelId"]
    assert model["anyOf"][0]["enum"] == NAMES
    validator = schema_validator(document, "ModelId")
    assert validator.is_valid("plain") and validator.is_valid("not-served") and not validator.is_valid("")
    assert build_openapi([])["components"]["schemas"]["ModelId"] == {"$ref": "#/components/schemas/model"}


def test_model_id_path_parameters_use_the_names(document):
    for path in ("/v3/models/{model_id}", "/v2/models/{model_id}/ready"):
        parameter = document["paths"][path]["get"]["parameters"][0]
        assert parameter["name"] == "model_id" and parameter["schema"] == {"$ref": "#/components/schemas/ModelId"}


def test_prefix_and_security():
    v1 = build_openapi(NAMES, prefix="/v1")
    assert "/v1/chat/completions" in v1["paths"] and "/v3/chat/completions" not in v1["paths"]
    assert "/v2/health/live" in v1["paths"]
    assert "securitySchemes" not in v1["components"]
    assert all("security" not in operation for _, _, operation in operations(v1))

    secured = build_openapi(NAMES, secured=True)
    assert secured["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": secured["components"]["securitySchemes"]["apiKey"]["description"],
    }
    for _method, path, operation in operations(secured):
        # behind the key as the server has them (http/security.py): all but the probes and /metrics
        if path.startswith(("/v3/", "/v2/models/")) or path in ("/tokenize", "/detokenize", "/tokenizer_info"):
            assert operation["security"] == [{"apiKey": []}] and "401" in operation["responses"], path
        else:
            assert "security" not in operation and "401" not in operation["responses"], path


def test_building_twice_gives_equal_independent_documents():
    first, second = build_openapi(NAMES), build_openapi(NAMES)
    assert first == second
    first["components"]["schemas"]["ChatCompletionRequest"]["properties"]["messages"]["minItems"] = 99
    assert second["components"]["schemas"]["ChatCompletionRequest"]["properties"]["messages"]["minItems"] == 1
    assert build_openapi(NAMES) == second
    assert json.loads(json.dumps(second)) == second  # plain JSON


def test_schemathesis_loads_every_operation(document):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    problems = [result.err() for result in results if not hasattr(result, "ok")]
    assert not problems, problems
    labels = {result.ok().label for result in results}
    assert {f"{method.upper()} {path}" for method, path in EXPECTED_OPERATIONS} <= labels
    operation = schema["/v3/chat/completions"]["POST"]
    assert operation.body  # the request body schema, resolved


# --- the routes ----------------------------------------------------------------------------------------


def app_client(**options):
    registry = ServableRegistry([SimpleNamespace(name=name) for name in NAMES])
    return testing.TestClient(create_app(registry, AppOptions(**options)))


@pytest.mark.parametrize("prefix", ["/v3", "/v1"])
def test_served_at_both_prefixes(prefix):
    result = app_client().simulate_get(f"{prefix}/openapi.json")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    assert result.json == build_openapi(NAMES, prefix=prefix)
    assert app_client().simulate_get(f"{prefix}/openapi.json/").status_code == 200  # trailing slash ignored


def test_api_keys_apply_and_the_document_says_so():
    client = app_client(api_keys=("secret",))
    refused = client.simulate_get("/v3/openapi.json")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "invalid_api_key"
    served = client.simulate_get("/v3/openapi.json", headers={"Authorization": "Bearer secret"})
    assert served.status_code == 200 and "securitySchemes" in served.json["components"]


def test_a_reload_that_changes_the_models_changes_the_document():
    registry = ServableRegistry([SimpleNamespace(name=name) for name in NAMES])
    client = testing.TestClient(create_app(registry, AppOptions()))
    assert client.simulate_get("/v3/openapi.json").json == build_openapi(NAMES)
    registry.replace([SimpleNamespace(name=name) for name in [*NAMES[1:], "added"]])  # as a reload does
    assert client.simulate_get("/v3/openapi.json").json == build_openapi([*NAMES[1:], "added"])


def test_only_get():
    result = app_client().simulate_post("/v3/openapi.json", json={})
    assert result.status_code == 405 and result.json["error"]["type"] == "method_not_allowed"
