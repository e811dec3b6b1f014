"""Numbers as claims and evidence state them, with their values ("2,000" = "2000" = "two
thousand", "$1.4bn" = "$1.4 billion"), and each number's mentions: the words around it,
which say what it counts, and the times its sentence names, which say when.

`rag.text.analysis` matches a claim's numbers against the evidence's; `rag.verify.conflicts`
compares the figures different documents give for one thing (`number_mentions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.text.lexicon import MONTH_NAMES, WEEKDAYS
from rag.text.words import Tok, tokenize

_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20,
}
_SUFFIX_SCALES = {"bn": 1e9, "b": 1e9, "mn": 1e6, "m": 1e6, "k": 1e3, "tn": 1e12}
_WORD_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9,
                "trillion": 1e12}


@dataclass(frozen=True)
class Number:
    raw: float
    scaled: float
    has_scale: bool
    surface: str
    is_year: bool


def parse_numbers(tokens: Sequence[Tok]) -> list[tuple[int, int, Number]]:
    """(first token, last token, value) of every number mention, digits or words."""
    found: list[tuple[int, int, Number]] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        value: float | None = None
        if t.kind == "num":
            value = float(t.low)
            if t.unit in _SUFFIX_SCALES:
                scaled = value * _SUFFIX_SCALES[t.unit]
                found.append((i, i, Number(value, scaled, True, t.text, False)))
                i += 1
                continue
        elif t.low in _UNITS:
            value = float(_UNITS[t.low])
        elif (t.low == "one" and t.hyphen_next) or (
            t.low in ("one", "a", "an") and i + 1 < n and tokens[i + 1].low in _WORD_SCALES
        ):
            value = 1.0
        if value is None:
            i += 1
            continue
        # Compound numbers: "1.4 billion", "twenty five", "two hundred thousand".
        total, current, has_scale = 0.0, value, False
        j = i + 1
        while j < n:
            low = tokens[j].low
            if low in _WORD_SCALES:
                if _WORD_SCALES[low] == 100:
                    current *= 100
                else:
                    total += current * _WORD_SCALES[low]
                    current = 0.0
                has_scale = True
            elif t.kind != "num" and low in _UNITS and low != "dozen" and current % 10 == 0:
                current += _UNITS[low]
            else:
                break
            j += 1
        is_year = (t.kind == "num" and not has_scale and value.is_integer()
                   and 1900 <= value <= 2100 and "," not in t.text)
        surface = " ".join(tok.text for tok in tokens[i:j])
        found.append((i, j - 1, Number(value, total + current, has_scale, surface, is_year)))
        i = j
    return found


def number_key(value: float) -> str:
    return f"#{value:.6g}"


def numbers_match(claim: Number, other: Number) -> bool:
    # "1.4 billion" and "1.4 million" differ although both say 1.4; "2 million" and
    # "2,000,000" agree although only one has a scale word.
    if claim.has_scale and other.has_scale:
        return math.isclose(claim.scaled, other.scaled, rel_tol=1e-6)
    return math.isclose(claim.scaled, other.scaled, rel_tol=1e-6) or math.isclose(
        claim.raw, other.raw, rel_tol=1e-6
    )


@dataclass(frozen=True)
class NumberMention:
    """A number as stated in a text: its value, where it is (text offsets), the stems of
    the content words around it, which say what it counts ("2,000 *troops* *deployed*"),
    and the times its sentence names besides it (("month", "october"), ("year", "2021")),
    which say when."""

    value: Number
    start: int
    end: int
    context: frozenset[str]
    times: frozenset[tuple[str, str]]

    def agrees(self, other: NumberMention) -> bool:
        return numbers_match(self.value, other.value)

    def other_time(self, other: NumberMention) -> bool:
        """Whether the two sentences name different times of one kind (October and
        September; 2021 and 2019): then their figures are two figures, not one."""
        kinds = {kind for kind, _ in self.times} & {kind for kind, _ in other.times}
        return any({v for k, v in self.times if k == kind}.isdisjoint(
            {v for k, v in other.times if k == kind}) for kind in kinds)


@lru_cache(maxsize=4096)
def number_mentions(text: str, window: int = 4) -> tuple[NumberMention, ...]:
    """Every number of `text` with the content words within `window` tokens of it, in
    the same clause (after a comma, dash or quotation mark another thing may be
    counted)."""
    tokens = tokenize(text)
    numbers = parse_numbers(tokens)
    named = {("month", t.stem) for t in tokens if t.cap and t.stem in MONTH_NAMES}
    named |= {("weekday", t.low) for t in tokens if t.cap and t.low in WEEKDAYS}
    years = {(first, ("year", f"{n.raw:.0f}")) for first, _, n in numbers if n.is_year}
    mentions = []
    for first, last, number in numbers:
        clause = tokens[first].clause
        around = [*tokens[max(0, first - window):first], *tokens[last + 1:last + 1 + window]]
        context = frozenset(t.stem for t in around
                            if t.kind == "word" and t.clause == clause)
        times = frozenset(named | {time for at, time in years if at != first})
        mentions.append(NumberMention(number, tokens[first].start, tokens[last].end,
                                      context, times))
    return tuple(mentions)
