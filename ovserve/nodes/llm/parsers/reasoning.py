"""Reasoning between `<think>` and `</think>` (Qwen3, DeepSeek-R1, Phi-4-reasoning).

Where generation starts is read from the rendered prompt: a prompt that ends with an opened `<think>`
(DeepSeek-R1's templates, Qwen3's with thinking) starts inside reasoning; one that ends with a closed
`</think>` (Qwen3 with enable_thinking false writes `<think>\\n\\n</think>\\n\\n`) has none. Otherwise the
output may open `<think>` itself, first thing (after blank space); if it doesn't, it is all content.
The markers never reach content or reasoning, and blank space around them is dropped, the same way for
every chunking: leading blank space is held until something else comes, a reasoning's trailing blank space
until we know whether `</think>` follows.
"""

import re

from ovserve.nodes.llm.parsers.base import StateMachine
from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece, held_tail

OPEN, CLOSE = "<think>", "</think>"
MARKERS = re.compile("</?think>")


class ThinkTagReasoning(StateMachine):
    name = "qwen3"

    def __init__(self, prompt_text=""):
        ending = prompt_text.rstrip()
        if ending.endswith(OPEN):
            self.state = "reasoning"
        elif ending.endswith(CLOSE):
            self.state = "content"
        else:
            self.state = "start"  # may open <think> first thing
        self.held = ""
        self.section_started = False  # something other than blank space came in this section

    @property
    def in_reasoning(self):
        return self.state == "reasoning"

    def _start(self):
        stripped = self.held.lstrip()
        if not stripped or (len(stripped) < len(OPEN) and OPEN.startswith(stripped)):
            return None  # still blank, or maybe the start of <think>
        if stripped.startswith(OPEN):
            self.held = stripped[len(OPEN) :]
            self.state = "reasoning"
        else:
            self.state = "content"
        return EMPTY

    def _section_begun(self):
        """Blank space that opens a section is dropped; False while nothing else came."""
        if not self.section_started:
            self.held = self.held.lstrip()
            self.section_started = bool(self.held)
        return self.section_started

    def _reasoning(self):
        if not self._section_begun():
            return None
        end = self.held.find(CLOSE)
        if end != -1:
            reasoning = self.held[:end].rstrip()
            self.held = self.held[end + len(CLOSE) :]
            self.state, self.section_started = "content", False
            return OutputPiece(reasoning=reasoning)
        keep = held_tail(self.held, (CLOSE,))
        body = self.held[: len(self.held) - keep]
        # Blank space at the end may precede </think>: held until the next text says.
        sendable = body.rstrip()
        self.held = self.held[len(sendable) :]
        return OutputPiece(reasoning=sendable) if sendable else None

    def _content(self):
        if not self._section_begun():
            return None
        # A stray marker in the answer is dropped, never shown. The tail that may begin one is held as
        # written (markers only hold "<" first, so none straddles the cut): every chunking drops the same.
        sendable = self._release((OPEN, CLOSE))
        content = MARKERS.sub("", sendable)
        return OutputPiece(content=content) if sendable else None

    def finish(self):
        held, self.held = self.held, ""
        if self.state == "reasoning":
            return OutputPiece(reasoning=held.strip())
        if self.state == "start":
            return OutputPiece(content=held.lstrip())
        return OutputPiece(content=MARKERS.sub("", held if self.section_started else held.lstrip()))


class DeepSeekR1Reasoning(ThinkTagReasoning):
    name = "deepseek_r1"


class Phi4Reasoning(ThinkTagReasoning):
    name = "phi4_reasoning"
