"""ovserve.protocol.responses_store and the stored-response routes: SQLite shared by connections (as by
HTTP workers), bounded by count and age; GET/DELETE/input_items through the app, behind API keys and CORS."""

from pathlib import Path

import pytest
from falcon import testing

from ovserve.graph.node import NodeContext
from ovserve.graph.registry import ServableRegistry
from ovserve.graph.servable import Servable
from ovserve.http.app import AppOptions, create_app
from ovserve.protocol.responses_store import ResponsesStore, StoreOptions
from tests.unit.fakes import FakeGenerator

MODEL = "org/echo-model"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def response(number):
    return {"id": f"resp_{number}", "output": []}


def test_two_stores_on_one_folder_see_each_others_responses(tmp_path):
    """As two HTTP workers do: each opens its own connection to the same file."""
    first, second = (ResponsesStore(StoreOptions(str(tmp_path))) for _ in range(2))
    first.save(response(1), [{"id": "msg_1"}])
    assert second.get("resp_1").input_items == [{"id": "msg_1"}]
    assert second.delete("resp_1") and first.get("resp_1") is None
    first.close()
    reopened = ResponsesStore(StoreOptions(str(tmp_path)))  # a restarted worker
    second.save(response(2), [])
    assert reopened.get("resp_2").response == response(2)


def test_the_oldest_go_beyond_the_count_and_past_the_age(tmp_path):
    clock = Clock()
    store = ResponsesStore(StoreOptions(str(tmp_path), max_count=2, max_age_hours=1), clock=clock)
    for number in range(3):
        clock.now += 1
        store.save(response(number), [])
    assert [store.get(f"resp_{n}") is not None for n in range(3)] == [False, True, True]
    clock.now += 3600 - 0.5  # resp_1 is now past an hour old, resp_2 not yet
    assert store.get("resp_1") is None and store.get("resp_2") is not None
    assert not store.delete("resp_0")


def fake_registry():
    context = NodeContext(MODEL, "gen", Path("/fake/graph.json"), "$.nodes[0].options")
    return ServableRegistry([Servable(MODEL, [], FakeGenerator({}, context))])


@pytest.fixture
def client():
    return testing.TestClient(create_app(fake_registry()))


def test_input_items_are_paged(client):
    items = [{"role": "user", "content": str(n)} for n in range(5)]
    created = client.simulate_post("/v1/responses", json={"model": MODEL, "input": items}).json
    url = f"/v3/responses/{created['id']}/input_items"
    page = client.simulate_get(url, params={"limit": "2", "order": "asc"}).json
    assert [item["content"][0]["text"] for item in page["data"]] == ["0", "1"] and page["has_more"]
    after = client.simulate_get(url, params={"after": page["last_id"], "order": "asc"}).json
    assert [item["content"][0]["text"] for item in after["data"]] == ["2", "3", "4"] and not after["has_more"]
    newest_first = client.simulate_get(url).json
    assert newest_first["first_id"] == after["last_id"]
    for params, param in (({"limit": "0"}, "limit"), ({"order": "up"}, "order"), ({"after": "msg_x"}, "after")):
        answer = client.simulate_get(url, params=params)
        assert answer.status_code == 400 and answer.json["error"]["param"] == param


def test_unknown_ids_are_404_in_openai_shape(client):
    for answer in (
        client.simulate_get("/v3/responses/resp_nope"),
        client.simulate_delete("/v3/responses/resp_nope"),
        client.simulate_get("/v3/responses/resp_nope/input_items"),
    ):
        assert answer.status_code == 404 and set(answer.json["error"]) == {"message", "type", "param", "code"}


def test_every_responses_route_needs_the_key_and_answers_cors():
    app = create_app(fake_registry(), AppOptions(api_keys=("secret",), cors_origins=("https://app.example",)))
    client = testing.TestClient(app)
    key = {"Authorization": "Bearer secret"}
    created = client.simulate_post("/v3/responses", json={"model": MODEL, "input": "Hi"}, headers=key).json
    paths = ["/v3/responses", f"/v3/responses/{created['id']}", f"/v1/responses/{created['id']}/input_items"]
    for path in paths:
        for method in ("GET", "POST", "DELETE"):
            assert client.simulate_request(method, path).status_code == 401, (method, path)
    origin = {"Origin": "https://app.example"}
    answer = client.simulate_get(paths[1], headers={**key, **origin})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example"
