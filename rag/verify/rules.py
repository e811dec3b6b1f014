"""The rule-based support checker, kept as the learned verifier's baseline and its text
analysis: `rag.verify.checker` (the product's verifier) reads its content words, numbers
and names through `_analyse`, and `python -m bench.claims --checker
rag.verify.rules:check_support` measures it beside the learned one.

No LLM and no network. The verdict combines lexical checks with a cosine similarity
from the bundled MiniLM embedder:

1. Every passage is split into sentences (`rag.text.sentences.sentence_spans`); among the
   windows of one to three consecutive sentences, the one that covers most of the
   claim's content words and numbers (then the shortest, then the first) is the evidence
   span for that passage.
2. Hard checks on that span catch the errors that still read well: a number, date,
   amount or percentage absent from the evidence ("2,000" = "2000" = "two thousand",
   "$1.4 billion" = "$1.4bn" but not "$1.4 million"); a capitalised name or a month the
   evidence never mentions; a word negated on one side only ("not", "never", "n't",
   "no", "without", "failed to"); two participants swapped around the same verb
   ("Armenia blamed Russia" against "Russia blamed Armenia", passive voice undone). Any
   of them caps the score at HARD_CAP.
3. Otherwise a logistic score of coverage, the number of uncovered content words and the
   claim-to-span cosine decides. The cosine is computed only when the lexical features
   leave the verdict open, so most checks never run the model.

The best passage wins. Sentence embeddings and sentence analyses are cached by text, so
checking several claims against the same retrieved passages pays for the claims only.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from rag.index.embeddings import Embedder, MiniLMEmbedder, bundled_model_files
from rag.schema import SupportVerdict
from rag.text.lexicon import MONTH_NAMES, MONTHS, WEEKDAY_NAMES
from rag.text.sentences import sentence_spans
from rag.text.tokens import IRREGULAR_PAST

__all__ = ["SupportVerdict", "check_claims", "check_support", "clear_caches", "features"]

# ---------------------------------------------------------------------------------------
# Calibrated constants. `python evals/support/measure.py --calibrate` fits them on the dev
# split of evals/support/pairs.jsonl only (the test split is never read): a logistic
# regression of the label on the soft features over the dev pairs where no hard check
# fires, then the threshold that maximises dev balanced accuracy over the whole pipeline.
# The rounded values are pasted here.
#
# On the dev split the uncovered-word count carries almost all of the signal: a one-word
# gap is a synonym, three or more are an added clause. The cosine weight came out small
# (claims that copy most of a sentence and add a clause embed close to it too), so the
# cosine only matters when two words are uncovered, and only then is it computed.
W_COVERAGE = 1.10
W_MISSING = -3.63
W_COSINE = 0.57
BIAS = 6.64
THRESHOLD = 0.68
# The cosine assumed when the lexical evidence decides alone (the dev mean); any value in
# [0, 1] gives the same verdict there, this one gives a score close to the full model's.
COSINE_PRIOR = 0.87
# ---------------------------------------------------------------------------------------
# A hard contradiction caps the score far below THRESHOLD whatever the soft features
# say: a verbatim copy of a sentence with one number changed has coverage near 1.
HARD_CAP = 0.05
MAX_WINDOW_SENTENCES = 3
# Longer windows must earn their place: an extra sentence is taken only when it covers
# claim words the shorter window lacks.
WINDOW_PENALTY = 0.02
MISSING_CAP = 6
EMBEDDING_CACHE_SIZE = 8192


# --- lexicon ------------------------------------------------------------------------------

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _words(
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
_NEGATION_WORDS = _words("not no never n't without none nobody nothing neither nor cannot unable")
# Verbs that negate their complement: "failed to defend" says the defence did not happen.
_NEGATING_VERBS = _words(
    "fail fails failed failing refuse refuses refused refusing decline declines declined"
)
# Adverbs between a negation and the word it negates ("has not yet commented").
_NEGATION_SKIP = _words(
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
_MONTHS = {word: MONTH_NAMES[number - 1] for word, number in MONTHS.items()}
_WEEKDAYS = frozenset(WEEKDAY_NAMES)

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
    return _stemmer().stem(word)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


# --- analysed text ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
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


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
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
            tokens.append(_Tok(m.group(0), m.group("num").replace(",", ""), "#", m.start(),
                               m.end(), False, sentence_start, clause, "num",
                               unit=(m.group("suffix") or "").lower()))
            sentence_start = False
            continue
        word = m.group("word") or m.group("other")
        low = word.lower()
        w_end = m.start() + len(word)
        if m.group("nt"):
            base = _CONTRACTIONS.get(low, low)
            tokens.append(_Tok(word, base, base, m.start(), w_end, False, sentence_start,
                               clause, "stop"))
            tokens.append(_Tok("n't", "n't", "n't", w_end, m.end(), False, False, clause, "neg"))
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
        stem = _MONTHS.get(low, "") if cap else ""
        stem = stem or _stem(IRREGULAR_PAST.get(low, low))
        tokens.append(_Tok(word, low, stem, m.start(), w_end, cap, sentence_start, clause,
                           kind))
        sentence_start = False
    return _months_named_may(_negation_exceptions(tokens))


# Words before a month name: "in May", "since May", "last May".
_BEFORE_MONTH = _words("in on since until by last next early late mid through from of")


def _months_named_may(tokens: list[_Tok]) -> list[_Tok]:
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


def _negation_exceptions(tokens: list[_Tok]) -> list[_Tok]:
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


def _parse_numbers(tokens: Sequence[_Tok]) -> list[tuple[int, int, _Number]]:
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
class _Analysis:
    tokens: tuple[_Tok, ...]
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
                if _words_match(probe, other):
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


@lru_cache(maxsize=16384)
def _analyse(text: str) -> _Analysis:
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
    return _Analysis(
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
    tokens: Sequence[_Tok], in_number: set[int]
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
            if content(k) and tokens[k].low not in _NEGATION_SKIP:
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


def _acronyms(tokens: Sequence[_Tok]) -> set[str]:
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


def _words_match(a: str, b: str) -> bool:
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
class _Evidence:
    """A window of consecutive analysed sentences."""

    analyses: list[_Analysis]
    neg_heads: list[tuple[str, frozenset[str]]]
    positive: set[str]
    words: set[str]
    names: set[str]

    @classmethod
    def of(cls, analyses: list[_Analysis]) -> _Evidence:
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


def _covered(claim: _Analysis, sentence: _Analysis) -> list[bool]:
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


def _number_problems(claim: _Analysis, ev: _Evidence) -> list[str]:
    reasons = []
    for number in claim.numbers:
        if not ev.has_number(number):
            label = "date" if number.is_year else "number"
            reasons.append(f"{label} {number.surface} not in evidence")
    return reasons


def _name_problems(claim: _Analysis, ev: _Evidence, known_names: frozenset[str]) -> list[str]:
    reasons = []
    seen: set[str] = set()
    tokens = claim.tokens
    for i, t in enumerate(tokens):
        # Number words ("Big Ten", "Two-Day") are the number check's business.
        if not t.cap or t.kind != "word" or t.low in seen or i in claim.number_tokens:
            continue
        if t.initial and not _initial_is_name(tokens, i, claim, known_names):
            continue
        seen.add(t.low)
        if ev.has_word(t.stem, t.low):
            continue
        month = _MONTHS.get(t.low)
        if month is not None or t.low in _WEEKDAYS:
            reasons.append(f"date {t.text} not in evidence")
        else:
            reasons.append(f"name {t.text} not in evidence")
    return reasons


def _initial_is_name(
    tokens: Sequence[_Tok], i: int, claim: _Analysis, known_names: frozenset[str]
) -> bool:
    """Whether a sentence-initial capitalised word is a name rather than grammar."""
    t = tokens[i]
    if t.low in _MONTHS or t.low in _WEEKDAYS:
        return True
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is not None and nxt.cap and nxt.kind == "word" and nxt.clause == t.clause:
        return True
    return t.low in claim.caps or t.low in known_names or _is_rare_word(t.low)


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str] | None:
    """Whole words of the MiniLM wordpiece vocabulary: a list of common English words."""
    try:
        _, tokenizer_path = bundled_model_files()
        vocab = json.loads(tokenizer_path.read_text(encoding="utf-8"))["model"]["vocab"]
    except Exception:  # the check degrades to "not a name" rather than failing the verdict
        return None
    return frozenset(w for w in vocab if w.isalpha() and not w.startswith("##"))


def _is_rare_word(low: str) -> bool:
    # A word that the 30k-wordpiece vocabulary splits is almost always a name.
    vocab = _vocabulary()
    return vocab is not None and low not in vocab


def _negation_problems(claim: _Analysis, ev: _Evidence) -> list[str]:
    """A word negated an odd number of times on one side only ("not without" is positive).

    The word must also appear in a similar context on the other side (a neighbouring
    content word in common, when the cue has neighbours), so "without their coach" in the
    evidence does not clash with "coach Jim Harbaugh" in the claim.
    """
    c_count = Counter(h for h, _ in claim.neg_heads if h)
    e_count = Counter(h for h, _ in ev.neg_heads if h)
    for head, context in claim.neg_heads:
        if not head or c_count[head] % 2 == e_count.get(head, 0) % 2:
            continue
        if (head in ev.positive or head in e_count) and (not context or context & ev.words):
            word = _surface(claim, head)
            side = "claim" if c_count[head] % 2 else "evidence"
            return [f"negation mismatch: {side} negates '{word}'"]
    for head, context in ev.neg_heads:
        if (head and e_count[head] % 2 and head not in c_count and head in claim.positive
                and (not context or context & claim.words)):
            return [f"negation mismatch: evidence negates '{_surface(claim, head)}'"]
    return []


def _surface(analysis: _Analysis, stem: str) -> str:
    for t in analysis.tokens:
        if t.stem == stem:
            return t.text
    return stem


_PASSIVE_AUX = _words("is are was were be been being get got gets")
# How far (in tokens) a participant may sit from the verb: "Russia, for its part, has
# blamed" puts the subject five tokens before it.
_ROLE_REACH = 8
# Words that open a new clause: the names beyond them belong to another verb ("Nagorno-
# Karabakh where about 2,000 of them were deployed").
_SUBORDINATORS = _words(
    "where which who whom whose when while whereas although though because since but if "
    "unless until after before that"
)
# Words that put a noun, not a verb, after them ("the start", "a limp display").
_DETERMINERS = _words("the a an this that these those its his her their our my your of")
_VERB_BEFORE = _words("to will would can could should may might must shall do does did")
def _verbish(tokens: Sequence[_Tok], i: int) -> bool:
    """Whether the word at i is probably a verb; cheap cues instead of a tagger."""
    t = tokens[i]
    prev = next((tokens[k] for k in range(i - 1, -1, -1)
                 if tokens[k].kind != "neg" and tokens[k].low not in _NEGATION_SKIP
                 and not tokens[k].low.endswith("ly")), None)
    if prev is not None and prev.low in _DETERMINERS:
        return False
    if t.low.endswith(("ed", "ing")) or t.low in IRREGULAR_PAST:
        return True
    if prev is not None and (prev.low in _VERB_BEFORE or prev.low in _PASSIVE_AUX):
        return True
    # "Blake lashes", "Pollstar projects": -s after a name; after anything else it is
    # more often a plural ("four carries").
    return t.low.endswith("s") and prev is not None and prev.cap


def _is_participant(t: _Tok) -> bool:
    # Dates say when, not who.
    return t.cap and t.low not in _MONTHS and t.low not in _WEEKDAYS


_Slot = tuple[frozenset[str], str]
_NO_SLOT: _Slot = (frozenset(), "")


def _name_group(tokens: Sequence[_Tok], i: int, step: int, clause: bool) -> _Slot:
    """The nearest run of capitalised words from token i in direction `step`, as stems,
    with the first function word between them ("to" in "fled to Turkey", "" for "fled
    Aleppo"), so that a destination is not compared with an object.

    A run may bridge one lower-case word ("Michigan coach Jim Harbaugh") or "of"/"and".
    The search stays in the word's clause and stops at a subordinating word. Without
    `clause`, a leftward search that finds nothing there looks past one parenthetical
    clause: the subject of "more than 100,000 Armenians, virtually the entire population
    of Nagorno-Karabakh, left" is the Armenians, that of "Russia, for its part, has
    blamed" is Russia, and that of "Messi, who had missed" is Messi. Objects are not
    looked for across a comma: in "After missing four games, Messi came off the bench"
    Messi is no object of "missing".
    """
    home = tokens[i].clause
    found = _scan(tokens, i, step, home)
    if found[0] or clause or step > 0:
        return found
    earlier = [j for j in range(i) if _same_sentence(tokens, j, i) and tokens[j].clause < home]
    if not earlier:
        return found
    clauses = sorted({tokens[j].clause for j in earlier})
    target = clauses[-2] if len(clauses) >= 2 else clauses[-1]
    last = max(j for j in earlier if tokens[j].clause == target)
    return _scan(tokens, last + 1, step, target)


def _same_sentence(tokens: Sequence[_Tok], j: int, i: int) -> bool:
    """Whether token j (before i) is in the sentence of token i."""
    return not any(tokens[k].initial for k in range(j + 1, i + 1))


def _scan(tokens: Sequence[_Tok], i: int, step: int, clause: int | None) -> _Slot:
    """The first run of names from token i + step, within `clause` when one is given."""
    n = len(tokens)
    link = ""

    def stop(j: int) -> bool:
        boundary = tokens[j] if step > 0 else tokens[j + 1] if j + 1 < n else None
        if boundary is not None and boundary.initial:
            return True
        if tokens[j].low in _SUBORDINATORS:
            return True
        return clause is not None and tokens[j].clause != clause

    j = i + step
    for _ in range(_ROLE_REACH):
        if not 0 <= j < n or stop(j):
            break
        if _is_participant(tokens[j]):
            group = set()
            while 0 <= j < n and not stop(j):
                if _is_participant(tokens[j]):
                    group.add(tokens[j].stem)
                    if step < 0 and tokens[j].initial:
                        break
                elif not (0 <= j + step < n and _is_participant(tokens[j + step])
                          and tokens[j - step].clause == tokens[j].clause == tokens[j + step].clause
                          and (tokens[j].kind == "word" or tokens[j].low in ("of", "and"))):
                    break
                j += step
            return frozenset(group), link
        if not link and tokens[j].kind == "stop" and tokens[j].low not in _DETERMINERS:
            link = tokens[j].low
        j += step
    return _NO_SLOT


def _roles(tokens: Sequence[_Tok], i: int, clause: bool) -> tuple[_Slot, _Slot]:
    """(agent, patient) name groups around the word at i, undoing the passive voice:
    "X was blamed by Y" and "a claim dismissed by Y" make Y the agent, and in "X was set
    up" X is the patient and the agent is unknown."""
    left = _name_group(tokens, i, -1, clause)
    right = _name_group(tokens, i, +1, clause)
    t = tokens[i]
    participle = t.low.endswith("ed") or t.low in IRREGULAR_PAST
    after_aux = i > 0 and tokens[i - 1].low in _PASSIVE_AUX
    by_phrase = any(o.low == "by" for o in tokens[i + 1 : i + 5])
    if participle and i + 1 < len(tokens) and tokens[i + 1].low == "by":
        return right, left
    if after_aux and by_phrase:
        return right, left
    if after_aux and participle:
        return _NO_SLOT, left
    return left, right


def _overlap(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> bool:
    return any(_words_match(x, y) for x in a for y in b)


def _within(a: frozenset[str], b: frozenset[str] | set[str]) -> bool:
    return all(any(_words_match(x, y) for y in b) for x in a)


def _role_problems(claim: _Analysis, ev: _Evidence) -> list[str]:
    """The names around the same verb are exchanged between claim and evidence."""
    ctoks = claim.tokens
    for i, t in enumerate(ctoks):
        if t.kind != "word" or (t.cap and not t.initial) or not _verbish(ctoks, i):
            continue
        c_wide, c_near = _roles(ctoks, i, False), _roles(ctoks, i, True)
        # "Armenians moved to Armenia": when the two sides name the same thing, their
        # order says nothing.
        if not (c_wide[0][0] or c_wide[1][0]) or _overlap(c_wide[0][0], c_wide[1][0]):
            continue
        for a in ev.analyses:
            for k, e in enumerate(a.tokens):
                if e.stem != t.stem or e.kind != "word" or not _verbish(a.tokens, k):
                    continue
                if _crossed(c_wide, _roles(a.tokens, k, False)) or _exchanged(
                    c_near, _roles(a.tokens, k, True), claim.names, ev.names
                ):
                    return [f"role reversal around '{t.text}'"]
    return []


def _crossed(claim: tuple[_Slot, _Slot], evidence: tuple[_Slot, _Slot]) -> bool:
    """A participant of the claim sits on the other side of the verb in the evidence
    ("Armenia blamed Russia" against "Russia, for its part, has blamed Armenia")."""
    (c_agent, _), (c_patient, _) = claim
    (e_agent, _), (e_patient, _) = evidence
    return (
        (_overlap(c_agent, e_patient) and not _overlap(c_agent, e_agent))
        or (_overlap(c_patient, e_agent) and not _overlap(c_patient, e_patient))
    )


def _exchanged(
    claim: tuple[_Slot, _Slot],
    evidence: tuple[_Slot, _Slot],
    claim_names: frozenset[str],
    evidence_names: set[str],
) -> bool:
    """Within the verb's own clause, a slot holds different names on the two sides, linked
    to the verb the same way, and each text mentions the other's name elsewhere ("Fulham
    moved to fifth ... over Aston Villa" against "Aston Villa moved to fifth ... over
    Fulham")."""
    return any(
        c_slot and e_slot and c_link == e_link and not _overlap(c_slot, e_slot)
        and _within(c_slot, evidence_names) and _within(e_slot, claim_names)
        for (c_slot, c_link), (e_slot, e_link) in zip(claim, evidence, strict=True)
    )


# --- embeddings ---------------------------------------------------------------------------

_default_embedder: Embedder | None = None
_default_lock = threading.Lock()
_cache_lock = threading.Lock()
# Keyed by (embedder name, text): vectors of different models are not comparable.
_embedding_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


def _get_default_embedder() -> Embedder:
    global _default_embedder
    if _default_embedder is None:
        with _default_lock:
            if _default_embedder is None:
                _default_embedder = MiniLMEmbedder()
    return _default_embedder


def _embed_cached(embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
    """Unit vectors for texts, computing only those not in the shared LRU cache."""
    name = getattr(embedder, "name", type(embedder).__name__)
    out: dict[str, np.ndarray] = {}
    todo: list[str] = []
    with _cache_lock:
        for text in texts:
            vec = _embedding_cache.get((name, text))
            if vec is not None:
                _embedding_cache.move_to_end((name, text))
                out[text] = vec
            elif text not in out and text not in todo:
                todo.append(text)
    if todo:
        vectors = np.asarray(embedder.embed(todo), dtype=np.float32)
        with _cache_lock:
            for text, vec in zip(todo, vectors, strict=True):
                out[text] = vec
                _embedding_cache[(name, text)] = vec
            while len(_embedding_cache) > EMBEDDING_CACHE_SIZE:
                _embedding_cache.popitem(last=False)
    return [out[text] for text in texts]


def clear_caches() -> None:
    """Forget cached sentence embeddings and analyses (tests, memory pressure)."""
    with _cache_lock:
        _embedding_cache.clear()
    _analyse.cache_clear()
    _passage_sentences.cache_clear()


# --- the checker --------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _passage_sentences(passage: str) -> tuple[tuple[int, int], ...]:
    spans = sentence_spans(passage)
    if not spans and passage.strip():
        start = len(passage) - len(passage.lstrip())
        spans = [(start, len(passage.rstrip()))]
    return tuple(spans)


@dataclass
class _Lexical:
    """What one passage says about a claim before any embedding is computed."""

    passage_index: int
    start: int
    end: int
    sentences: list[str]  # the evidence window, sentence by sentence
    coverage: float
    missing: list[str]
    hard: list[str]
    cosine: float | None = None

    def logit(self) -> float:
        return (W_COVERAGE * self.coverage + W_MISSING * min(len(self.missing), MISSING_CAP)
                + BIAS)

    def needs_cosine(self) -> bool:
        """Whether the verdict depends on the cosine, given that it lies in [0, 1]."""
        if self.hard or self.cosine is not None:
            return False
        z, cut = self.logit(), _logit(THRESHOLD)
        return min(z, z + W_COSINE) < cut <= max(z, z + W_COSINE)

    def score(self) -> float:
        cosine = COSINE_PRIOR if self.cosine is None else min(max(self.cosine, 0.0), 1.0)
        value = _sigmoid(self.logit() + W_COSINE * cosine)
        return min(value, HARD_CAP) if self.hard else value


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _lexical(claim: _Analysis, passages: Sequence[str]) -> list[_Lexical]:
    out: list[_Lexical] = []
    texts = [[p[s:e] for s, e in _passage_sentences(p)] for p in passages]
    known_names = frozenset().union(*(_analyse(t).caps for ts in texts for t in ts))
    for p_index, (passage, sentences) in enumerate(zip(passages, texts, strict=True)):
        if not sentences:
            continue
        spans = _passage_sentences(passage)
        analyses = [_analyse(t) for t in sentences]
        i, j, coverage, missing = _best_window(claim, analyses)
        ev = _Evidence.of(analyses[i:j])
        hard = (
            _number_problems(claim, ev)
            + _name_problems(claim, ev, known_names)
            + _negation_problems(claim, ev)
            + _role_problems(claim, ev)
        )
        out.append(_Lexical(p_index, spans[i][0], spans[j - 1][1], sentences[i:j],
                            coverage, missing, hard))
    return out


def _best_window(claim: _Analysis, sentences: list[_Analysis]) -> tuple[int, int, float, list[str]]:
    """(first, end, coverage, uncovered words) of the window that covers the claim best;
    the shorter and then the earlier window on ties."""
    covered = [_covered(claim, s) for s in sentences]
    best: tuple[float, int, int, list[bool]] | None = None
    for i in range(len(sentences)):
        hits = [False] * len(claim.content)
        for j in range(i + 1, min(i + MAX_WINDOW_SENTENCES, len(sentences)) + 1):
            hits = [a or b for a, b in zip(hits, covered[j - 1], strict=True)]
            relevance = sum(hits) / len(hits) - WINDOW_PENALTY * (j - i - 1)
            if best is None or relevance > best[0] + 1e-9:
                best = (relevance, i, j, hits)
    assert best is not None
    _, i, j, hits = best
    missing = [w for w, hit in zip(claim.surfaces, hits, strict=True) if not hit]
    return i, j, sum(hits) / len(hits), missing


def _add_cosines(
    emb: Embedder, claims: Sequence[str], candidates: Sequence[Sequence[_Lexical]],
    everything: bool = False,
) -> None:
    """Fill in the cosine where the verdict depends on it, with one embedding batch."""
    todo = [(claim, c) for claim, cands in zip(claims, candidates, strict=True)
            for c in cands if everything or c.needs_cosine()]
    if not todo:
        return
    texts = list(dict.fromkeys(t for claim, c in todo for t in (claim, *c.sentences)))
    vectors = dict(zip(texts, _embed_cached(emb, texts), strict=True))
    for claim, c in todo:
        # The window's vector is the normalised sum of its sentences': windows reuse the
        # cached sentence vectors instead of being embedded on their own.
        total = np.sum([vectors[t] for t in c.sentences], axis=0)
        norm = float(np.linalg.norm(total))
        c.cosine = float(np.dot(total, vectors[claim]) / norm) if norm > 0 else 0.0


def _verdict(passages: Sequence[str], candidates: Sequence[_Lexical]) -> SupportVerdict:
    if not candidates:
        return _no_verdict(("no passages",))
    best = max(candidates, key=lambda c: (c.score(), -c.passage_index))
    score = best.score()
    reasons = list(best.hard)
    if score < THRESHOLD and not reasons:
        if best.missing:
            reasons.append(f"claim words not in evidence: {', '.join(best.missing[:4])}")
        reasons.append(f"coverage {best.coverage:.2f}" + (
            f", similarity {best.cosine:.2f}" if best.cosine is not None else ""))
    passage = passages[best.passage_index]
    return SupportVerdict(
        supported=score >= THRESHOLD,
        score=round(score, 6),
        passage_index=best.passage_index,
        evidence_start=best.start,
        evidence_end=best.end,
        evidence=passage[best.start : best.end],
        reasons=tuple(reasons),
    )


def _no_verdict(reasons: tuple[str, ...]) -> SupportVerdict:
    return SupportVerdict(False, 0.0, -1, 0, 0, "", reasons)


def features(
    claim: str, passage: str, *, embedder: Embedder | None = None
) -> dict[str, Any]:
    """The signals behind the verdict for one passage, cosine always computed (calibration)."""
    claim = claim.strip()
    analysis = _analyse(claim)
    if not analysis.content:
        return {"coverage": 0.0, "missing": 0, "cosine": 0.0, "hard": ("no content",)}
    candidates = _lexical(analysis, [passage])
    if not candidates:
        return {"coverage": 0.0, "missing": 0, "cosine": 0.0, "hard": ("no passage",)}
    emb = embedder if embedder is not None else _get_default_embedder()
    _add_cosines(emb, [claim], [candidates], everything=True)
    c = candidates[0]
    return {"coverage": c.coverage, "missing": len(c.missing), "cosine": c.cosine,
            "hard": tuple(c.hard), "evidence": passage[c.start : c.end]}


def check_support(
    claim: str, passages: Sequence[str], *, embedder: Embedder | None = None
) -> SupportVerdict:
    """Whether `claim` is supported by one of `passages`, with the best evidence span.

    `evidence == passages[passage_index][evidence_start:evidence_end]` always holds;
    with no usable passage, `passage_index` is -1 and the evidence is empty.
    """
    return check_claims([claim], passages, embedder=embedder)[0]


def check_claims(
    claims: Sequence[str], passages: Sequence[str], *, embedder: Embedder | None = None
) -> list[SupportVerdict]:
    """`check_support` for many claims against the same passages, embedding in one batch."""
    passages = list(passages)
    stripped = [c.strip() for c in claims]
    analyses = [_analyse(c) for c in stripped]
    candidates = [_lexical(a, passages) if a.content else [] for a in analyses]
    if any(c.needs_cosine() for cands in candidates for c in cands):
        emb = embedder if embedder is not None else _get_default_embedder()
        _add_cosines(emb, stripped, candidates)
    return [
        _verdict(passages, cands) if a.content
        else _no_verdict(("claim has no content words",))
        for a, cands in zip(analyses, candidates, strict=True)
    ]
