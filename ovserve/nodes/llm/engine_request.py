"""A request inside the engine: its settings, the pipeline handles that generate it, what it has produced, and
the reading of those handles after each step into one TokenUpdate.

The reading hides two things the pipeline does from everything after it: with `settings.echo`, each
sequence's first reads start with the prompt's ids, which are taken off here (sequence 0's scores of them
become the update's `prompt_logprobs`); and sampled choices (n > 1) are a handle each, whose sequences are
put back together here under the request's own sequence indices.

Only the engine host's thread calls this, like everything that touches a handle.
"""

from dataclasses import dataclass, field, replace
from typing import Optional, Union

import openvino_genai

from ovserve.nodes.llm.messages import GenerationSettings, TokenUpdate
from ovserve.runtime.engine import RequestFailure
from ovserve.runtime.messages import FailureKind

FINISH_REASONS = {
    openvino_genai.GenerationFinishReason.STOP: "stop",
    openvino_genai.GenerationFinishReason.LENGTH: "length",
    openvino_genai.GenerationFinishReason.TOOL_CALL: "tool_calls",
}
RUNNING = openvino_genai.GenerationStatus.RUNNING


def one_sequence(settings, index):
    """The settings of sampled choice `index` as a handle of its own: one sequence, a seed of its own (the same
    request seed gives the same choices; the same seed for all would give n copies)."""
    seed = ((settings.rng_seed or 0) + 7919 * index) % 2**64
    return replace(settings, num_return_sequences=1, rng_seed=seed)


def unscored_prompt():
    # Measured: a prompt prefix restored from the prefix cache comes back with fewer log-probabilities than
    # ids (or fewer ids, when max_new_tokens is 0); the worker refuses prompt scoring on such servables, so
    # this only guards against a silently wrong score.
    return RequestFailure(
        FailureKind.ENGINE, "the engine did not score the whole prompt (a prefix came from the prefix cache)"
    )


@dataclass(frozen=True)
class HandleReading:
    """What one reading of a request's handles gave: its news (None if none), and whether any handle had
    output (the engine's sign that the request's grammar compiled)."""

    news: Union[TokenUpdate, RequestFailure, None]
    had_output: bool = False


@dataclass
class LiveRequest:
    """One worker request: its settings, the pipeline handles that generate it, what it has produced.

    A request is usually one handle. Sampled choices (n > 1) are a handle each: the pipeline streams a handle
    only while it has one sequence, and sends all the sequences of a multinomial handle at its end (measured:
    n=2 at temperature 0.8 came in one read after 3.3 s, n=1 first read after 0.37 s). After a failed step
    each unfinished sequence resumes as a handle of its own (`parts`: handle -> {the handle's sequence
    index: the request's}).

    With `settings.echo`, each sequence's first reads start with the prompt's ids (all at once, or a
    prefill chunk a step when max_new_tokens is 0): `echo_left` counts what is still to take off, and
    `prompt_logprobs` gathers sequence 0's scores of it."""

    prompt_ids: list
    settings: GenerationSettings
    schema: Optional[str]
    parts: list = field(default_factory=list)  # [(handle, index map or None)]
    emitted: dict = field(default_factory=dict)  # request sequence index -> token ids sent
    finished: set = field(default_factory=set)  # request sequence indices that finished
    echo_left: dict = field(default_factory=dict)  # request sequence index -> echoed prompt ids still to come
    prompt_logprobs: list = field(default_factory=list)
    prompt_scored: bool = False  # the prompt's log-probabilities were sent
    vision: Optional[object] = None  # a VisionPrompt (engine_pipeline.py): the text and images the pipeline runs

    @property
    def started(self):
        return bool(self.parts)

    def expect_echo(self):
        """Before its first handles: every sequence's first reads will start with the prompt."""
        if self.settings.echo:
            self.echo_left = dict.fromkeys(range(self.settings.num_return_sequences), len(self.prompt_ids))
            self.prompt_logprobs = []

    def cancel_handles(self):
        for handle, _ in self.parts:
            handle.cancel()
        self.parts = []

    def read(self):
        """The news of this request since the last step, recording what it sent."""
        sequences = {}
        for handle, index_map in self.parts:
            while handle.can_read():
                for index, output in handle.read().items():
                    index = index_map.get(index, index) if index_map else index
                    ids, logprobs, reason = sequences.setdefault(index, ([], [], [None]))
                    new_ids, new_logprobs = list(output.generated_ids), list(output.generated_log_probs)
                    if self.echo_left.get(index):
                        if self.settings.logprobs and len(new_logprobs) != len(new_ids):
                            return HandleReading(unscored_prompt())
                        new_ids, new_logprobs = self._take_echo(index, new_ids, new_logprobs)
                    ids.extend(new_ids)
                    logprobs.extend(new_logprobs)
                    if output.finish_reason in FINISH_REASONS:
                        reason[0] = FINISH_REASONS[output.finish_reason]
        for index, (ids, _, reason) in sequences.items():
            self.emitted.setdefault(index, []).extend(ids)
            if reason[0]:
                self.finished.add(index)
        had_output = bool(sequences)
        statuses = [handle.get_status() for handle, _ in self.parts]
        running = any(status == RUNNING for status in statuses)
        scored = self._scored_prompt(running)
        if isinstance(scored, RequestFailure):
            return HandleReading(scored, had_output)
        if not running and self.settings.max_new_tokens == 0:
            # A score-only request ends with no finish reason from the pipeline (measured: NONE): its length.
            for index in range(self.settings.num_return_sequences):
                reason = sequences.setdefault(index, ([], [], [None]))[2]
                reason[0] = reason[0] or "length"
        if not sequences and not scored and running:
            return HandleReading(None, had_output)
        status = RUNNING if running else next((s for s in statuses if s.name != "FINISHED"), statuses[0])
        update = TokenUpdate(
            tuple((index, ids, logprobs, reason[0]) for index, (ids, logprobs, reason) in sequences.items()),
            status.name.lower(),
            scored,
        )
        return HandleReading(update, had_output)

    def _take_echo(self, index, ids, logprobs):
        """Take the echoed prompt off the front of a read: (the generated ids, their log-probabilities)."""
        echoed = min(self.echo_left[index], len(ids))
        self.echo_left[index] -= echoed
        if index == 0:
            self.prompt_logprobs.extend(logprobs[:echoed])
        return ids[echoed:], logprobs[echoed:]

    def _scored_prompt(self, running):
        """The prompt's log-probabilities once all of them came (first None), else (); a RequestFailure if the
        request ended without them."""
        if not self.settings.echo or not self.settings.logprobs or self.prompt_scored:
            return ()
        if self.echo_left.get(0) or len(self.prompt_logprobs) != len(self.prompt_ids):
            return () if running else unscored_prompt()
        scores = (None,) + tuple(self.prompt_logprobs[1:])  # the pipeline's first is a placeholder (1.0)
        self.prompt_scored = True
        return scores
