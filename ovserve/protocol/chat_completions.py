"""POST /v3/chat/completions: OpenAI's chat completions, read into a ChatInput, answered by the servable's
chat generation, written as a chat.completion or a stream of chat.completion.chunk."""

from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.choices import ChoicesWriter
from ovserve.protocol.prompt_logprobs import PromptLogprobsCollector
from ovserve.protocol.requests import parse_chat


def _chat_token(entry, top_logprobs):
    token = {"token": entry.token, "logprob": entry.logprob, "bytes": list(entry.token_bytes)}
    # The engine reports the sampled token only. The LLM node takes top_logprobs 1 only in greedy decoding,
    # where the sampled token is the most likely one, so it is the one alternative listed.
    return dict(token, top_logprobs=[dict(token)] if top_logprobs else [])


def chat_logprobs(entries, top_logprobs):
    return {"content": [_chat_token(entry, top_logprobs) for entry in entries]}


def tool_call_objects(calls):
    """Merge ToolCallDelta pieces into complete OpenAI tool_calls."""
    merged = {}
    for call in calls:
        entry = merged.setdefault(
            call.index, {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        )
        entry["id"] = entry["id"] or call.id
        entry["function"]["name"] = entry["function"]["name"] or call.name
        entry["function"]["arguments"] += call.arguments
    return [merged[index] for index in sorted(merged)]


def tool_call_chunks(calls):
    chunks = []
    for call in calls:
        chunk = {"index": call.index, "function": {"arguments": call.arguments}}
        if call.id is not None:
            chunk = {
                "index": call.index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        chunks.append(chunk)
    return chunks


def reasoning_fields(text):
    """Thinking under both names clients read: vLLM renamed reasoning_content to reasoning, and Dify,
    LiteLLM and Open WebUI read one or the other."""
    return {"reasoning_content": text, "reasoning": text}


class ChatWriter(ChoicesWriter):
    id_prefix = "chatcmpl-"
    unary_object = "chat.completion"
    chunk_object = "chat.completion.chunk"

    def __init__(self, *args, prompt_logprobs=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._prompt_logprobs = PromptLogprobsCollector(prompt_logprobs)  # vLLM's, at choice level

    def _collect(self, delta):
        self._prompt_logprobs.add(delta)
        super()._collect(delta)

    def opening(self, counts):
        first = [
            {"index": index, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            for index in range(self.n)
        ]
        return [self._chunk(first)]

    def _usage(self, counts):
        return dict(super()._usage(counts), completion_tokens_details={"reasoning_tokens": counts.reasoning_tokens})

    def _unary_choice(self, index, choice):
        message = {"role": "assistant", "content": choice.text}
        if choice.tool_calls:
            message = {
                "role": "assistant",
                "content": choice.text or None,
                "tool_calls": tool_call_objects(choice.tool_calls),
            }
        if choice.reasoning:
            message.update(reasoning_fields(choice.reasoning))
        logprobs = chat_logprobs(choice.logprobs, self.top_logprobs) if self.logprobs else None
        unary = {"index": index, "message": message, "logprobs": logprobs, "finish_reason": choice.finish_reason}
        return self._prompt_logprobs.into(unary, index)

    def _content_choice(self, delta):
        content = {"content": delta.text} if delta.text or delta.logprobs else {}
        if delta.reasoning:
            content.update(reasoning_fields(delta.reasoning))
        if delta.tool_calls:
            content["tool_calls"] = tool_call_chunks(delta.tool_calls)
        logprobs = chat_logprobs(delta.logprobs, self.top_logprobs) if self.logprobs and delta.logprobs else None
        chunk = {"index": delta.index, "delta": content, "logprobs": logprobs, "finish_reason": None}
        return self._prompt_logprobs.into_chunk(chunk, delta)

    def _finish_choice(self, index, finish_reason):
        return {"index": index, "delta": {}, "logprobs": None, "finish_reason": finish_reason}


def parse_chat_call(body, request_id=""):
    model, chat_input, stream = parse_chat(body, request_id)
    params = chat_input.params
    writer = ChatWriter(
        model,
        chat_input.choices,
        params.logprobs,
        params.top_logprobs,
        stream.include_usage,
        prompt_logprobs=params.prompt_logprobs is not None,
    )
    return Call(model, chat_input, writer, stream.stream)


CHAT_COMPLETIONS = Api("chat.completions", parse_chat_call, Servable.chat)
