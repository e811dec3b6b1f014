"""Sources that disagree: another retrieved document states a different value for what
an answer's citation states: a figure ("about 2,000 troops" [1], "1,960 troops" [3]), a
date ("appointed on March 3" [1], "on March 5" [2]) or the person who holds a post ("the
company's chief executive, Jane Roe" [1], "chief executive John Doe" [2]).

A cited sentence and a sentence of another document conflict when a value of each is
said of the same thing and the values differ: the content words around the two values
overlap, the sentences say much the same (cosine of their embeddings), and the other
sentence does not state the cited value as well (then it says something else beside it).
Each kind of value is read as `rag.text` reads it and has its own rule for "the same
thing":

- number (`rag.text.numbers.number_mentions`): the sentences do not name different times
  (a figure for October and one for September are two figures). Years are compared only
  with years, and only where the sentences' other figures agree. A day or year inside a
  date of both sentences is left to the dates.
- date (`rag.text.dates.date_mentions`: "March 3", "3 March 2023", "Oct. 12", "in
  March"): a field both state differs (day, month or year; "March 3" and "March 3, 2023"
  agree), and the sentences' figures outside their dates agree ("3.2 % on October 3" and
  "3.7 % on November 3" are two readings).
- role (`rag.verify.roles.role_mentions`, the titles in `roles.toml`): one title, with
  the same modifiers ("former") and no different owner ("Acme CEO", "Globex CEO"), given
  to people of different surnames, the other sentence not naming the cited person too,
  and the sentences' figures and dates agreeing.

Each kind's two thresholds are data, `conflicts.json`, fitted by `python -m
bench.conflicts --fit` on one half of a labelled set made from the MultiHop-RAG articles
and measured on the other.

The similarity they were fitted to is high (near-copies: a wire paragraph run again with
another figure, date or name). The same value disputed in other words is not what the
labelled set holds, so it is not claimed; nor are one-word names ("CEO Hirsch"), a title
given by a clause ("the head of the agency, Jane Roe") or a date named by its weekday.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from rag.schema import Citation, Conflict, Passage
from rag.text.dates import DateMention, date_mentions
from rag.text.numbers import NumberMention, number_mentions
from rag.text.sentences import sentence_spans
from rag.text.words import tokenize
from rag.verify.roles import RoleMention, role_mentions

THRESHOLDS = Path(__file__).with_name("conflicts.json")
KINDS = ("number", "date", "role")

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Thresholds:
    min_context_overlap: float  # shared context words / the smaller context
    min_similarity: float  # cosine of the two sentences


Limits = Mapping[str, Thresholds]  # kind -> its thresholds


@cache
def thresholds() -> Limits:
    data = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    return {kind: Thresholds(data[kind]["min_context_overlap"], data[kind]["min_similarity"])
            for kind in KINDS}


@dataclass(frozen=True)
class Reading:
    """What a sentence states: its numbers, dates and people named by a title, the
    numbers that are no part of a date, and its capitalised words (lower case)."""

    numbers: tuple[NumberMention, ...]
    dates: tuple[DateMention, ...]
    roles: tuple[RoleMention, ...]
    figures: tuple[NumberMention, ...]
    names: frozenset[str]

    def in_date(self, mention: NumberMention) -> bool:
        return any(d.covers(mention.start, mention.end) for d in self.dates)

    def figures_agree(self, other: Reading) -> bool:
        """Every figure of this sentence outside its dates is stated by `other` too."""
        return all(any(o.agrees(m) for o in other.numbers) for m in self.figures)

    def dates_agree(self, other: Reading) -> bool:
        """No date of this sentence is contradicted by the dates `other` states."""
        return all(not other.dates or any(o.agrees(d) for o in other.dates)
                   for d in self.dates)


@lru_cache(maxsize=4096)
def read(text: str) -> Reading:
    numbers, dates = number_mentions(text), date_mentions(text)
    figures = tuple(m for m in numbers
                    if not any(d.covers(m.start, m.end) for d in dates))
    names = frozenset(t.low for t in tokenize(text) if t.cap)
    return Reading(numbers, dates, role_mentions(text), figures, names)


@dataclass(frozen=True)
class Candidate:
    """Two values that may be said of the same thing, before the sentences are compared:
    the cited one (its offsets in the quote) and the other sentence (document offsets)
    with its value."""

    kind: str
    cited_start: int
    cited_value: str
    passage: Passage
    start: int
    end: int
    other_value: str
    overlap: float


def context_overlap(one: frozenset[str], other: frozenset[str]) -> float:
    """Shared context words over the smaller context. Two bare values ("23-20",
    "10:59 p.m.", a date's day) overlap fully: only their sentences can tell."""
    if not one and not other:
        return 1.0
    if not one or not other:
        return 0.0
    return len(one & other) / min(len(one), len(other))


def _numbers(cited: Reading, other: Reading) -> Iterator[tuple[NumberMention, NumberMention,
                                                                 float]]:
    # "Seven wins in 2021" and "seven wins in 2019" disagree on the year; "seven wins in
    # 2021" and "five wins in 2019" are two seasons.
    counts_agree = all(any(o.agrees(m) for o in other.numbers)
                       for m in cited.numbers if not m.value.is_year)
    for mention in cited.numbers:
        if any(o.agrees(mention) for o in other.numbers):
            continue  # it states the cited value too: no disagreement
        if mention.value.is_year and not counts_agree:
            continue
        for number in other.numbers:
            if mention.other_time(number):
                continue  # "3.2 % in October", "3.7 % in September": two things
            if cited.in_date(mention) and other.in_date(number):
                continue  # "March 3", "March 5": the dates are compared as dates
            if number.value.is_year == mention.value.is_year:
                yield mention, number, context_overlap(mention.context, number.context)


def _dates(cited: Reading, other: Reading) -> Iterator[tuple[DateMention, DateMention, float]]:
    if not cited.figures_agree(other):
        return  # "3.2 % on October 3", "3.7 % on November 3": two readings
    for date in cited.dates:
        if any(o.agrees(date) for o in other.dates):
            continue
        for when in other.dates:
            yield date, when, context_overlap(date.context, when.context)


def _roles(cited: Reading, other: Reading) -> Iterator[tuple[RoleMention, RoleMention, float]]:
    if not cited.figures_agree(other) or not cited.dates_agree(other):
        return
    for role in cited.roles:
        if role.name_words[-1] in other.names:
            continue  # it names the cited person too
        for person in other.roles:
            if role.same_post(person) and not role.same_person(person):
                yield role, person, context_overlap(role.context, person.context)


def _sentences(passage: Passage) -> Iterator[tuple[int, int, str]]:
    spans = passage.sentences or [(passage.start + s, passage.start + e)
                                  for s, e in sentence_spans(passage.text)]
    for start, end in spans:
        yield start, end, passage.text[start - passage.start:end - passage.start]


def candidates(quote: str, doc_id: str, passages: Sequence[Passage],
               min_overlap: Mapping[str, float] | None = None) -> list[Candidate]:
    """Values of other documents' sentences said of what a value of `quote` is said of,
    with another value; each kind's at least its `min_overlap` (none when not given)."""
    floors = min_overlap or {}
    cited = read(quote)
    if not (cited.numbers or cited.dates or cited.roles):
        return []
    found = []
    for passage in passages:
        if passage.doc_id == doc_id:
            continue
        for start, end, text in _sentences(passage):
            other = read(text)
            pairs: list[tuple[str, int, str, str, float]] = []
            pairs += [("number", m.start, m.value.surface, o.value.surface, overlap)
                      for m, o, overlap in _numbers(cited, other)]
            pairs += [("date", d.start, d.surface, o.surface, overlap)
                      for d, o, overlap in _dates(cited, other)]
            pairs += [("role", r.start, r.name, o.name, overlap)
                      for r, o, overlap in _roles(cited, other)]
            found += [Candidate(kind, at, value, passage, start, end, other_value, overlap)
                      for kind, at, value, other_value, overlap in pairs
                      if overlap >= floors.get(kind, 0.0)]
    return found


def similarities(quote: str, found: Sequence[Candidate], embed: Embed) -> list[float]:
    """The cosine of `quote` and each candidate's sentence (each sentence embedded once)."""
    texts = list(dict.fromkeys(
        c.passage.text[c.start - c.passage.start:c.end - c.passage.start] for c in found))
    vectors = embed([quote, *texts])
    cosines = dict(zip(texts, (vectors[1:] @ vectors[0]).tolist(), strict=True))
    return [cosines[c.passage.text[c.start - c.passage.start:c.end - c.passage.start]]
            for c in found]


def pair_conflicts(quote: str, doc_id: str, passages: Sequence[Passage], embed: Embed,
                   limits: Limits | None = None) -> list[tuple[Candidate, float]]:
    """The candidates whose sentence says much the same as `quote`, with that cosine:
    at most one per cited value and other document, the closest."""
    limits = limits or thresholds()
    found = candidates(quote, doc_id, passages,
                       {kind: t.min_context_overlap for kind, t in limits.items()})
    if not found:
        return []
    best: dict[tuple[str, int, str], tuple[Candidate, float]] = {}
    for candidate, similarity in zip(found, similarities(quote, found, embed), strict=True):
        key = (candidate.kind, candidate.cited_start, candidate.passage.doc_id)
        if similarity >= limits[candidate.kind].min_similarity and (
                key not in best or similarity > best[key][1]):
            best[key] = (candidate, similarity)
    return list(best.values())


def find_conflicts(citations: Sequence[Citation], passages: Sequence[Passage],
                   embed: Embed) -> list[Conflict]:
    """Each citation's disagreements with the other retrieved documents, the other side
    cited at the exact span of its value's sentence (its marker still 0). An answer that
    cites both sides gets the disagreement once, from the first side cited."""
    conflicts = []
    seen: set[frozenset[tuple[str, int, int, str]]] = set()
    for citation in citations:
        for candidate, similarity in pair_conflicts(citation.quote, citation.doc_id,
                                                    passages, embed):
            passage = candidate.passage
            other = passage.cite(candidate.start, candidate.end)
            sides = frozenset({(citation.doc_id, citation.start, citation.end,
                                candidate.cited_value),
                               (other.doc_id, other.start, other.end, candidate.other_value)})
            if sides in seen:
                continue
            seen.add(sides)
            conflicts.append(Conflict(citation, other, candidate.cited_value,
                                      candidate.other_value, similarity))
    return conflicts
