"""How claims and evidence are read: content words with their stems, numbers with their
values ("2,000" = "2000" = "two thousand", "$1.4bn" = "$1.4 billion"), names, negations,
months; and which of a claim's words a piece of evidence covers.

The learned checker's exact side (`rag.verify.checker`), the answer selector and the rule
checker (`rag.verify.rules`) all read text through `analyse`: one analysis, not three.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from rag.text.lexicon import MONTH_NAMES, MONTHS, WEEKDAY_NAMES
from rag.text.tokens import IRREGULAR_PAST

# --- lexicon ------------------------------------------------------------------------------

def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = word_set(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either else ever few for from further get gets got had has have having he her here hers
    herself him himself his how i if in into is it its itself just let like may me might
    more most much must my myself of off on once only onto or other our ours ourselves out
    over own per same shall she should so some such than that the their theirs them
    themselves then there these they this those through thus to too under until up upon us
    very via was we were what when where whether which while who whom whose why will with
    would yet you your yours yourself yourselves said says say saying according"""
)
# Negation is checked on its own, so its cues are not content words.
_NEGATION_WORDS = word_set("not no never n't without none nobody nothing neither nor cannot unable")
# Verbs that negate their complement: "failed to defend" says the defence did not happen.
_NEGATING_VERBS = word_set(
    "fail fails failed failing refuse refuses refused refusing decline declines declined"
)
# Adverbs between a negation and the word it negates ("has not yet commented").
NEGATION_SKIP = word_set(
    """yet even ever always really actually adequately fully quite just also only
    immediately necessarily currently still entirely completely simply directly
    officially publicly formally already been be being one longer"""
)
_CONTRACTIONS = {"ca": "can", "wo": "will", "sha": "shall"}

_UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20,
}
MONTH_WORDS = {word: MONTH_NAMES[number - 1] for word, number in MONTHS.items()}
WEEKDAYS = frozenset(WEEKDAY_NAMES)

# Words, numbers (thousands separators, decimals, ".349") with any glued letters ("57th",
# "1.4bn", "3.5mm"), and the clitic "n't" kept apart so "wasn't" negates like "was not".
_TOKEN = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|(?<!\w)\.\d+)(?P<suffix>[^\W\d_]+)?"
    r"|(?P<word>[^\W\d_]+?)(?P<nt>n['\u2019]t)?(?:['\u2019](?:s|re|ve|ll|d|m)\b)?(?![^\W\d_])"
    r"|(?P<other>\w+)"
)
_CLAUSE_BREAK = re.compile("[,;:()\\[\\]\"\u201c\u201d\u2014\u2013!?]|\\.(?:\\s|$)|\\s-\\s")
_SENT_BREAK = re.compile("[.!?][\"\u201d\u2019)]*(?:\\s|$)")
_OPEN_QUOTE = re.compile("(?:[\"\u201c\u2018(\\[]|:)\\s*$")
_SUFFIX_SCALES = {"bn": 1e9, "b": 1e9, "mn": 1e6, "m": 1e6, "k": 1e3, "tn": 1e12}
_WORD_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9,
                "trillion": 1e12}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    # The Snowball project's own English stemmer (snowballstemmer, 15 ms to import) rather
    # than nltk's copy (180 ms, on every `rag ask`); the newer algorithm also keeps
    # "added" from "ad" and "organization" from "organ".
    import snowballstemmer

    return snowballstemmer.stemmer("english")


# --- analysed text ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tok:
    text: str
    low: str  # lower case; for numbers the digits without separators
    stem: str
    start: int
    end: int
    cap: bool  # capitalised and not a function word
    initial: bool  # first word of a sentence or quotation: capitalised for grammar
    clause: int
    kind: str  # "word" | "stop" | "neg" | "num"
    unit: str = ""  # letters glued to a number: "th", "bn", "mm"
    hyphen_next: bool = False


@dataclass(frozen=True)
class _Number:
    raw: float
    scaled: float
    has_scale: bool
    surface: str
    is_year: bool


def _tokenize(text: str) -> list[Tok]:
    tokens: list[Tok] = []
    clause = 0
    last_end = 0
    sentence_start = True
    for m in _TOKEN.finditer(text):
        gap = text[last_end : m.start()]
        if tokens:
            if _CLAUSE_BREAK.search(gap):
                clause += 1
            if _SENT_BREAK.search(text[last_end - 1 : m.start()]) or _OPEN_QUOTE.search(gap):
                sentence_start = True
            if gap == "-":
                tokens[-1] = replace(tokens[-1], hyphen_next=True)
        last_end = m.end()
        if m.group("num") is not None:
            tokens.append(Tok(m.group(0), m.group("num").replace(",", ""), "#", m.start(),
                               m.end(), False, sentence_start, clause, "num",
                               unit=(m.group("suffix") or "").lower()))
            sentence_start = False
            continue
        word = m.group("word") or m.group("other")
        low = word.lower()
        w_end = m.start() + len(word)
        if m.group("nt"):
            base = _CONTRACTIONS.get(low, low)
            tokens.append(Tok(word, base, base, m.start(), w_end, False, sentence_start,
                               clause, "stop"))
            tokens.append(Tok("n't", "n't", "n't", w_end, m.end(), False, False, clause, "neg"))
            sentence_start = False
            continue
        # "US", "IT": an acronym is a name even when it spells a function word.
        acronym = len(word) >= 2 and word.isupper()
        function = (low in _STOPWORDS and not acronym) or (len(low) == 1 and not word.isupper())
        if low in _NEGATION_WORDS or low in _NEGATING_VERBS:
            kind = "neg"
        elif function:
            kind = "stop"
        else:
            kind = "word"
        cap = word[:1].isupper() and kind == "word"
        stem = MONTH_WORDS.get(low, "") if cap else ""
        stem = stem or _stem(IRREGULAR_PAST.get(low, low))
        tokens.append(Tok(word, low, stem, m.start(), w_end, cap, sentence_start, clause,
                           kind))
        sentence_start = False
    return _months_named_may(_negation_exceptions(tokens))


# Words before a month name: "in May", "since May", "last May".
_BEFORE_MONTH = word_set("in on since until by last next early late mid through from of")


def _months_named_may(tokens: list[Tok]) -> list[Tok]:
    """ "May" is a modal verb unless a date surrounds it ("May 3", "in May 2023")."""
    out = list(tokens)
    for i, t in enumerate(out):
        if t.text != "May":
            continue
        nxt = out[i + 1] if i + 1 < len(out) else None
        prev = out[i - 1] if i > 0 else None
        if (nxt is not None and nxt.kind == "num") or (
            prev is not None and prev.low in _BEFORE_MONTH
        ):
            out[i] = replace(t, kind="word", cap=True, stem="may")
    return out


def _negation_exceptions(tokens: list[Tok]) -> list[Tok]:
    """Cues that do not negate: "not only", "No. 23", "no doubt", "a failed bid"."""
    out = list(tokens)
    for i, t in enumerate(out):
        if t.kind != "neg":
            continue
        nxt = out[i + 1] if i + 1 < len(out) else None
        if (t.low == "not" and nxt is not None and nxt.low == "only") or (
            t.low == "no" and nxt is not None and (nxt.kind == "num" or nxt.low == "doubt")
        ):
            out[i] = replace(t, kind="stop")
        elif t.low in _NEGATING_VERBS and (nxt is None or nxt.low != "to"):
            out[i] = replace(t, kind="word")
    return out


def _parse_numbers(tokens: Sequence[Tok]) -> list[tuple[int, int, _Number]]:
    """(first token, last token, value) of every number mention, digits or words."""
    found: list[tuple[int, int, _Number]] = []
    n = len(tokens)
    i = 0
    while i < n:
        t = tokens[i]
        value: float | None = None
        if t.kind == "num":
            value = float(t.low)
            if t.unit in _SUFFIX_SCALES:
                scaled = value * _SUFFIX_SCALES[t.unit]
                found.append((i, i, _Number(value, scaled, True, t.text, False)))
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
        found.append((i, j - 1, _Number(value, total + current, has_scale, surface, is_year)))
        i = j
    return found


def _number_key(value: float) -> str:
    return f"#{value:.6g}"


@dataclass(frozen=True)
class Analysis:
    tokens: tuple[Tok, ...]
    numbers: tuple[_Number, ...]
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

    def has_number(self, number: _Number) -> bool:
        return any(_numbers_match(number, other) for other in self.numbers)


def _numbers_match(claim: _Number, other: _Number) -> bool:
    # "1.4 billion" and "1.4 million" differ although both say 1.4; "2 million" and
    # "2,000,000" agree although only one has a scale word.
    if claim.has_scale and other.has_scale:
        return math.isclose(claim.scaled, other.scaled, rel_tol=1e-6)
    return math.isclose(claim.scaled, other.scaled, rel_tol=1e-6) or math.isclose(
        claim.raw, other.raw, rel_tol=1e-6
    )


# "U.S.", "U.K.": dotted initials read as one word, so they match "US" and "UK" (and the
# dots end no sentence). Same length, so token offsets still index the original text.
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")


def _undot(m: re.Match[str]) -> str:
    return m.group().replace(".", "").ljust(len(m.group()))


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def plain(text: str) -> str:
    """Text as compared word for word: case, curly quotes and spacing aside."""
    return " ".join(text.translate(_QUOTES).casefold().split())


@lru_cache(maxsize=16384)
def analyse(text: str) -> Analysis:
    tokens = _tokenize(_DOTTED.sub(_undot, text))
    numbers = _parse_numbers(tokens)
    number_at = {first: (last, number) for first, last, number in numbers}
    content: dict[str, str] = {}
    words: set[str] = set()
    i = 0
    while i < len(tokens):
        if i in number_at:
            last, number = number_at[i]
            content.setdefault(_number_key(number.scaled), number.surface)
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
    heads, positive = _negation_heads(tokens, in_number)
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


def _negation_heads(
    tokens: Sequence[Tok], in_number: set[int]
) -> tuple[list[tuple[str, frozenset[str]]], set[str]]:
    """The word each negation cue negates (the next content word of its clause) with the
    content words either side, and the content stems that also occur un-negated.

    One head word rather than a whole scope: "no sign that Russia's military was..." must
    not count "Russia" as negated, or a faithful paraphrase of "we've not seen anything to
    indicate that Russia's military..." would read as a contradiction.
    """
    heads: list[tuple[str, frozenset[str]]] = []
    head_at: set[int] = set()

    def content(k: int) -> bool:
        return tokens[k].kind == "word" and k not in in_number

    for i, t in enumerate(tokens):
        if t.kind != "neg":
            continue
        head, context = "", set()
        for k in range(i - 1, -1, -1):
            if tokens[k].clause != t.clause:
                break
            if content(k):
                context.add(tokens[k].stem)
                break
        for k in range(i + 1, len(tokens)):
            if tokens[k].clause != t.clause:
                break
            if content(k) and tokens[k].low not in NEGATION_SKIP:
                if head:
                    context.add(tokens[k].stem)
                    break
                head = tokens[k].stem
                head_at.add(k)
        heads.append((head, frozenset(context)))
    positive = {
        t.stem for i, t in enumerate(tokens) if content(i) and i not in head_at
    }
    return heads, positive


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


def words_match(a: str, b: str) -> bool:
    """Same word, or a shared prefix long enough for "Russia"/"Russian", "Turkey"/"Turkish"."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 4 and common >= shorter - 2


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

    def has_number(self, number: _Number) -> bool:
        return any(a.has_number(number) for a in self.analyses)


def covered_keys(claim: Analysis, sentence: Analysis) -> list[bool]:
    """Which of the claim's content keys the sentence contains."""
    numbers = {_number_key(n.scaled): n for n in claim.numbers}
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


@dataclass(frozen=True)
class NumberMention:
    """A number as stated in a text: its value, where it is (text offsets), the stems of
    the content words around it, which say what it counts ("2,000 *troops* *deployed*"),
    and the times its sentence names besides it (("month", "october"), ("year", "2021")),
    which say when."""

    value: _Number
    start: int
    end: int
    context: frozenset[str]
    times: frozenset[tuple[str, str]]

    def agrees(self, other: NumberMention) -> bool:
        return _numbers_match(self.value, other.value)

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
    tokens = _tokenize(_DOTTED.sub(_undot, text))
    numbers = _parse_numbers(tokens)
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
