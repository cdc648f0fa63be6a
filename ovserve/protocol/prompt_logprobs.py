"""vLLM's `prompt_logprobs` of a choice, shared by chat and text completions: one entry per prompt token, the
first null (nothing comes before it), then {"<token id>": {"logprob", "rank", "decoded_token"}}. `rank` is
null: the engine scores the prompt token only, so its rank among the vocabulary is not known."""


def prompt_logprobs_list(entries):
    """vLLM's list for PromptTokenLogprob entries."""
    return [
        None
        if entry.logprob is None
        else {str(entry.token_id): {"logprob": entry.logprob, "rank": None, "decoded_token": entry.decoded_token}}
        for entry in entries
    ]


class PromptLogprobsCollector:
    """Each choice's list for a unary answer, when the request asked for them (else `asked` is False)."""

    def __init__(self, asked):
        self.asked = asked
        self._lists = {}

    def add(self, delta):
        if self.asked and delta.prompt_logprobs:
            self._lists[delta.index] = prompt_logprobs_list(delta.prompt_logprobs)

    def into(self, choice, index):
        """The choice object with its prompt_logprobs when asked for."""
        if self.asked:
            choice["prompt_logprobs"] = self._lists.get(index)
        return choice

    def into_chunk(self, choice, delta):
        if self.asked and delta.prompt_logprobs:
            choice["prompt_logprobs"] = prompt_logprobs_list(delta.prompt_logprobs)
        return choice
