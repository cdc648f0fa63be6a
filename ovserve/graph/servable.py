"""A servable: its processors and the terminal node, run in order for each request."""

from ovserve.graph.messages import CompletionInput
from ovserve.graph.prompts import start_prompts


class Servable:
    def __init__(self, name, processors, terminal):
        self.name = name
        self.processors = list(processors)
        self.terminal = terminal

    @property
    def nodes(self):
        return self.processors + [self.terminal]

    @property
    def capabilities(self):
        return self.terminal.capabilities

    @property
    def kind(self):
        return self.terminal.kind

    def engine_specs(self):
        """{node name: EngineSpec} for the nodes that need an engine process."""
        specs = {}
        for node in self.nodes:
            spec = node.engine_spec()
            if spec is not None:
                specs[node.context.node_name] = spec
        return specs

    def load(self, runtime):
        for node in self.nodes:
            node.load(runtime)

    def load_would_pause_worker(self):
        return any(node.load_would_pause_worker() for node in self.nodes)

    def stats(self):
        return {node.context.node_name: node.stats() for node in self.nodes if node.stats()}

    def is_ready(self):
        return all(node.is_ready() for node in self.nodes)

    def chat(self, chat_input):
        for node in self.processors:
            chat_input = node.process_chat(chat_input)
        return self.terminal.chat(chat_input)

    def tokenize_chat(self, chat_input):
        """Token ids of the prompt a chat request would get (processors applied)."""
        for node in self.processors:
            chat_input = node.process_chat(chat_input)
        return self.terminal.tokenize_chat(chat_input)

    def tokenize_text(self, text, add_special_tokens=True):
        for node in self.processors:
            text = node.process_completion(CompletionInput(text)).prompt
        return self.terminal.tokenize_text(text, add_special_tokens)

    def detokenize(self, ids):
        return self.terminal.detokenize(ids)

    def complete(self, completion_input):
        for node in self.processors:
            completion_input = node.process_completion(completion_input)
        return self.terminal.complete(completion_input)

    def complete_prompts(self, prompts):
        """One Generation for all the CompletionPrompts of a request, each prompt run as complete() runs it."""
        return start_prompts(self.complete, prompts)

    def embed(self, embeddings_input):
        for node in self.processors:
            embeddings_input = node.process_embeddings(embeddings_input)
        return self.terminal.embed(embeddings_input)

    def rerank(self, rerank_input):
        for node in self.processors:
            rerank_input = node.process_rerank(rerank_input)
        return self.terminal.rerank(rerank_input)

    # Images: no processor rewrites them (processors take text requests).
    def generate_images(self, images_input):
        return self.terminal.generate_images(images_input)

    def edit_images(self, images_input):
        return self.terminal.edit_images(images_input)

    # Audio: no processor rewrites it (processors take text requests).
    def transcribe(self, transcription_input):
        return self.terminal.transcribe(transcription_input)

    def synthesize(self, speech_input):
        return self.terminal.synthesize(speech_input)
