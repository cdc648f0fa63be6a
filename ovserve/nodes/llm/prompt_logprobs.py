"""The prompt's own log-probabilities, as a request asks for them: with the echoed prompt (completions' `echo`
with `logprobs`, what lm-eval's loglikelihood reads) or as vLLM's `prompt_logprobs` list.

The engine scores the prompt in the pass that generates (GenerationSettings.echo) and sends the scores once
(TokenUpdate.prompt_logprobs, the first None); PromptScoring turns them into each choice's first delta.
"""

from dataclasses import replace

from ovserve.errors import InvalidRequest
from ovserve.graph.messages import ChoiceDelta, PromptTokenLogprob, TokenLogprob


def scoring_param(params, echo):
    """The request field that asks for the prompt's scores, or None if none does."""
    if params.prompt_logprobs is not None:
        return "prompt_logprobs"
    if echo and params.logprobs:
        return params.top_logprobs_param
    return None


def check_scorable(param, prefix_caching):
    """Refuse scoring the prompt on a servable that caches prompt prefixes. Measured (openvino_genai
    2026.4.1): a prefix restored from the cache is not run through the model, so it comes back with no
    log-probabilities, or, with max_tokens 0, not at all; which prompts hit the cache is not knowable."""
    if prefix_caching:
        raise InvalidRequest(
            f"'{param}' asks for the prompt's log-probabilities, which this model can't give: it caches prompt "
            "prefixes (enable_prefix_caching), and the engine does not score a cached prefix. Use a servable "
            "with enable_prefix_caching false.",
            param=param,
            code="unsupported_parameter",
        )


def listing_special_tokens(token_text, decode_with_markers):
    """`token_text` that gives special tokens their marker text too, so their log-probabilities are listed.
    For an echo with logprobs: clients slice those lists by token count (lm-eval takes the last entry as the
    generated token, and the generated token may well be the end of text)."""

    def text(token):
        plain, raw = token_text(token)
        if raw:
            return plain, raw
        marker = decode_with_markers([token])
        return marker, tuple(marker.encode("utf-8"))

    return text


class PromptScoring:
    """The first delta of every choice once the prompt's scores come: the echoed text (`echo_text` given), with
    a TokenLogprob per prompt token (`echo_logprobs`), and vLLM's list (`as_list`)."""

    def __init__(self, prompt_ids, token_text, echo_text=None, echo_logprobs=False, as_list=False):
        self.prompt_ids = prompt_ids
        self.token_text = token_text  # id -> (text, bytes), as the generated tokens' logprobs use
        self.echo_text = echo_text
        self.echo_logprobs = echo_logprobs and echo_text is not None
        self.as_list = as_list

    def first_deltas(self, scores, n):
        """{choice index: ChoiceDelta} for the prompt's scores (one per prompt token, the first None)."""
        texts = [self.token_text(token) for token in self.prompt_ids]
        echoed = ()
        if self.echo_logprobs:
            # Every prompt token is listed, special ones too: clients slice these lists by their token count.
            echoed = tuple(
                TokenLogprob(token=text, logprob=score, token_bytes=raw) for (text, raw), score in zip(texts, scores)
            )
        listed = ()
        if self.as_list:
            listed = tuple(
                PromptTokenLogprob(token, score, text)
                for token, (text, _), score in zip(self.prompt_ids, texts, scores)
            )
        return {
            index: ChoiceDelta(index, self.echo_text or "", None, echoed, prompt_logprobs=listed) for index in range(n)
        }


def merged(first, delta):
    """One delta of a choice's prompt delta and its first generated one, the prompt's part first."""
    return replace(
        delta,
        text=first.text + delta.text,
        logprobs=first.logprobs + delta.logprobs,
        prompt_logprobs=first.prompt_logprobs,
    )
