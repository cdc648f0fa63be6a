"""The prompts of a benchmark run: seeded random words, so every run can be reproduced exactly.

Each prompt is one user message of N words drawn from a fixed list of common English nouns. With
SmolLM2's tokenizer every word is exactly one token (measured: 10, 60 and 200 words make 10, 60 and
200 tokens, and 40, 90 and 230 once the chat template wraps them); other BPE tokenizers of English
come close, so `--input-tokens N` asks for N words. The report shows the prompt length the server
counted (its usage chunk), chat template included.
"""

import random
from dataclasses import dataclass

DEFAULT_INPUT_WORDS = 60

WORDS = """time year people way day man thing woman life child world school state family student group
country problem hand part place case week company system program question work government number night
point home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community name
president team minute idea kid body information back parent face others level office door health person
art war history party result change morning reason research girl guy moment air teacher force education
foot boy age policy music market sense nation plan college interest death experience effect class control
care field development role effort rate heart drug show leader light voice wife police mind price report
decision son view relationship town road arm difference value building action model season society tax
director position player record paper space ground form event official matter center couple site project
activity star table need court oil situation cost industry figure street image phone data picture practice
piece land product doctor wall patient worker news test movie north love support technology step baby
computer type attention film tree source organization hair window evidence population truth song""".split()


@dataclass(frozen=True)
class Workload:
    """What every request of a benchmark asks for."""

    input_words: int = DEFAULT_INPUT_WORDS
    max_tokens: int = 64
    ignore_eos: bool = True
    seed: str = "ovserve"

    def prompts(self, count, *scope):
        """`count` prompts for one run; `scope` (level, repeat, ...) gives each run prompts of its own,
        so a server's prefix cache can't favour later runs."""
        return make_prompts(count, "-".join(str(part) for part in (self.seed, *scope)), self.input_words)


def make_prompts(count, seed, words=DEFAULT_INPUT_WORDS):
    """`count` user messages of `words` random words; the same seed gives the same prompts."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(count)]
