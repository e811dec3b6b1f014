"""Sources that disagree: another retrieved document states a different value for what
an answer's citation counts ("about 2,000 troops" [1], "1,960 troops" [3]).

A cited sentence and a sentence of another document conflict when a number of each
counts the same thing and the values differ: the content words around the two numbers
overlap (`rag.text.numbers.number_mentions`), the sentences say much the same (cosine of
their embeddings), the other sentence does not state the cited value as well (then it
counts something else beside it), and the sentences do not name different times (a figure
for October and one for September are two figures). Years are compared only with years,
and only where the sentences' other figures agree. The two thresholds are data,
`conflicts.json`, fitted by `python -m bench.conflicts --fit` on one half of a labelled
set made from the MultiHop-RAG articles and measured on the other.

The similarity it was fitted to is high (near-copies: a wire paragraph run again with
another figure). The same figure disputed in other words is not what the labelled set
holds, so it is not claimed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rag.schema import Citation, Conflict, Passage
from rag.text.numbers import NumberMention, number_mentions
from rag.text.sentences import sentence_spans

THRESHOLDS = Path(__file__).with_name("conflicts.json")

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Thresholds:
    min_context_overlap: float  # shared context words / the smaller context
    min_similarity: float  # cosine of the two sentences


@cache
def thresholds() -> Thresholds:
    data = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    return Thresholds(data["min_context_overlap"], data["min_similarity"])


@dataclass(frozen=True)
class Candidate:
    """A pair of numbers that may count the same thing, before the sentences are
    compared: the cited one, the other sentence (document offsets) and its number."""

    cited: NumberMention
    passage: Passage
    start: int
    end: int
    other: NumberMention
    overlap: float


def context_overlap(one: NumberMention, other: NumberMention) -> float:
    """Shared context words over the smaller context. Two bare numbers ("23-20",
    "10:59 p.m.", a date's day) overlap fully: only their sentences can tell."""
    if not one.context and not other.context:
        return 1.0
    if not one.context or not other.context:
        return 0.0
    return len(one.context & other.context) / min(len(one.context), len(other.context))


def candidates(quote: str, doc_id: str, passages: Sequence[Passage],
               min_overlap: float) -> list[Candidate]:
    """Numbers of other documents' sentences that count what a number of `quote` counts,
    with another value."""
    cited = number_mentions(quote)
    if not cited:
        return []
    found = []
    for passage in passages:
        if passage.doc_id == doc_id:
            continue
        spans = passage.sentences or [(passage.start + s, passage.start + e)
                                      for s, e in sentence_spans(passage.text)]
        for start, end in spans:
            text = passage.text[start - passage.start:end - passage.start]
            others = number_mentions(text)
            # "Seven wins in 2021" and "seven wins in 2019" disagree on the year; "seven
            # wins in 2021" and "five wins in 2019" are two seasons.
            counts_agree = all(any(o.agrees(m) for o in others)
                               for m in cited if not m.value.is_year)
            for mention in cited:
                if any(o.agrees(mention) for o in others):
                    continue  # it states the cited value too: no disagreement
                if mention.value.is_year and not counts_agree:
                    continue
                for other in others:
                    if mention.other_time(other):
                        continue  # "3.2 % in October", "3.7 % in September": two things
                    overlap = context_overlap(mention, other)
                    if (other.value.is_year == mention.value.is_year
                            and overlap >= min_overlap):
                        found.append(Candidate(mention, passage, start, end, other,
                                               overlap))
    return found


def pair_conflicts(quote: str, doc_id: str, passages: Sequence[Passage], embed: Embed,
                   limits: Thresholds | None = None) -> list[tuple[Candidate, float]]:
    """The candidates whose sentence says much the same as `quote`, with that cosine:
    at most one per cited number and other document, the closest."""
    limits = limits or thresholds()
    found = candidates(quote, doc_id, passages, limits.min_context_overlap)
    if not found:
        return []
    texts = [quote] + [c.passage.text[c.start - c.passage.start:c.end - c.passage.start]
                       for c in found]
    vectors = embed(texts)
    similarities = vectors[1:] @ vectors[0]
    best: dict[tuple[int, str], tuple[Candidate, float]] = {}
    for candidate, similarity in zip(found, similarities.tolist(), strict=True):
        key = (candidate.cited.start, candidate.passage.doc_id)
        if similarity >= limits.min_similarity and (key not in best
                                                    or similarity > best[key][1]):
            best[key] = (candidate, similarity)
    return list(best.values())


def find_conflicts(citations: Sequence[Citation], passages: Sequence[Passage],
                   embed: Embed) -> list[Conflict]:
    """Each citation's disagreements with the other retrieved documents, the other side
    cited at the exact span of its number's sentence (its marker still 0)."""
    conflicts = []
    for citation in citations:
        for candidate, similarity in pair_conflicts(citation.quote, citation.doc_id,
                                                    passages, embed):
            passage = candidate.passage
            other = passage.cite(candidate.start, candidate.end)
            conflicts.append(Conflict(citation, other, candidate.cited.value.surface,
                                      candidate.other.value.surface, similarity))
    return conflicts
