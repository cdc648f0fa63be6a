"""The bodies the OpenAI-compatible routes answer with: completions, models, tokens, embeddings, rerank, errors."""

from ovserve.http.openapi.components import ref


def openai_schemas():
    """components/schemas entries, by name."""
    return {
        "Usage": {
            "type": "object",
            "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in ("prompt_tokens", "completion_tokens", "total_tokens")
            },
        },
        "ChatCompletion": _completion(
            "chat.completion",
            {
                "message": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"const": "assistant"},
                        "content": {"type": ["string", "null"]},
                        "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
                    },
                }
            },
        ),
        "TextCompletion": _completion("text_completion", {"text": {"type": "string"}}),
        "EventStream": {
            "type": "string",
            "description": 'Server-sent events (with "stream": true): `data: {chunk}` lines, each chunk a '
            "chat.completion.chunk (chat) or text_completion (completions) object, then `data: [DONE]`. "
            'An error after the headers were sent arrives as `data: {"error": ...}` before [DONE].',
        },
        "Model": _model_card(),
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}},
        },
        **_token_schemas(),
        "Embeddings": _embeddings(),
        "Rerank": _rerank(),
        "Error": _error(),
    }


def _completion(object_name, choice_properties):
    """A chat or text completion: the same envelope, choices that differ in what they carry."""
    return {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices", "usage"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": object_name},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", *choice_properties, "finish_reason"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        **choice_properties,
                        "logprobs": {"type": ["object", "null"], "description": "With `logprobs` set."},
                        "finish_reason": {
                            "type": ["string", "null"],
                            "description": "stop, length or tool_calls; null while running.",
                        },
                    },
                },
            },
            "usage": ref("Usage"),
        },
    }


def _model_card():
    return {
        "type": "object",
        "required": ["id", "object", "created", "owned_by", "capabilities"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
            "kind": {"type": "string", "description": "text_generation, embeddings or rerank."},
            "capabilities": {
                "type": "array",
                "items": {"type": "string"},
                "description": "e.g. chat.completions, completions.",
            },
            "max_model_len": {"type": "integer", "description": "The model's context length in tokens (vLLM's name)."},
            "context_length": {"type": "integer", "description": "The same, under OpenRouter's name."},
            "architecture": {
                "type": "object",
                "description": "OpenRouter's shape: what the model takes and gives.",
                "properties": {
                    "modality": {"type": "string", "description": "e.g. text->text."},
                    "input_modalities": {"type": "array", "items": {"type": "string"}},
                    "output_modalities": {"type": "array", "items": {"type": "string"}},
                },
            },
            "tool_parser": {"type": ["string", "null"], "description": "LLMs: how tool calls are read (null: off)."},
            "reasoning_parser": {"type": ["string", "null"], "description": "LLMs: how reasoning is read (null: off)."},
        },
    }


def _token_schemas():
    """/tokenize, /detokenize and vLLM's /tokenizer_info."""
    return {
        "Tokens": {
            "type": "object",
            "required": ["model", "tokens", "count"],
            "properties": {
                "model": {"type": "string"},
                "tokens": {"type": "array", "items": {"type": "integer"}},
                "count": {"type": "integer", "minimum": 0},
                "max_model_len": {"type": ["integer", "null"]},
            },
        },
        "Detokenized": {
            "type": "object",
            "required": ["model", "prompt"],
            "properties": {"model": {"type": "string"}, "prompt": {"type": "string"}},
        },
        "TokenizerInfo": {
            "type": "object",
            "required": ["model", "tokenizer_class", "chat_template"],
            "description": "vLLM's /tokenizer_info: the tokenizer_config.json facts a client needs to tokenize as the server does.",
            "properties": {
                "model": {"type": "string"},
                "tokenizer_class": {"type": "string"},
                "model_max_length": {"type": "integer"},
                "bos_token": {"type": "string"},
                "bos_token_id": {"type": "integer"},
                "eos_token": {"type": "string"},
                "eos_token_id": {"type": "integer"},
                "chat_template": {"type": "string", "description": "The template the server renders chats with."},
            },
        },
    }


def _embeddings():
    return {
        "type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": {"const": "embedding"},
                        "index": {"type": "integer", "minimum": 0},
                        "embedding": {
                            "type": ["array", "string"],
                            "items": {"type": "number"},
                            "description": "Numbers, or base64 of little-endian float32.",
                        },
                    },
                },
            },
            "model": {"type": "string"},
            "usage": {
                "type": "object",
                "required": ["prompt_tokens", "total_tokens"],
                "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}},
            },
        },
    }


def _rerank():
    return {
        "type": "object",
        "required": ["id", "model", "results"],
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string"},
            "results": {
                "type": "array",
                "description": "Best first.",
                "items": {
                    "type": "object",
                    "required": ["index", "relevance_score"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "relevance_score": {"type": "number"},
                        "document": {"type": "object", "description": "With return_documents."},
                    },
                },
            },
        },
    }


def _error():
    nullable_string = {"type": ["string", "null"]}
    return {
        "title": "OpenAI error object",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string", "description": "What went wrong and how to fix it."},
                    "type": {
                        "type": "string",
                        "description": "e.g. invalid_request_error, not_found, timeout, overloaded.",
                    },
                    "param": {**nullable_string, "description": "The offending field, e.g. messages[0].role."},
                    "code": {**nullable_string, "description": "e.g. model_not_found, invalid_value."},
                },
            }
        },
    }
