"""One choice's output parser: reasoning first, then tool calls read from the content that follows."""

from ovserve.nodes.llm.parsers.pieces import EMPTY, OutputPiece


class OutputParser:
    """Fed the choice's text as it is decoded; answers OutputPieces. `in_reasoning` says whether the text
    being fed is reasoning (the node counts reasoning tokens by it)."""

    def __init__(self, reasoning=None, tools=None):
        self.reasoning = reasoning  # a reasoning parser, or None
        self.tools = tools  # a tool parser, or None

    @property
    def in_reasoning(self):
        return self.reasoning is not None and self.reasoning.in_reasoning

    def feed(self, text):
        return self._through_tools(self.reasoning.feed(text) if self.reasoning else OutputPiece(content=text))

    def finish(self):
        piece = self._through_tools(self.reasoning.finish()) if self.reasoning else EMPTY
        return piece + (self.tools.finish() if self.tools else EMPTY)

    def _through_tools(self, piece):
        if self.tools is None or not piece.content:
            return piece
        return OutputPiece(reasoning=piece.reasoning) + self.tools.feed(piece.content) + OutputPiece(calls=piece.calls)


class SingleParser(OutputParser):
    """A parser that reads reasoning and calls itself (harmony)."""

    def __init__(self, parser):
        super().__init__()
        self.parser = parser

    @property
    def in_reasoning(self):
        return self.parser.in_reasoning

    def feed(self, text):
        return self.parser.feed(text)

    def finish(self):
        return self.parser.finish()
