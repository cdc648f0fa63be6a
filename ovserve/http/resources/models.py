"""GET /v3/models and /v3/models/{id}: what this server serves.

Besides OpenAI's four fields, each card says what clients read to configure themselves: the context
length under both names clients look for (`context_length`, as OpenRouter lists models;
`max_model_len`, vLLM's), and the modalities in OpenRouter's `architecture` shape (`input_modalities`,
`output_modalities`), which agent clients read to know whether they may send images. The node's own
facts follow (`describe()`: for an LLM, `tool_parser` and `reasoning_parser`, None when off).
"""

# What each kind of servable takes and gives, as OpenRouter names modalities.
MODALITIES = {
    "text_generation": (["text"], ["text"]),
    "embeddings": (["text"], ["embeddings"]),
    "rerank": (["text"], ["scores"]),
    "image_generation": (["text", "image"], ["image"]),
    "automatic_speech_recognition": (["audio"], ["text"]),
    "text_to_speech": (["text"], ["audio"]),
}


def architecture(kind, inputs=None):
    """`inputs`: what the servable's node says it takes, where it tells (a vision-language LLM: text, image)."""
    if kind not in MODALITIES:  # a plugin's kind: nothing to claim
        return {}
    kind_inputs, outputs = MODALITIES[kind]
    inputs = inputs or kind_inputs
    modality = f"{'+'.join(inputs)}->{'+'.join(outputs)}"
    return {"architecture": {"modality": modality, "input_modalities": inputs, "output_modalities": outputs}}


def model_card(servable, created, state="ready"):
    facts = servable.terminal.describe()
    card = {
        "id": servable.name,
        "object": "model",
        "created": created,
        "owned_by": "ovserve",
        "kind": servable.kind,
        "capabilities": list(servable.capabilities),
        # ready; loading (its engine restarts); unloaded (stopped for idleness, the next request loads it)
        "state": state,
        **architecture(servable.kind, facts.pop("input_modalities", None)),
    }
    if facts.get("max_model_len") is not None:
        card["context_length"] = facts["max_model_len"]
    return {**card, **facts}


class ModelsResource:
    def __init__(self, registry, created):
        self.registry = registry
        self.created = created

    def on_get(self, req, resp):
        cards = [model_card(s, self.created, self.registry.state_of(s)) for s in self.registry]
        resp.media = {"object": "list", "data": cards}


class ModelResource:
    def __init__(self, registry, created):
        self.registry = registry
        self.created = created

    def on_get(self, req, resp, model_id):
        servable = self.registry.get(model_id)
        resp.media = model_card(servable, self.created, self.registry.state_of(servable))
