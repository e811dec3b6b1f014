"""A timeline: the dated, cited sentences about a subject, oldest first, one per story and
date (the copies of a syndicated article tell one event once; one article may tell several).

Each entry's date is the one its sentence states, resolved against its article's
publication date, with the rule that resolved it:

- "stated": a full date ("April 17, 2024", "2024-04-17") or a month and year;
- "year from publication": a day or month without a year ("on April 17") takes the year
  that puts it nearest the publication date (a January article's "December 5" is the
  December before);
- "weekday before publication": "on Thursday" or "started Thursday" is the last Thursday
  on or before the publication day, as news reports use it;
- "relative to publication": "yesterday", "today", "tonight", "this morning";
- a range relative to publication: "last week" ("week before publication": Monday to
  Sunday), "earlier this week" ("week of publication": its Monday to the publication
  day), "next week", "last weekend", "last month" / "earlier this month" / "next month",
  "last year" / "earlier this year", and "last September" ("month before publication":
  the latest September before the publication month). A range's `date` is its ISO form:
  "2024-04-08/2024-04-14", "2024-03", "2023";
- "publication date": the sentence states no date; the article's own date stands in.

Nothing is invented: without a publication date only fully stated dates count, and a
sentence with no date at all from an undated article is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta, weekdays

from rag.answer.extractive import ScoredSentence
from rag.retrieve.question_time import (
    LAST_MONTH_RE,
    RANGE_RE,
    RANGES,
    find_dates,
    month_before,
    relative_range,
)
from rag.schema import Passage, TimelineEntry
from rag.text.lexicon import WEEKDAY_NAMES

# What a timeline with no entry says, in the CLI and the UI.
NO_ENTRIES = ("No dated sentence about this in the sources (a sentence is dated by the "
              "date it states or by its article's publication date).")

_WEEKDAYS = dict(zip(WEEKDAY_NAMES, weekdays, strict=True))  # both Monday first
# Capitalised weekday names are days in news copy ("started Tuesday", "on Friday night").
_WEEKDAY_RE = re.compile(r"\b(" + "|".join(name.capitalize() for name in _WEEKDAYS) + r")\b")
_RELATIVE = {"yesterday": -1, "today": 0, "tonight": 0, "this morning": 0,
             "this afternoon": 0, "this evening": 0}
# Lower case, or capitalised only where the sentence starts ("Yesterday, officials …"):
# "Entertainment Tonight" and "the Today show" are programmes, not dates.
_RELATIVE_RE = re.compile(r"\b(" + "|".join(_RELATIVE) + r")\b|^[\"“‘']?("
                          + "|".join(w.capitalize() for w in _RELATIVE) + r")\b")
_WHEN = {-1: "before", 0: "of", 1: "after"}


@dataclass(frozen=True)
class StatedDate:
    day: date  # the first day of a month or year when only that is stated
    precision: str  # "day", "month", "year", or "span" (day to `end`)
    text: str  # the words that state it; "" for the publication date
    rule: str
    end: date | None = None  # the last day of a span

    @property
    def label(self) -> str:
        iso = self.day.isoformat()
        if self.precision == "span" and self.end is not None:
            return f"{iso}/{self.end.isoformat()}" if self.end != self.day else iso
        return {"day": iso, "month": iso[:7], "year": iso[:4]}.get(self.precision, iso)


def _period(first: date, last: date, unit: str, text: str, rule: str) -> StatedDate:
    """A named period as a date: a whole month or year by its ISO form, anything else
    (a week, a weekend, this month or year so far) as the span of its days."""
    whole_month = unit == "month" and last.month != (last + timedelta(days=1)).month
    whole_year = unit == "year" and (last.month, last.day) == (12, 31)
    if whole_month or whole_year:
        return StatedDate(first, unit, text, rule)
    return StatedDate(first, "span", text, rule, last)


def published_day(published_at: str) -> date | None:
    try:
        return date.fromisoformat(published_at[:10]) if published_at else None
    except ValueError:
        return None


def _mentions(sentence: str, published: date | None) -> list[tuple[int, StatedDate | None]]:
    """Every date `sentence` states, by position, resolved against `published`; None
    for one that needs a publication date the article lacks ("on April 17")."""
    found: list[tuple[int, StatedDate | None]] = []
    for mention in find_dates(sentence):
        precision = "month" if mention.day is None else "day"
        if mention.year is not None:
            candidates, rule = [mention.year], "stated"
        elif published is not None:
            candidates = [published.year - 1, published.year, published.year + 1]
            rule = "year from publication"
        else:
            found.append((mention.start, None))
            continue
        days = []
        for year in candidates:
            try:
                days.append(date(year, mention.month, mention.day or 1))
            except ValueError:  # February 30
                continue
        if not days:
            continue
        nearest = min(days, key=lambda d: abs((d - published).days) if published else 0)
        found.append((mention.start, StatedDate(nearest, precision, mention.text, rule)))
    for match in _WEEKDAY_RE.finditer(sentence):
        found.append((match.start(1), None if published is None else StatedDate(
            published + relativedelta(weekday=_WEEKDAYS[match.group(1).lower()](-1)), "day",
            match.group(1), "weekday before publication")))
    for match in _RELATIVE_RE.finditer(sentence):
        words = match.group(1) or match.group(2)
        found.append((match.start(), None if published is None else StatedDate(
            published + timedelta(days=_RELATIVE[words.lower()]), "day", words,
            "relative to publication")))
    for match in RANGE_RE.finditer(sentence):
        unit, offset = RANGES[match.group(1).lower()]
        found.append((match.start(), None if published is None else _period(
            *relative_range(unit, offset, published), unit, match.group(1),
            f"{unit} {_WHEN[offset]} publication")))
    for match in LAST_MONTH_RE.finditer(sentence):
        found.append((match.start(), None if published is None else _period(
            *month_before(match.group(1), published), "month", match.group(),
            "month before publication")))
    return sorted(found, key=lambda item: item[0])


def stated_dates(sentence: str, published: date | None) -> list[StatedDate]:
    """The dates `sentence` states, resolved against `published`, in reading order."""
    return [d for _, d in _mentions(sentence, published) if d is not None]


def sentence_date(sentence: str, published: date | None) -> StatedDate | None:
    """The sentence's date: the first it states, else its article's publication day.
    When the first date it states cannot be resolved ("on April 17" in an undated
    article), it has none: a later, resolvable one ("deployed since November 2020") is
    usually another event's."""
    mentions = _mentions(sentence, published)
    if mentions:
        return mentions[0][1]
    if published is not None:
        return StatedDate(published, "day", "", "publication date")
    return None


def build_timeline(scored: Sequence[ScoredSentence], passages: Sequence[Passage],
                   floor: float) -> list[TimelineEntry]:
    """From the scored sentences of the retrieved passages: for each story and date, its
    most relevant sentence, if its relevance reaches `floor` (the rule answerer's
    calibrated refusal threshold: under it a sentence does not answer for the subject); a
    story's sentences that state no date stand for its publication day only when none of
    them states that day. Oldest first."""
    best: dict[tuple[str, str], tuple[int, ScoredSentence, StatedDate]] = {}
    for sentence in sorted(scored, key=lambda s: -s.relevance):
        if sentence.relevance < floor:
            break
        passage = passages[sentence.passage_index]
        dated = sentence_date(sentence.text, published_day(passage.published_at))
        if dated is None:
            continue
        # A stated date beats the publication date; then relevance (the sort order).
        rank = 0 if dated.rule != "publication date" else 1
        key = (passage.story or passage.doc_id, dated.label)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, sentence, dated)
    chosen = sorted(best.values(), key=lambda item: (
        item[2].day, passages[item[1].passage_index].published_at, item[1].start))
    entries = []
    for marker, (_, sentence, dated) in enumerate(chosen, 1):
        p = passages[sentence.passage_index]
        entries.append(TimelineEntry(
            date=dated.label, date_text=dated.text, rule=dated.rule,
            citation=p.cite(sentence.start, sentence.end, marker)))
    return entries
