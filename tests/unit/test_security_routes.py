"""API keys: default deny on every route the app has, whatever the spelling of its path or the method.

The routes come from the app itself (falcon.inspect), so a route added later is covered without
editing this file. Spellings that once went around the check: `//v3/...` (Falcon's router ignores
leading slashes), `/%2Fv3/...` (decoded to `//v3/...` before routing).
"""

import falcon.inspect
import pytest
from falcon import testing

from ovserve.graph.registry import ServableRegistry
from ovserve.http.app import AppOptions, create_app
from tests.unit.test_http import MODEL, OTHER, fake_servable

KEY = "sk-unit-0123456789"
GOOD = {"Authorization": f"Bearer {KEY}"}
OPEN_PATHS = ("/v2/health/live", "/v2/health/ready", "/health", "/metrics")
SINK_PATHS = (f"/v2/models/{MODEL}/ready", f"/v2/models/{MODEL}/stats")
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")


def spellings(path):
    """Ways to write `path` that reach the same resource, or nothing; none may reach it without the key."""
    head, _, tail = path[1:].partition("/")
    return {
        "as is": path,
        "double slash": "/" + path,
        "triple slash": "//" + path,
        "encoded slash": "/%2F" + path[1:],
        "encoded inner slash": f"/{head}%2F{tail}" if tail else path,
        "trailing slash": path + "/",
        "upper case": path.upper(),
        "double inner slash": f"/{head}//{tail}" if tail else path,
        "dot segments": f"/v2/health/live/../..{path}",
    }


def build(**options):
    registry = ServableRegistry([fake_servable(MODEL), fake_servable(OTHER)])
    return create_app(registry, AppOptions(api_keys=(KEY,), **options))


def concrete(template):
    return template.replace("{model_id:path}", MODEL)


def every_route_path():
    paths = {concrete(route.path) for route in falcon.inspect.inspect_routes(build())}
    assert {"/v3/chat/completions", "/v1/models", f"/v3/models/{MODEL}", "/v3/tokenize"} <= paths
    return sorted((paths | set(SINK_PATHS) | {"/v3/nowhere", "/"}) - set(OPEN_PATHS))


PROTECTED = every_route_path()


@pytest.fixture(scope="module")
def client():
    return testing.TestClient(build())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", PROTECTED)
def test_every_protected_route_and_spelling_is_401_without_a_key(client, path, method):
    for name, spelled in spellings(path).items():
        result = client.simulate_request(method, spelled, headers={"Content-Type": "application/json"}, body="{}")
        assert result.status_code == 401, f"{method} {spelled} ({name}): {result.status_code}"
        if method != "HEAD" and result.json.get("type") == "error":  # Anthropic's routes: Anthropic's shape
            assert "/messages" in path and result.json["error"]["type"] == "authentication_error"
        elif method != "HEAD":
            assert result.json["error"]["code"] == "invalid_api_key"
        wrong = client.simulate_request(method, spelled, headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401, f"{method} {spelled} ({name}) with a wrong key"


@pytest.mark.parametrize("path", PROTECTED)
def test_the_key_opens_every_protected_route(client, path):
    method = "POST" if "/models" not in path and path.startswith(("/v3", "/v1")) and "openapi" not in path else "GET"
    result = client.simulate_request(method, path, headers=GOOD, json={})
    assert result.status_code != 401, f"{method} {path}"


@pytest.mark.parametrize("path", OPEN_PATHS)
def test_probes_and_metrics_answer_without_a_key_however_spelled(client, path):
    for name in ("as is", "double slash", "triple slash", "encoded slash", "trailing slash"):
        assert client.simulate_get(spellings(path)[name]).status_code == 200, name
    if "health" in path:
        assert client.simulate_head(path).status_code == 200
    assert client.simulate_get(path.upper()).status_code == 401  # reaches no route: default deny


def test_cors_preflight_needs_no_key_but_other_options_requests_do():
    client = testing.TestClient(build(cors_origins=("https://app.example",)))
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert client.simulate_options("//v3/chat/completions", headers=preflight).status_code == 200
    assert client.simulate_options("/v3/chat/completions").status_code == 401
    other_origin = dict(preflight, Origin="https://evil.example")
    assert client.simulate_options("/v3/chat/completions", headers=other_origin).status_code == 401


def test_a_completion_through_a_double_slash_needs_the_key(client):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    assert client.simulate_post("//v3/chat/completions", json=body).status_code == 401
    assert client.simulate_post("//v3/chat/completions", json=body, headers=GOOD).status_code == 200
