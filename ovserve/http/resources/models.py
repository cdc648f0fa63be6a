"""GET /v3/models and /v3/models/{id}: what this server serves."""


def model_card(servable, created):
    return {
        "id": servable.name,
        "object": "model",
        "created": created,
        "owned_by": "ovserve",
        "kind": servable.kind,
        "capabilities": list(servable.capabilities),
        **servable.terminal.describe(),
    }


class ModelsResource:
    def __init__(self, registry, created):
        self.registry = registry
        self.created = created

    def on_get(self, req, resp):
        resp.media = {"object": "list", "data": [model_card(s, self.created) for s in self.registry]}


class ModelResource:
    def __init__(self, registry, created):
        self.registry = registry
        self.created = created

    def on_get(self, req, resp, model_id):
        resp.media = model_card(self.registry.get(model_id), self.created)
