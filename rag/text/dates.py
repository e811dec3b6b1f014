"""Calendar dates as running text states them ("March 3", "3 March 2023", "Oct. 12, 2023",
"the 3rd of March", "2023-10-12", "October 2023", "in March"), each with its value (year,
month, day; what the text leaves out is None) and the words around it, which say what it
dates ("*appointed* on March 3").

`rag.verify.conflicts` compares the dates different documents give for one thing
(`date_mentions`); a date's day and year are numbers too (`rag.text.numbers`), so a
reader of figures can tell them from counts by `DateMention.covers`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.text.lexicon import MONTH_NAMES
from rag.text.words import Tok, tokenize

_ORDINALS = ("", "st", "nd", "rd", "th")


@dataclass(frozen=True)
class DateMention:
    """A date as stated in a text: where it is (text offsets), its value, and the stems of
    the content words within a few tokens of it."""

    start: int
    end: int
    surface: str
    year: int | None
    month: int
    day: int | None
    context: frozenset[str]

    def agrees(self, other: DateMention) -> bool:
        """Whether the two could be one date: every field both state is equal ("March 3"
        and "March 3, 2023" agree, "March 3" and "March 5" do not, nor "March" and "April")."""
        return all(a is None or b is None or a == b for a, b in
                   ((self.year, other.year), (self.month, other.month), (self.day, other.day)))

    def covers(self, start: int, end: int) -> bool:
        return self.start <= start and end <= self.end


def _day(token: Tok) -> int | None:
    if token.kind != "num" or token.unit not in _ORDINALS or not token.low.isdigit():
        return None
    value = int(token.low)
    return value if 1 <= value <= 31 else None


def _year(token: Tok) -> int | None:
    if token.kind != "num" or token.unit or not token.low.isdigit() or len(token.text) != 4:
        return None
    value = int(token.low)
    return value if 1900 <= value <= 2100 else None


def _month(token: Tok) -> int | None:
    # Capitalised, so "may" the verb and "march" the walk are no months ("May" inside a
    # sentence is the month, "24 May" too, which the tokens leave a modal); a month's
    # abbreviation ("Oct", "Sept") is one only beside a day or a year (checked by callers).
    if token.text == "May":
        return 5
    if not token.cap or token.stem not in MONTH_NAMES:
        return None
    return MONTH_NAMES.index(token.stem) + 1


def _valid(year: int | None, month: int, day: int | None) -> bool:
    if day is None:
        return True
    return day <= calendar.monthrange(year or 2024, month)[1]  # 2024: February 29 allowed


def _gap(text: str, left: Tok, right: Tok) -> str:
    return text[left.end:right.start]


def _read(text: str, tokens: Sequence[Tok]) -> list[tuple[int, int, int | None, int, int | None]]:
    """(first token, last token, year, month, day) of each date, left to right."""
    found: list[tuple[int, int, int | None, int, int | None]] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        # 2023-10-12
        if (_year(t) is not None and t.hyphen_next and i + 2 < n and tokens[i + 1].hyphen_next
                and len(tokens[i + 1].text) == 2 and len(tokens[i + 2].text) == 2):
            mm, dd = tokens[i + 1].low, tokens[i + 2].low
            if mm.isdigit() and dd.isdigit() and 1 <= int(mm) <= 12 \
                    and 1 <= int(dd) <= 31 and _valid(_year(t), int(mm), int(dd)):
                found.append((i, i + 2, _year(t), int(mm), int(dd)))
                i += 3
                continue
        month = _month(t)
        if month is None:
            i += 1
            continue
        full = t.low == MONTH_NAMES[month - 1]
        first, last, day, year = i, i, None, None
        nxt = tokens[i + 1] if i + 1 < n else None
        # March 3(rd)(, 2023) | Oct. 12 | March(,) 2023; the dot only after a short name
        gap = _gap(text, t, nxt).strip() if nxt is not None else "?"
        gap = "" if gap == "." and not full else gap
        if nxt is not None and _day(nxt) is not None and not gap:
            day, last = _day(nxt), i + 1
        elif nxt is not None and _year(nxt) is not None and gap in ("", ","):
            year, last = _year(nxt), i + 1
        # 3(rd) (of) March
        before = [tokens[j] for j in range(max(0, i - 2), i)]
        if day is None and before:
            if _day(before[-1]) is not None and not _gap(text, before[-1], t).strip():
                day, first = _day(before[-1]), i - 1
            elif (len(before) == 2 and before[1].low == "of" and _day(before[0]) is not None
                  and before[0].unit):
                day, first = _day(before[0]), i - 2
        if day is not None and year is None and last + 1 < n:
            after = tokens[last + 1]
            if _year(after) is not None and _gap(text, tokens[last], after).strip() in ("", ","):
                year, last = _year(after), last + 1
        counted = bool(before) and before[-1].kind == "num" and first == i and \
            not _gap(text, before[-1], t).strip()  # "42 August": no day, no date
        if (day is None and year is None and (not full or t.initial)) or counted \
                or not _valid(year, month, day):
            i += 1  # a bare month written short or opening a sentence: no date
            continue
        found.append((first, last, year, month, day))
        i = last + 1
    return found


@lru_cache(maxsize=4096)
def date_mentions(text: str, window: int = 4) -> tuple[DateMention, ...]:
    """Every calendar date of `text`, with the content words within `window` tokens of
    it (other month names aside)."""
    tokens = tokenize(text)
    mentions = []
    for first, last, year, month, day in _read(text, tokens):
        # Across commas: a date opening a sentence ("On Oct. 12, 2023, Israel warned")
        # dates what follows them.
        around = [*tokens[max(0, first - window):first], *tokens[last + 1:last + 1 + window]]
        context = frozenset(t.stem for t in around
                            if t.kind == "word" and t.stem not in MONTH_NAMES)
        start, end = tokens[first].start, tokens[last].end
        mentions.append(DateMention(start, end, text[start:end], year, month, day, context))
    return tuple(mentions)
