"""The local model's reading of the answerer's choice: do the quoted sentences answer the
question?

The offline answerer decides whether there is an answer by its own scores, and on questions
nobody tuned it to it answers most of the unanswerable ones (the rules read a sentence with
the right kind of filler for another event as an answer). Before the small model phrases
an answer, the chain asks it one thing with a one-token reply, over the quote alone
(`prompts/check_local.md`): "Do the excerpts state the answer to this question? Reply only
YES or NO". The score is its probability of YES against NO in that token, read from the
token distribution rather than the sampled word, so a threshold can be chosen on data; a
quote scored under it is refused. The threshold is data (`answer_check.toml`), made by
`python -m bench.answer_check` on MultiHop-RAG development queries for the default
packaged model; `RAG_LOCAL_CHECK` overrides it (0 turns the check off), and sets one for
any other model.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rag.answer.prompts import Excerpt, escape_text, render_prompt, render_sources

if TYPE_CHECKING:
    from rag.schema import Citation

CHECK_PROMPT = "check_local"
# The ten likeliest first tokens: YES and NO are among them whenever either is likely.
CHECK_TOP_LOGPROBS = 10
THRESHOLDS = Path(__file__).with_name("answer_check.toml")


@runtime_checkable
class AnswerChecker(Protocol):
    """A generator that can judge the answerer's quote before phrasing it: a quote whose
    `answer_probability` is under `check_threshold` is refused (0: never)."""

    check_threshold: float

    def answer_probability(self, question: str, citations: Sequence[Citation]
                           ) -> float | None: ...


def check_messages(question: str, citations: Sequence[Citation], prompts_dir: Path
                   ) -> list[dict[str, str]]:
    """The YES/NO prompt over the cited sentences, joined as one numbered source."""
    first = citations[0] if citations else None
    quoted = Excerpt(" ".join(" ".join(c.quote.split()) for c in citations),
                     first.title if first else "", first.source if first else "",
                     first.published_at if first else "")
    prompt = render_prompt(CHECK_PROMPT, prompts_dir, sources=render_sources([quoted], [1]),
                           question=escape_text(question))
    return [{"role": "user", "content": prompt}]


def yes_probability(top_logprobs: Sequence[Mapping[str, Any]]) -> float | None:
    """P(YES) / (P(YES) + P(NO)) over the first token's likeliest alternatives, each
    spelling counted ("YES", "Yes", " yes"); None when neither word is among them."""
    yes = no = 0.0
    for entry in top_logprobs:
        token = str(entry.get("token", "")).strip().upper()
        try:
            probability = math.exp(float(entry.get("logprob", -math.inf)))
        except (TypeError, ValueError):
            continue
        if token.startswith("YES"):
            yes += probability
        elif token.startswith("NO"):
            no += probability
    return yes / (yes + no) if yes + no > 0 else None


@cache
def calibrated_threshold(model: str, path: Path = THRESHOLDS) -> float:
    """The threshold `bench.answer_check` chose on development data for `model`
    (`RAG_LOCAL_MODEL`'s value), or 0 (no check) for a model it was not chosen for: one
    model's probabilities say nothing about another's (the 0.5B model gives about 0.36 to
    every quote, answering or not)."""
    with open(path, "rb") as file:
        table = tomllib.load(file)
    return float(table["threshold"]) if table.get("model") == model else 0.0
