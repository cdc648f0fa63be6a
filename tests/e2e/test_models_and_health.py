"""Model listing, health and the plugin mechanism, on the real server."""

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL, LIMITED_MODEL, PREFIXED_MODEL, PROMPT_LOOKUP_MODEL

PREFIX = "Please answer briefly. "  # tests/fixtures/e2e/servables/prefixed/graph.json


def test_models_list_and_lookup(client, http, base_url):
    ids = [model.id for model in client.models.list().data]
    assert ids == [DEFAULT_MODEL, PREFIXED_MODEL, LIMITED_MODEL, DETERMINISTIC_MODEL, PROMPT_LOOKUP_MODEL]
    assert client.models.retrieve(DEFAULT_MODEL).id == DEFAULT_MODEL
    for prefix in ("/v3", "/v1"):
        body = http.get(f"{base_url}{prefix}/models").json()
        assert body["object"] == "list" and {m["object"] for m in body["data"]} == {"model"}


def test_health(http, base_url):
    assert http.get(f"{base_url}/v2/health/live").status_code == 200
    ready = http.get(f"{base_url}/v2/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert http.get(f"{base_url}/v2/models/{DEFAULT_MODEL}/ready").status_code == 200
    assert http.get(f"{base_url}/v2/models/no-such-model/ready").status_code == 404


def test_plugin_node_from_the_plugins_folder_rewrites_the_prompt(client):
    """The prefixed servable puts PREFIX before the prompt: its count equals the plain one with PREFIX typed in."""
    with_plugin = client.completions.create(model=PREFIXED_MODEL, prompt="Hello there", max_tokens=1)
    typed = client.completions.create(model=DEFAULT_MODEL, prompt=PREFIX + "Hello there", max_tokens=1)
    plain = client.completions.create(model=DEFAULT_MODEL, prompt="Hello there", max_tokens=1)
    assert with_plugin.usage.prompt_tokens == typed.usage.prompt_tokens > plain.usage.prompt_tokens

    chat = [{"role": "user", "content": "Hello there"}]
    chat_plugin = client.chat.completions.create(model=PREFIXED_MODEL, messages=chat, max_tokens=1)
    chat_typed = client.chat.completions.create(
        model=DEFAULT_MODEL, max_tokens=1, messages=[{"role": "user", "content": PREFIX + "Hello there"}]
    )
    assert chat_plugin.usage.prompt_tokens == chat_typed.usage.prompt_tokens
