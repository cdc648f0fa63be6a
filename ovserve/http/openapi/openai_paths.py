"""The OpenAI-compatible routes under the prefix (chat, completions, models, tokens, embeddings, rerank),
and vLLM's root twins of the token routes."""

import copy

from ovserve.http.openapi.components import ref
from ovserve.http.openapi.operations import get_operation, model_id_parameter, post_operation

# path under the prefix -> (operationId, summary, tag, request body, response body); all POSTs.
GENERATION_ROUTES = {
    "chat/completions": (
        "createChatCompletion",
        "Chat completion (unary or streamed)",
        "generation",
        "ChatCompletionRequest",
        "ChatCompletion",
    ),
    "completions": (
        "createCompletion",
        "Text completion (unary or streamed)",
        "generation",
        "CompletionRequest",
        "TextCompletion",
    ),
}
# The same, for the POSTs that answer one JSON object and never stream.
UNARY_ROUTES = {
    "tokenize": (
        "tokenize",
        "Token ids of a prompt or of chat messages (as the model would see them)",
        "tokens",
        "TokenizeRequest",
        "Tokens",
    ),
    "detokenize": ("detokenize", "The text of token ids", "tokens", "DetokenizeRequest", "Detokenized"),
    "embeddings": (
        "createEmbeddings",
        "Embedding vectors of texts or token ids",
        "retrieval",
        "EmbeddingsRequest",
        "Embeddings",
    ),
    "rerank": (
        "rerank",
        "Documents scored against a query (Cohere's shape)",
        "retrieval",
        "RerankRequest",
        "Rerank",
    ),
}


def openai_paths(prefix, secured):
    paths = {
        f"{prefix}/{path}": {"post": post_operation(*operation, secured)}
        for path, operation in GENERATION_ROUTES.items()
    }
    paths[f"{prefix}/models"] = {
        "get": get_operation("listModels", "The served models", "models", "ModelList", (), secured)
    }
    paths[f"{prefix}/models/{{model_id}}"] = {
        "get": get_operation(
            "retrieveModel", "One served model", "models", "Model", ("404",), secured, [model_id_parameter()]
        )
    }
    for path, operation in UNARY_ROUTES.items():
        paths[f"{prefix}/{path}"] = {"post": post_operation(*operation, secured, streams=False)}
    return paths


def root_token_schemas(request_schemas):
    """vLLM's root /tokenize and /detokenize take the prefixed routes' bodies without a required `model`."""
    schemas = {}
    for name in ("TokenizeRequest", "DetokenizeRequest"):
        optional_model = copy.deepcopy(request_schemas[name])
        optional_model["required"] = [field for field in optional_model["required"] if field != "model"]
        schemas[f"Root{name}"] = optional_model
    return schemas


def root_token_paths(secured):
    """vLLM's root routes: without `model`, the default model (the first that tokenizes); they need the key
    as the API routes do."""
    paths = {}
    for path, operation_id, request, response in (
        ("/tokenize", "tokenizeDefaultModel", "RootTokenizeRequest", "Tokens"),
        ("/detokenize", "detokenizeDefaultModel", "RootDetokenizeRequest", "Detokenized"),
    ):
        summary = f"{path} as vLLM serves it; without `model`, the first model that tokenizes"
        paths[path] = {"post": post_operation(operation_id, summary, "tokens", request, response, secured, False)}
    model = {"name": "model", "in": "query", "required": False, "schema": ref("ModelId")}
    paths["/tokenizer_info"] = {
        "get": get_operation(
            "tokenizerInfo",
            "vLLM's tokenizer facts of a model (default: the first that tokenizes)",
            "tokens",
            "TokenizerInfo",
            ("400", "404", "503"),
            secured,
            [model],
        )
    }
    return paths
