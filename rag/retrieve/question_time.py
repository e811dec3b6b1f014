"""The times a question asks about: the dates it names ("on October 8, 2023", "before
November 11"), the periods it counts back from today ("last week", "last September"),
whether it asks how things stand now, and how well each report's publication time fits
them (`time_fit`, a soft ranking signal for retrieval and the answerers).
"""

from __future__ import annotations

import calendar
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np

from rag.index.side_index import SideIndex, tokenize
from rag.text.lexicon import MONTH_NAMES, MONTHS

# -- the present ----------------------------------------------------------------

TIME_WORDS_FILE = Path(__file__).with_name("time_words.toml")


@cache
def _current_state_pattern() -> re.Pattern[str]:
    data = tomllib.loads(TIME_WORDS_FILE.read_text(encoding="utf-8"))
    terms = sorted([*data["words"], *data["phrases"]], key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b", re.I)


def asks_current_state(question: str) -> bool:
    """Whether the question asks how things stand now ("What is the latest on …?",
    "Are the troops still there?"): words in `time_words.toml`."""
    return _current_state_pattern().search(question) is not None


# A report this many days older than the newest one no longer speaks for "now".
CURRENT_DAYS = 30


def time_fit(question: str, published: Sequence[int | None], today: date | None = None,
             events: Sequence[DateMention] = ()) -> list[float]:
    """How well each report's publication time (seconds since the epoch, or None) fits
    the time the question asks about, 0-1: its dates and periods ("on October 8, 2023",
    "before November 11", "last week": `find_times`) when any report fits them, else for
    a question about now the newest report 1, falling to 0 at `CURRENT_DAYS` older; all 0
    otherwise. `events`: the question's events as dated bounds (`resolve_events`)."""
    dates = [*find_times(question, today), *events]
    fits = [max(d.score(ts) for d in dates) for ts in published] if dates else []
    # A time no report fits ("as of now, … last year" said in 2023, asked in 2026) leaves
    # the question's "now" to decide.
    if any(fits):
        return fits
    dated = [ts for ts in published if ts is not None]
    if not dated or not asks_current_state(question):
        return [0.0] * len(published)
    newest = max(dated)
    return [0.0 if ts is None else max(0.0, 1.0 - (newest - ts) / (CURRENT_DAYS * 86400))
            for ts in published]


# -- dates ----------------------------------------------------------------------

_MONTH = (r"(?P<{g}>(?:January|February|March|April|May|June|July|August|September|October|"
          r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)")
_DAY = r"(?P<{g}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<{g}>(?:19|20)\d\d)"
_DATE_PATTERNS = [
    re.compile(r"\b" + _YEAR.format(g="y") + r"-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?:[T ][\d:]+Z?)?\b"),
    re.compile(r"\b" + _MONTH.format(g="mn") + r"\s+" + _DAY.format(g="d") + r"\b(?:,?\s+"
               + _YEAR.format(g="y") + r")?", re.IGNORECASE),
    re.compile(r"\b" + _DAY.format(g="d") + r"\s+(?:of\s+)?" + _MONTH.format(g="mn")
               + r"(?:,?\s+" + _YEAR.format(g="y") + r")?\b", re.IGNORECASE),
    re.compile(r"\b" + _MONTH.format(g="mn") + r",?\s+" + _YEAR.format(g="y") + r"\b",
               re.IGNORECASE),
]
_RELATION = re.compile(r"\b(before|by|prior to|until|after|since|following)\s+(?:the\s+)?$",
                       re.IGNORECASE)


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    text: str
    month: int
    day: int | None = None
    year: int | None = None
    # "before"/"after" when the question bounds the date rather than naming it.
    relation: str = "on"

    def score(self, published_ts: int | None) -> float:
        """How well a publication time fits: 1 on the day (or in the month), less a day
        off (time zones move reports across midnight), 0 otherwise."""
        if published_ts is None:
            return 0.0
        try:
            return self._fit(datetime.fromtimestamp(published_ts, tz=UTC).date())
        except (ValueError, OverflowError, OSError):
            # Past either end of the calendar, or a day the month lacks (February 30).
            return 0.0

    def _fit(self, published: date) -> float:
        year = self.year or published.year
        if self.day is None:
            first = date(year, self.month, 1)
            last = date(year, self.month, calendar.monthrange(year, self.month)[1])
            if self.relation == "before":
                return 0.5 if first - timedelta(days=45) <= published < first else 0.0
            if self.relation == "after":
                return 0.5 if last < published <= last + timedelta(days=45) else 0.0
            return 1.0 if first <= published <= last else 0.0
        named = date(year, self.month, self.day)
        # "Before November 11" excludes the 11th itself, as "after" does.
        if self.relation == "before":
            return 0.5 if named - timedelta(days=45) <= published < named else 0.0
        if self.relation == "after":
            return 0.5 if named < published <= named + timedelta(days=45) else 0.0
        gap = abs((published - named).days)
        return 1.0 if gap == 0 else 0.5 if gap == 1 else 0.0


def find_dates(question: str) -> list[DateMention]:
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(question):
            if any(match.start() < e and s < match.end() for s, e in taken):
                continue
            groups = match.groupdict()
            if groups.get("mn"):
                month = MONTHS.get(groups["mn"].rstrip(".").lower(), 0)
            else:
                month = int(groups["m"])
            day = int(groups["d"]) if groups.get("d") else None
            year = int(groups["y"]) if groups.get("y") else None
            if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            # "May 5" is a date, "may 5 players" is not: bare month names must be capitalised.
            if groups.get("mn") and not groups["mn"][0].isupper():
                continue
            before = _RELATION.search(question[max(0, match.start() - 20) : match.start()])
            relation = "on"
            if before:
                word = before.group(1).lower()
                relation = "after" if word in {"after", "since", "following"} else "before"
            taken.append((match.start(), match.end()))
            found.append(DateMention(match.start(), match.end(), match.group(), month, day,
                                     year, relation))
    return sorted(found, key=lambda d: d.start)


# -- periods named relative to a day ------------------------------------------------

# (unit, offset in units) of the periods news names from its own day ("last week" in an
# article: the week before it was published; in a question: the week before today).
# Lower case but for a sentence's capital: "Last Week Tonight" is a programme.
RANGES = {"last week": ("week", -1), "earlier this week": ("week", 0),
          "this week": ("week", 0), "next week": ("week", 1),
          "last weekend": ("weekend", -1),
          "last month": ("month", -1), "earlier this month": ("month", 0),
          "this month": ("month", 0), "next month": ("month", 1),
          "last year": ("year", -1), "earlier this year": ("year", 0),
          "this year": ("year", 0)}
RANGE_RE = re.compile(r"\b(" + "|".join(
    f"[{p[0]}{p[0].upper()}]{re.escape(p[1:])}" for p in sorted(RANGES, key=len, reverse=True))
    + r")\b")
# "last September": the latest September before the day's month.
LAST_MONTH_RE = re.compile(r"\b(?:[Ll]ast|[Tt]his past) (" + "|".join(
    name.capitalize() for name in MONTH_NAMES) + r")\b")


def relative_range(unit: str, offset: int, day: date) -> tuple[date, date]:
    """The first and last day of the `unit` `offset` units from the one holding `day`;
    the current week, month or year ends on `day` (what has happened of it so far)."""
    if unit in ("week", "weekend"):
        monday = day - timedelta(days=day.weekday()) + timedelta(weeks=offset)
        if unit == "weekend":
            return monday + timedelta(days=5), monday + timedelta(days=6)
        return monday, day if offset == 0 else monday + timedelta(days=6)
    if unit == "month":
        months = day.year * 12 + day.month - 1 + offset
        first = date(months // 12, months % 12 + 1, 1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        return first, day if offset == 0 else last
    first = date(day.year + offset, 1, 1)
    return first, day if offset == 0 else date(first.year, 12, 31)


def month_before(name: str, day: date) -> tuple[date, date]:
    """The month called `name` most recently before `day`'s own month."""
    month = MONTH_NAMES.index(name.lower()) + 1
    year = day.year if month < day.month else day.year - 1
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class PeriodMention:
    """A period a question names relative to today ("last week", "last September")."""

    start: int
    end: int
    text: str
    first: date
    last: date

    def score(self, published_ts: int | None) -> float:
        """1 for a report published in the period, 0.5 a day either side (time zones),
        0 otherwise."""
        if published_ts is None:
            return 0.0
        published = datetime.fromtimestamp(published_ts, tz=UTC).date()
        if self.first <= published <= self.last:
            return 1.0
        near = self.first - timedelta(days=1) <= published <= self.last + timedelta(days=1)
        return 0.5 if near else 0.0


def find_periods(question: str, today: date) -> list[PeriodMention]:
    found = []
    for match in RANGE_RE.finditer(question):
        first, last = relative_range(*RANGES[match.group(1).lower()], today)
        found.append(PeriodMention(match.start(), match.end(), match.group(), first, last))
    for match in LAST_MONTH_RE.finditer(question):
        first, last = month_before(match.group(1), today)
        found.append(PeriodMention(match.start(), match.end(), match.group(), first, last))
    return sorted(found, key=lambda p: p.start)


TimeMention = DateMention | PeriodMention


def find_times(question: str, today: date | None = None) -> list[TimeMention]:
    """The dates a question names and the periods it names relative to `today` (the
    current UTC day when not given), in reading order."""
    day = today or datetime.now(UTC).date()
    mentions: list[TimeMention] = [*find_dates(question), *find_periods(question, day)]
    return sorted(mentions, key=lambda m: m.start)


# -- events named as a bound ("before the ceasefire") -------------------------------

# "before/after <the event>": "the" or a possessive name ("Azerbaijan's offensive") marks
# one known event, so "after he resigned", "before leaving" or "after a loss" is not read
# as one, nor "before The Verge reported…" (a capital "The" starts a name, an outlet).
# The phrase ends at punctuation, the question's end, or a word that starts a clause.
_EVENT = re.compile(
    r"\b(?P<relation>before|after|since|until|prior to|following|ahead of)\s+"
    r"(?P<phrase>(?-i:the)\s+[\w’'-]+(?:\s+[\w’'-]+){0,4}"
    r"|[A-Z][\w-]*[’']s\s+[\w’'-]+(?:\s+[\w’'-]+){0,3})",
    re.IGNORECASE)
_EVENT_END = re.compile(
    r"\s+(?:did|does|do|was|were|is|are|has|have|had|will|would|could|can|and|or|but|"
    r"when|what|which|who|how|why|where|that|to|according|in|on|at|by|for|with|from)\b.*$",
    re.IGNORECASE)
_YEAR_IN = re.compile(r"\b(?:19|20)\d\d\b")


@dataclass(frozen=True)
class EventMention:
    """An event a question bounds its time by ("before the ceasefire"); its day is read
    from the corpus (`resolve_event`), so it is a date only once the index has one."""

    start: int
    end: int
    text: str  # the event's phrase, as the question writes it ("the ceasefire")
    relation: str  # "before" or "after"
    bound_start: int  # where the bound begins: its "before"/"after"

    def resolve(self, day: date) -> DateMention:
        """The bound as a date mention spanning "before the ceasefire": `day` is when the
        corpus first reports the event."""
        return DateMention(self.bound_start, self.end, f"{self.text} ({day.isoformat()})",
                           day.month, day.day, day.year, self.relation)


def find_events(question: str) -> list[EventMention]:
    """Events the question bounds its time by, where no date or period is named there:
    "before the ceasefire", "after Azerbaijan's offensive", "since the merger"."""
    taken = [(m.start, m.end) for m in find_times(question)]
    found = []
    for match in _EVENT.finditer(question):
        phrase = _EVENT_END.sub("", match.group("phrase")).rstrip(" ’'-")
        start = match.start("phrase")
        end = start + len(phrase)
        # "After the 2020 war": the year dates it, and the corpus's first mention of it
        # (years later) would not.
        if any(start < e and s < end for s, e in taken) or _YEAR_IN.search(phrase):
            continue
        word = match.group("relation").lower()
        relation = "before" if word in {"before", "until", "prior to", "ahead of"} else "after"
        found.append(EventMention(start, end, phrase, relation, match.start()))
    return found


def resolve_events(question: str, index: SideIndex) -> list[DateMention]:
    """The question's events as dated bounds: an event's day is the publication day of
    the earliest dated chunk that holds every word of its phrase (when the corpus first
    reports it). An event no dated chunk names, or whose bound no report falls inside,
    stays unresolved: no bound is guessed; nor is one read where the question names a
    date or period, which bounds it already
    ("how many ships docked since the storm, as of April 15?")."""
    resolved: list[DateMention] = []
    if find_times(question):
        return resolved
    for event in find_events(question):
        words = frozenset(tokenize(event.text))
        if not words:
            continue
        if not len(index):
            break
        hits = np.flatnonzero(index.scores(sorted(words)) > 0)
        days = [int(index.published[r]) for r in hits
                if index.has_date[r] and words <= index.token_sets[r]]
        if not days:
            continue
        bound = event.resolve(datetime.fromtimestamp(min(days), tz=UTC).date())
        # A bound no report falls inside (an event as old as the sources: "after
        # Azerbaijan's offensive" over the one article that reports it) dates nothing; it
        # is left in the question as what it is about.
        if any(bound.score(int(ts)) > 0 for ts in np.unique(index.published[index.has_date])):
            resolved.append(bound)
    return resolved


def without_bounds(question: str, bounds: Sequence[tuple[int, int]]) -> str:
    """The question with its resolved event bounds cut out ("Before the ceasefire, how
    many troops…?" → "How many troops…?"): they say when, not what, so retrieval should
    not look for reports of the ceasefire itself."""
    text = question
    for start, end in sorted(bounds, reverse=True):
        text = text[:start].rstrip(" ,") + " " + text[end:].lstrip(" ,")
    text = " ".join(text.split())
    if text[:1].islower() and question[:1].isupper():
        text = text[0].upper() + text[1:]
    return text.replace(" ?", "?") or question


def event_topic(question: str, passages_dated: bool) -> str:
    """What an answerer should look for: the question without its event bounds when
    retrieval dated them (`passages_dated`: the passages carry `time_fit`), else as
    asked. "the Kestrel review" is then no name the passages must mention."""
    if not passages_dated:
        return question
    events = find_events(question)
    return without_bounds(question, [(e.bound_start, e.end) for e in events]) if events \
        else question
