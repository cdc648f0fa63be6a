"""An example node plugin: puts fixed text in front of every prompt.

It shows the plugin mechanism end to end: this file defines a node type, a graph places it in
front of the LLM node, and nothing in ovserve changes. For chat requests the text is prepended to
the content of the first user message; for text completions, to the prompt (a prompt given as token ids
is left as it is).

    {"name": "prefix", "type": "prompt_prefix", "input": "request",
     "options": {"text": "Answer in one sentence. "}}
"""

from ovserve.graph.node import RequestProcessor


class PromptPrefixNode(RequestProcessor):
    type_name = "prompt_prefix"
    options_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["text"],
        "properties": {"text": {"type": "string", "description": "Text put in front of the prompt."}},
    }

    def process_chat(self, chat_input):
        messages, prefixed = [], False
        for message in chat_input.messages:
            if not prefixed and message["role"] == "user":
                content = message["content"]
                if isinstance(content, list):  # a message with images: its text and image parts
                    content = [{"type": "text", "text": self.options["text"]}, *content]
                else:
                    content = self.options["text"] + content
                message = dict(message, content=content)
                prefixed = True
            messages.append(message)
        return chat_input.with_messages(messages)

    def process_completion(self, completion_input):
        if completion_input.prompt_ids:
            return completion_input  # token ids are used as they are: there is no text to put anything in front of
        return completion_input.with_prompt(self.options["text"] + completion_input.prompt)


NODE_TYPES = {PromptPrefixNode.type_name: PromptPrefixNode}
