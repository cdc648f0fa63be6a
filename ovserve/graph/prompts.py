"""Several prompts of one completions request answered as one generation (Servable.complete_prompts).

Every prompt is submitted before any is read, so the engine batches them together. The answer reads
them one after the other: OpenAI numbers choice j of prompt i as i·n + j, and the later prompts'
tokens wait in their queues meanwhile (they are generated all the same).
"""

from dataclasses import replace

from ovserve.graph.messages import Generation


class PromptsGeneration(Generation):
    def __init__(self, generations, n):
        self._generations = list(generations)
        self._n = n

    @property
    def prompt_tokens(self):
        return sum(generation.prompt_tokens for generation in self._generations)

    @property
    def completion_tokens(self):
        return sum(generation.completion_tokens for generation in self._generations)

    def __iter__(self):
        for position, generation in enumerate(self._generations):
            offset = position * self._n
            for deltas in generation:
                yield [replace(delta, index=delta.index + offset) for delta in deltas] if offset else deltas

    def close(self):
        """Cancel every prompt's generation (the request's owner closes it once, however it ended)."""
        for generation in self._generations:
            generation.close()


def start_prompts(start, prompts):
    """start(input) for each of `prompts.inputs`; if one fails, cancel those already started."""
    if len(prompts.inputs) == 1:
        return start(prompts.inputs[0])
    generations = []
    try:
        for completion_input in prompts.inputs:
            generations.append(start(completion_input))
    except BaseException:
        for generation in generations:
            generation.close()
        raise
    return PromptsGeneration(generations, prompts.params.n)
