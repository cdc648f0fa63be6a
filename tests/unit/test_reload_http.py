"""GET /v1/config and POST /v1/config/reload at the HTTP edge, and a registry swap seen by every route."""

from falcon import testing

from ovserve.graph.registry import ServableRegistry
from ovserve.http.app import create_app
from tests.unit.test_http import MODEL, OTHER, fake_servable


def test_config_status_from_the_registry_without_a_runtime():
    registry = ServableRegistry([fake_servable(MODEL)])
    client = testing.TestClient(create_app(registry))
    body = client.simulate_get("/v1/config").json
    assert body[MODEL]["model_version_status"][0]["state"] == "AVAILABLE"
    result = client.simulate_post("/v1/config/reload")
    assert result.status_code == 404 and "no config file" in result.json["error"]["message"]


def test_a_swapped_registry_reaches_every_route_at_once():
    registry = ServableRegistry([fake_servable(MODEL)])
    client = testing.TestClient(create_app(registry))
    registry.replace([fake_servable(OTHER)])
    assert [card["id"] for card in client.simulate_get("/v3/models").json["data"]] == [OTHER]
    assert client.simulate_get(f"/v2/models/{MODEL}/ready").status_code == 404
    assert client.simulate_get(f"/v2/models/{OTHER}/ready").json["state"] == "ready"
    assert list(client.simulate_get("/v1/config").json) == [OTHER]
