"""Reading a question for what retrieval can use besides its words: the outlets and dates
it names (its times read by `rag.retrieve.question_time`), the exact names and numbers
it hinges on, and the parts of a question that compares or chains several reports.

Everything here is a heuristic over surface text, so its output is only ever used as a
soft signal (a boost, an extra sub-query): a misread question must cost ranking
quality, never recall.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from rag.retrieve.question_time import TimeMention, find_times

# -- outlets --------------------------------------------------------------------

# Feed titles carry a section or tagline after these ("FOX News - Health",
# "The Roar | Sports Writers Blog", "Live Science: The Most ..."); questions name
# the outlet by the part before it.
_SECTION_SPLIT = re.compile(r"\s+[-|–—]\s+|:\s+")


@dataclass(frozen=True)
class OutletMention:
    start: int
    end: int
    text: str
    sources: frozenset[str]


def outlet_aliases(source: str) -> set[str]:
    """Ways a question may name `source` (the corpus's own `source` value)."""
    source = " ".join(source.split())
    if not source:
        return set()
    aliases = {source}
    head = _SECTION_SPLIT.split(source, maxsplit=1)[0].strip()
    aliases.add(head)
    for name in list(aliases):
        for suffix in (".com", ".co.uk", ".net", ".org"):
            if name.lower().endswith(suffix) and len(name) > len(suffix) + 2:
                aliases.add(name[: -len(suffix)])
        words = name.split()
        # "New York Times" for "The New York Times"; a bare "Age" or "Verge" is a word.
        if len(words) >= 3 and words[0].lower() == "the":
            aliases.add(" ".join(words[1:]))
        # "BBC" for "BBC News".
        if len(words) >= 2 and words[0].isupper() and len(words[0]) >= 3 and words[0].isalpha():
            aliases.add(words[0])
    return {a for a in aliases if len(a) >= 3}


def _distinctive(alias: str) -> bool:
    """Whether a lower-case occurrence of `alias` can only mean the outlet: "techcrunch"
    can, "the verge" ("on the verge of") and "fortune" cannot."""
    return any(any(c.isupper() for c in word[1:]) for word in alias.split()) or any(
        not (c.isalpha() or c.isspace()) for c in alias)


def _capitalised_name(text: str) -> bool:
    """Written as a name: a capital beyond a leading article ("The Age", "the Verge",
    "sporting News"), which "the age of" and a sentence-initial "The verge" lack."""
    words = text.split()
    if len(words) > 1 and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    return any(c.isupper() for word in words for c in word)


class OutletMatcher:
    """Finds the corpus's outlets named in a question, case-insensitively, by full name or
    by the short form a reader would use."""

    def __init__(self, sources: Iterable[str]) -> None:
        table: dict[str, set[str]] = {}
        distinctive: dict[str, bool] = {}
        for source in {s for s in sources if s}:
            for alias in outlet_aliases(source):
                key = alias.lower()
                table.setdefault(key, set()).add(source)
                distinctive[key] = distinctive.get(key, False) or _distinctive(alias)
        self.sources = frozenset(s for group in table.values() for s in group)
        self._table = {k: frozenset(v) for k, v in table.items()}
        # The pattern matches case-insensitively letter by letter; some letters change
        # length or form when lowered ("İ" becomes "i̇"), so a match is looked up by its
        # casefold, and a match with no such key is no mention.
        self._keys = {k.casefold(): k for k in table}
        self._distinctive = distinctive
        # Longest alias first, so "The Independent - Sports" wins over "The Independent".
        ordered = sorted(self._table, key=len, reverse=True)
        self._pattern = re.compile(
            r"(?<![\w])(?:" + "|".join(re.escape(a) for a in ordered) + r")(?![\w])",
            re.IGNORECASE,
        ) if ordered else None

    def find(self, question: str) -> list[OutletMention]:
        if self._pattern is None:
            return []
        mentions = []
        for match in self._pattern.finditer(question):
            text = match.group()
            key = self._keys.get(text.casefold())
            if key is None or (not self._distinctive[key] and not _capitalised_name(text)):
                continue
            mentions.append(OutletMention(match.start(), match.end(), text, self._table[key]))
        return mentions


# -- names and numbers --------------------------------------------------------------

_QUOTED = re.compile(r"(?<![\w])['\"“‘](?P<q>[^'\"“”‘’]{2,80}?)['\"”’](?![\w])")
_CAPITALISED = re.compile(
    r"(?<![\w])(?:[A-Z][\w&.'’-]*|\d+[A-Za-z]+)(?:\s+(?:of|de|the|and|&|[A-Z][\w&.'’-]*|\d+))*"
    r"(?:\s+[A-Z][\w&.'’-]*)?")
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,.]*(?:[-\s]?(?:%|percent|million|billion|"
                     r"mAh|[A-Za-z]+))?")
_SENTENCE_STARTERS = frozenset(
    """what which who whom whose when where why how did does do is are was were has have
    had can could will would should in on the a an according between after before
    considering based given tell explain describe name list despite while both and or
    also""".split())
_GENERIC_NAMES = frozenset({"ai", "ceo", "cto", "ev", "us", "uk", "eu"})


def find_entities(question: str, exclude: Iterable[tuple[int, int]] = ()) -> list[str]:
    """Names, quoted phrases and numbers in `question`, outside the `exclude` spans
    (outlets, dates), in order of appearance."""
    taken = list(exclude)
    found: list[tuple[int, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(start < e and s < end for s, e in taken)

    for match in _QUOTED.finditer(question):
        if free(match.start("q"), match.end("q")):
            found.append((match.start(), match.group("q").strip()))
            taken.append((match.start(), match.end()))
    for match in _CAPITALISED.finditer(question):
        text = match.group().strip(" .,'’")
        words = text.split()
        while words and words[0].lower() in _SENTENCE_STARTERS:
            words = words[1:]
        while words and words[-1].lower() in {"of", "de", "the", "and", "&"}:
            words = words[:-1]
        text = " ".join(words)
        if not text or text.lower() in _GENERIC_NAMES or len(text) < 2:
            continue
        start = match.start() + match.group().find(text)
        if free(start, start + len(text)):
            found.append((start, text))
            taken.append((start, start + len(text)))
    for match in _NUMBER.finditer(question):
        text = match.group().rstrip(".,")
        if free(match.start(), match.start() + len(text)):
            found.append((match.start(), text))
            taken.append((match.start(), match.start() + len(text)))
    seen: set[str] = set()
    ordered = []
    for _, text in sorted(found):
        if text.lower() not in seen:
            seen.add(text.lower())
            ordered.append(text)
    return ordered


# -- decomposition --------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """question[start:end] is the clause; `text` is its content, without outlet names,
    dates and report framing."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SubQuery:
    """One part of a question: its words, the outlets and dates that part names, and the
    question's clauses it covers (indices into `QueryAnalysis.clauses`)."""

    text: str
    sources: frozenset[str] = frozenset()
    dates: tuple[TimeMention, ...] = ()
    clauses: tuple[int, ...] = ()


@dataclass
class QueryAnalysis:
    question: str
    outlets: list[OutletMention] = field(default_factory=list)
    dates: list[TimeMention] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    # The question's clauses, each about one fact: what a single evidence sentence matches.
    clauses: list[Clause] = field(default_factory=list)
    parts: list[SubQuery] = field(default_factory=list)

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(s for m in self.outlets for s in m.sources)


# Where one clause of a chained question ends and the next begins.
_CLAUSE_BREAK = re.compile(
    r",\s+(?:and\s+|while\s+|whereas\s+|but\s+|as well as\s+)?|;\s+|"
    r"\s+(?:while|whereas|but also|as well as|compared (?:to|with)|"
    r"(?:in )?(?:a )?similar (?:way|capacity|manner)? ?to how|similar to|than what|"
    r"than how)\s+|"
    r"\s+and\s+(?=(?:is|was|has|also|did|does|do|the|a|an|another|then|later|its|their|"
    r"his|her)\b)",
    re.IGNORECASE)
# Words that only frame the question; dropping them keeps sub-queries about their topic.
_FRAMING = re.compile(
    r"^(?:between|after|before|considering|based on|given|did|does|do|is|are|was|were|has|"
    r"have|which|who|what|according to)\b\s*", re.IGNORECASE)
_CLAUSE_FILLER = frozenset(
    """a an the and or of on in at to by for from with about as is are was were be been has
    have had did does do report reports reported article articles published source news
    both same another other either this that these those there their its his her which what
    who whom whose when where why how also per according mentioned covered described
    discussed known""".split())
_MIN_CLAUSE_WORDS = 2
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|another)\s+['\"‘“]?$", re.IGNORECASE)


def analyse(question: str, matcher: OutletMatcher | None = None, today: date | None = None
            ) -> QueryAnalysis:
    outlets = matcher.find(question) if matcher is not None else []
    dates = find_times(question, today)
    spans = [(m.start, m.end) for m in outlets] + [(d.start, d.end) for d in dates]
    analysis = QueryAnalysis(question, outlets, dates, find_entities(question, spans))
    analysis.clauses = find_clauses(question, spans, _outlet_breaks(question, outlets[1:]))
    analysis.parts = decompose(analysis)
    return analysis


def _outlet_breaks(question: str, outlets: Sequence[OutletMention]) -> list[int]:
    """Where "the <outlet> article ..." starts a new report's description; an outlet named
    after its clause ("..., reported by TechCrunch") ends one instead, so no cut there."""
    breaks = []
    for mention in outlets:
        before = _DETERMINER_BEFORE.search(question[max(0, mention.start - 12) : mention.start])
        if before:
            breaks.append(mention.start - len(before.group()))
    return breaks


def find_clauses(question: str, metadata_spans: Iterable[tuple[int, int]] = (),
                 breaks: Iterable[int] = ()) -> list[Clause]:
    """The question cut at clause boundaries and at `breaks`, keeping pieces with at least
    two content words once outlet names and dates (`metadata_spans`) are set aside: "the
    report from 'Wired' on 2023-11-25" says nothing a sentence could match."""
    cuts = sorted(set(breaks))
    spans: list[tuple[int, int]] = []
    for start, end in _clause_spans(question):
        inner = [c for c in cuts if start < c < end]
        spans.extend(zip([start, *inner], [*inner, end], strict=True))
    hidden = list(metadata_spans)
    found: list[Clause] = []
    for start, end in spans:
        visible = "".join(" " if any(s <= i < e for s, e in hidden) else question[i]
                          for i in range(start, end))
        words = [w for w in re.findall(r"\w[\w'’-]*", visible)
                 if w.lower() not in _CLAUSE_FILLER]
        text = _strip_framing(visible)
        if len(words) >= _MIN_CLAUSE_WORDS and text and text not in {c.text for c in found}:
            found.append(Clause(start, end, text))
    return found


# What is left of "the report from 'The Verge' published on 2023-11-24" once the outlet and
# date are blanked: it matches report-like sentences, not the report's content.
_REPORT_FRAME = re.compile(
    r"\b(?:the|a|an|another)\s+(?:report|article|piece|story|review|coverage)s?"
    r"(?:\s+(?:from|by|in|of))?\b", re.IGNORECASE)
_PUBLISHED = re.compile(r"\b(?:published|released|posted|dated)(?:\s+(?:on|in))?(?=\s|$)",
                        re.IGNORECASE)
_EMPTY_QUOTES = re.compile(r"(['\"‘“])\s*(['\"’”])")
_DANGLING = re.compile(
    r"\s+(?:(?:published|released|reported|posted)\s+)?(?:on|by|from|in|at|per|according "
    r"to|as reported by|reported by|covered by|mentioned by)\s*$", re.IGNORECASE)


def _strip_framing(text: str) -> str:
    """A clause's content: its words without outlet names, dates and report framing,
    which sentences never contain (metadata boosts handle those)."""
    text = " ".join(_EMPTY_QUOTES.sub(" ", text).split())
    text = _PUBLISHED.sub(" ", _REPORT_FRAME.sub(" ", text))
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        text = _DANGLING.sub("", _clean(text))
    return text


def decompose(analysis: QueryAnalysis) -> list[SubQuery]:
    """Parts of a question that compares or chains reports; [] for a simple question.

    Anchored on outlets when it names two or more ("the report from 'The Verge' ... and
    the report from 'Wired' ..."), else on dates ("TechCrunch reported on October 31 ...
    and again on December 15"), else one part per clause ("known for X, accused of Y,
    and Z"). A report's own words sit on either side of its outlet ("the TechCrunch
    article on Meta's ads", "ad revenue, according to 'The Age'"), so each outlet takes
    the text from the end of the previous outlet's clause through its own clause; words
    after the last report ("..., is there consistency in X?") are shared by every part.
    """
    question = analysis.question
    anchors = sorted(analysis.outlets, key=lambda m: m.start)
    if len(anchors) >= 2:
        spans = _clause_spans(question)
        segments: list[tuple[int, int, frozenset[str]]] = []
        consumed = 0
        for index, anchor in enumerate(anchors):
            end = next((e for s, e in spans if s <= anchor.start < e), len(question))
            if index + 1 < len(anchors):
                end = min(end, anchors[index + 1].start)
            segments.append((consumed, end, anchor.sources))
            consumed = end
        tail = (consumed, len(question))
        parts = [_part(analysis, [(a, b), tail], sources,
                       tuple(d for d in analysis.dates if a <= d.start < b))
                 for a, b, sources in segments]
    elif len(analysis.dates) >= 2:
        parts = []
        previous = 0
        for index, mention in enumerate(analysis.dates):
            end = (analysis.dates[index + 1].start if index + 1 < len(analysis.dates)
                   else len(question))
            parts.append(_part(analysis, [(previous, end)], analysis.sources, (mention,)))
            previous = mention.end
    elif len(analysis.clauses) >= 2:
        parts = [SubQuery(c.text, analysis.sources, tuple(analysis.dates), (i,))
                 for i, c in enumerate(analysis.clauses)]
    else:
        return []
    return _dedupe(parts)


def _part(analysis: QueryAnalysis, spans: list[tuple[int, int]], sources: frozenset[str],
          dates: tuple[TimeMention, ...]) -> SubQuery:
    text = " ".join(t for t in (_clean(analysis.question[a:b]) for a, b in spans) if t)
    covered = tuple(i for i, c in enumerate(analysis.clauses)
                    if any(c.start < b and a < c.end for a, b in spans))
    return SubQuery(text, sources, dates, covered)


def _clause_spans(question: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in _CLAUSE_BREAK.finditer(question):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(question):
        spans.append((start, len(question)))
    return spans


def _clean(text: str) -> str:
    text = " ".join(text.strip(" ,;?.'\"‘’“”").split())
    previous = None
    while previous != text:
        previous = text
        text = _FRAMING.sub("", text)
    return text


def _dedupe(parts: list[SubQuery]) -> list[SubQuery]:
    seen: set[tuple[str, frozenset[str]]] = set()
    unique = []
    for part in parts:
        key = (part.text.lower(), part.sources)
        if part.text and key not in seen:
            seen.add(key)
            unique.append(part)
    return unique if len(unique) > 1 else []
