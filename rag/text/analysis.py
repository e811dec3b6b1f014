"""How claims and evidence are read: one `Analysis` of a text (its content words with
their stems, numbers with their values, names, negations) and which of a claim's words a
piece of evidence covers. The tokens come from `rag.text.words`, the numbers' values
from `rag.text.numbers`, what each negation cue negates from `rag.text.negation`.

The learned checker's exact side (`rag.verify.checker`), the answer selector and the rule
checker (`rag.verify.rules`) all read text through `analyse`: one analysis, not three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.text.negation import negation_heads
from rag.text.numbers import Number, number_key, numbers_match, parse_numbers
from rag.text.words import Tok, tokenize, words_match

# --- analysed text ------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    tokens: tuple[Tok, ...]
    numbers: tuple[Number, ...]
    # Distinct content keys in order (word stems, "#<value>" for numbers) and how each
    # is written, for reasons.
    content: tuple[str, ...]
    surfaces: tuple[str, ...]
    words: frozenset[str]  # stems and lower-case forms of content words
    by_prefix: dict[str, tuple[str, ...]]  # first four letters -> words, for fuzzy matches
    # Stem of the word each negation cue applies to, one entry per cue ("" when none),
    # and the stems that occur at least once outside a negation.
    neg_heads: tuple[tuple[str, frozenset[str]], ...]  # (head, its neighbouring stems)
    positive: frozenset[str]
    # Capitalised words not at the start of a sentence: names, places, titles, dates.
    caps: frozenset[str]
    # Every capitalised word, wherever it stands.
    names: frozenset[str]
    number_tokens: frozenset[int]  # indices of tokens that are part of a number

    def has_word(self, stem: str, low: str) -> bool:
        if stem in self.words or low in self.words:
            return True
        for probe in (stem, low):
            for other in self.by_prefix.get(probe[:4], ()):
                if words_match(probe, other):
                    return True
        return False

    def has_number(self, number: Number) -> bool:
        return any(numbers_match(number, other) for other in self.numbers)


@lru_cache(maxsize=16384)
def analyse(text: str) -> Analysis:
    tokens = tokenize(text)
    numbers = parse_numbers(tokens)
    number_at = {first: (last, number) for first, last, number in numbers}
    content: dict[str, str] = {}
    words: set[str] = set()
    i = 0
    while i < len(tokens):
        if i in number_at:
            last, number = number_at[i]
            content.setdefault(number_key(number.scaled), number.surface)
            i = last + 1
            continue
        t = tokens[i]
        if t.kind == "word":
            content.setdefault(t.stem, t.text)
            words.update((t.stem, t.low))
        i += 1
    by_prefix: dict[str, list[str]] = {}
    for w in words:
        if len(w) >= 4:
            by_prefix.setdefault(w[:4], []).append(w)
    in_number = {k for first, last, _ in numbers for k in range(first, last + 1)}
    heads, positive = negation_heads(tokens, in_number)
    words.update(_acronyms(tokens))
    return Analysis(
        tokens=tuple(tokens),
        numbers=tuple(n for _, _, n in numbers),
        content=tuple(content),
        surfaces=tuple(content.values()),
        words=frozenset(words),
        by_prefix={k: tuple(v) for k, v in by_prefix.items()},
        neg_heads=tuple(heads),
        positive=frozenset(positive),
        caps=frozenset(t.low for t in tokens if t.cap and not t.initial),
        names=frozenset(t.stem for t in tokens if t.cap),
        number_tokens=frozenset(in_number),
    )


def _acronyms(tokens: Sequence[Tok]) -> set[str]:
    """Initials of runs of capitalised words: "Federal Trade Commission" gives "ftc"."""
    out: set[str] = set()
    run: list[str] = []
    for t in [*tokens, None]:
        if t is not None and t.cap:
            run.append(t.text[0].lower())
            continue
        if t is not None and run and t.low in ("of", "and", "for", "the", "&"):
            continue
        for i in range(len(run)):
            for j in range(i + 2, min(i + 6, len(run)) + 1):
                out.add("".join(run[i:j]))
        run = []
    return out


# --- matching -----------------------------------------------------------------------------


@dataclass
class Evidence:
    """A window of consecutive analysed sentences."""

    analyses: list[Analysis]
    neg_heads: list[tuple[str, frozenset[str]]]
    positive: set[str]
    words: set[str]
    names: set[str]

    @classmethod
    def of(cls, analyses: list[Analysis]) -> Evidence:
        heads: list[tuple[str, frozenset[str]]] = []
        positive: set[str] = set()
        words: set[str] = set()
        names: set[str] = set()
        for a in analyses:
            heads.extend(a.neg_heads)
            positive |= a.positive
            words |= a.words
            names |= a.names
        return cls(analyses, heads, positive, words, names)

    def has_word(self, stem: str, low: str) -> bool:
        return any(a.has_word(stem, low) for a in self.analyses)

    def has_number(self, number: Number) -> bool:
        return any(a.has_number(number) for a in self.analyses)


def covered_keys(claim: Analysis, sentence: Analysis) -> list[bool]:
    """Which of the claim's content keys the sentence contains."""
    numbers = {number_key(n.scaled): n for n in claim.numbers}
    lows = {t.stem: t.low for t in claim.tokens if t.kind == "word"}
    out = []
    for key in claim.content:
        if key in numbers:
            out.append(sentence.has_number(numbers[key]))
        else:
            out.append(sentence.has_word(key, lows.get(key, key)))
    return out


# --- hard checks --------------------------------------------------------------------------


def number_problems(claim: Analysis, ev: Evidence) -> list[str]:
    reasons = []
    for number in claim.numbers:
        if not ev.has_number(number):
            label = "date" if number.is_year else "number"
            reasons.append(f"{label} {number.surface} not in evidence")
    return reasons
