"""Offline support checker: is a claim backed by one of the given passages?

No LLM and no network: the verdict combines cheap lexical checks with one cosine
similarity from the bundled MiniLM embedder.

1. Every passage is split into sentences (`rag.chunking.sentence_spans`); windows of
   one to three consecutive sentences are the candidate evidence spans, and the most
   relevant one (content-word coverage first, embedding similarity second) is the
   evidence for that passage.
2. On that span, hard checks look for the errors a generator typically makes while
   still sounding right: a number, date, amount or percentage that is absent or
   different; a capitalised name the evidence never mentions; a negation present on one
   side only; two participants swapped around the same verb ("Armenia blamed Russia"
   against "Russia blamed Armenia").
3. A soft score, a logistic function of coverage, uncovered content words and cosine,
   is capped when a hard check fires. The best passage wins.

Sentence embeddings are cached by text, so re-checking claims against the same
retrieved passages only pays for the claims.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from rag.chunking import sentence_spans
from rag.embeddings import Embedder, MiniLMEmbedder

__all__ = ["SupportVerdict", "check_claims", "check_support", "clear_caches"]

# ---------------------------------------------------------------------------------------
# Calibrated constants. `python evals/support/measure.py --calibrate` fits them on the dev
# split of evals/support/pairs.jsonl only (the test split is never looked at): a logistic
# regression of the label on the three soft features over dev pairs where no hard check
# fires, then the threshold that maximises dev balanced accuracy over the full pipeline.
# The rounded values are pasted here.
W_COVERAGE = 9.0
W_COSINE = 6.0
W_MISSING = -0.6
BIAS = -10.0
THRESHOLD = 0.5
# A hard contradiction caps the score far below THRESHOLD whatever the soft features
# say: a verbatim copy of a sentence with one number changed has coverage near 1.
HARD_CAP = 0.05
# ---------------------------------------------------------------------------------------

MAX_WINDOW_SENTENCES = 3
# Longer windows must earn their place: an extra sentence is taken only when it covers
# claim words the shorter window lacks.
WINDOW_PENALTY = 0.02
# Cosine is a tie-breaker for relevance; coverage decides which span is the evidence.
RELEVANCE_COSINE_WEIGHT = 0.3
MISSING_CAP = 6
EMBEDDING_CACHE_SIZE = 8192


@dataclass(frozen=True)
class SupportVerdict:
    supported: bool
    score: float
    passage_index: int
    evidence_start: int
    evidence_end: int
    evidence: str
    reasons: tuple[str, ...]


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
_NEGATING_VERBS = _words("fail fails failed failing refuse refuses refused refusing")
# Adverbs between a negation and the word it negates ("has not yet commented").
_NEGATION_SKIP = _words(
    """yet even ever always really actually adequately fully quite just also only
    immediately necessarily currently still entirely completely simply directly
    officially publicly formally already been be being"""
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
_MONTHS = {
    "january": "january", "jan": "january", "february": "february", "feb": "february",
    "march": "march", "mar": "march", "april": "april", "apr": "april", "may": "may",
    "june": "june", "jun": "june", "july": "july", "jul": "july", "august": "august",
    "aug": "august", "september": "september", "sep": "september", "sept": "september",
    "october": "october", "oct": "october", "november": "november", "nov": "november",
    "december": "december", "dec": "december",
}
_WEEKDAYS = _words("monday tuesday wednesday thursday friday saturday sunday")

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
        tokens.append(_Tok(word, low, stem or _stem(low), m.start(), w_end, cap,
                           sentence_start, clause, kind))
        sentence_start = False
    return _negation_exceptions(tokens)


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
    negated: frozenset[str]
    positive: frozenset[str]
    # Capitalised words not at the start of a sentence: names, places, titles, dates.
    caps: frozenset[str]

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


@lru_cache(maxsize=16384)
def _analyse(text: str) -> _Analysis:
    tokens = _tokenize(text)
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
    negated, positive = _negation_scopes(tokens, in_number)
    return _Analysis(
        tokens=tuple(tokens),
        numbers=tuple(n for _, _, n in numbers),
        content=tuple(content),
        surfaces=tuple(content.values()),
        words=frozenset(words),
        by_prefix={k: tuple(v) for k, v in by_prefix.items()},
        negated=frozenset(negated),
        positive=frozenset(positive),
        caps=frozenset(t.low for t in tokens if t.cap and not t.initial),
    )


def _negation_scopes(tokens: Sequence[_Tok], in_number: set[int]) -> tuple[set[str], set[str]]:
    """Stems under a negation (the next two content words of its clause), and the rest."""
    negated: set[str] = set()
    for i, t in enumerate(tokens):
        if t.kind != "neg":
            continue
        taken = 0
        for nxt in tokens[i + 1 :]:
            if nxt.clause != t.clause or taken >= 2:
                break
            if nxt.kind != "word" or nxt.low in _NEGATION_SKIP:
                continue
            negated.add(nxt.stem)
            taken += 1
    positive = {
        t.stem for i, t in enumerate(tokens)
        if t.kind == "word" and i not in in_number and t.stem not in negated
    }
    return negated, positive


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
    negated: set[str]
    positive: set[str]

    @classmethod
    def of(cls, analyses: list[_Analysis]) -> _Evidence:
        negated: set[str] = set()
        positive: set[str] = set()
        for a in analyses:
            negated |= a.negated
            positive |= a.positive
        return cls(analyses, negated, positive)

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
        if not t.cap or t.kind != "word" or t.low in seen:
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
        import json

        from rag.embeddings import bundled_model_files

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
    reasons = []
    # The claim denies something the evidence asserts.
    for stem in sorted(claim.negated):
        if stem in ev.positive and stem not in ev.negated:
            word = _surface(claim, stem)
            reasons.append(f"negation mismatch: claim negates '{word}', evidence does not")
            break
    # The claim asserts something the evidence denies.
    if not reasons:
        for stem in sorted(claim.positive):
            if stem in ev.negated and stem not in ev.positive and stem not in claim.negated:
                word = _surface(claim, stem)
                reasons.append(f"negation mismatch: evidence negates '{word}', claim does not")
                break
    return reasons


def _surface(analysis: _Analysis, stem: str) -> str:
    for t in analysis.tokens:
        if t.stem == stem:
            return t.text
    return stem


_PASSIVE_AUX = _words("is are was were be been being get got gets")
# How far (in tokens) a participant may sit from the verb: "Russia, for its part, has
# blamed" puts the subject five tokens before it.
_ROLE_REACH = 8


def _name_group(tokens: Sequence[_Tok], i: int, step: int) -> frozenset[str]:
    """The run of capitalised words nearest to token i in direction `step`, as stems.

    The search stays inside the sentence of token i.
    """
    j = i + step
    for _ in range(_ROLE_REACH):
        if not 0 <= j < len(tokens) or (step > 0 and tokens[j].initial):
            break
        if tokens[j].cap:
            group = set()
            while 0 <= j < len(tokens) and tokens[j].cap:
                group.add(tokens[j].stem)
                if step < 0 and tokens[j].initial:
                    break
                j += step
                if step > 0 and j < len(tokens) and tokens[j].initial:
                    break
            return frozenset(group)
        if step < 0 and tokens[j].initial:
            break
        j += step
    return frozenset()


def _roles(tokens: Sequence[_Tok], i: int) -> tuple[frozenset[str], frozenset[str]]:
    """(agent, patient) name groups around the word at i, undoing the passive voice."""
    left = _name_group(tokens, i, -1)
    right = _name_group(tokens, i, +1)
    passive = (
        i > 0 and tokens[i - 1].low in _PASSIVE_AUX
        and any(o.low == "by" for o in tokens[i + 1 : i + 4])
    )
    return (right, left) if passive else (left, right)


def _role_problems(claim: _Analysis, ev: _Evidence) -> list[str]:
    """The same two names on opposite sides of the same word in claim and evidence."""
    ctoks = claim.tokens
    for i, t in enumerate(ctoks):
        if t.kind != "word" or t.cap:
            continue
        c_agent, c_patient = _roles(ctoks, i)
        if not c_agent or not c_patient:
            continue
        for a in ev.analyses:
            for k, e in enumerate(a.tokens):
                if e.stem != t.stem or e.kind != "word":
                    continue
                e_agent, e_patient = _roles(a.tokens, k)
                if (c_agent & e_patient and c_patient & e_agent
                        and not c_agent & e_agent and not c_patient & e_patient):
                    return [f"role reversal around '{t.text}'"]
    return []


# --- embeddings ---------------------------------------------------------------------------

_default_embedder: Embedder | None = None
_default_lock = threading.Lock()
_cache_lock = threading.Lock()
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
class _Candidate:
    passage_index: int
    start: int
    end: int
    score: float
    reasons: tuple[str, ...]


def _soft_score(coverage: float, missing: int, cosine: float) -> float:
    z = W_COVERAGE * coverage + W_COSINE * cosine + W_MISSING * min(missing, MISSING_CAP) + BIAS
    return 1.0 / (1.0 + math.exp(-z))


def features(
    claim: str, passage: str, *, embedder: Embedder | None = None
) -> dict[str, Any]:
    """The raw signals behind a verdict, for calibration and debugging."""
    verdict, feats = _check_one(claim, [passage], embedder, None)
    feats["score"] = verdict.score
    feats["reasons"] = verdict.reasons
    return feats


def _check_one(
    claim: str,
    passages: Sequence[str],
    embedder: Embedder | None,
    claim_vector: np.ndarray | None,
) -> tuple[SupportVerdict, dict[str, Any]]:
    claim_an = _analyse(claim.strip())
    if not claim_an.content:
        return _no_verdict(("claim has no content words",)), {}
    sentence_lists = [_passage_sentences(p) for p in passages]
    if not any(sentence_lists):
        return _no_verdict(("no passages",)), {}
    emb = embedder if embedder is not None else _get_default_embedder()
    all_sentences = [p[s:e] for p, spans in zip(passages, sentence_lists, strict=True)
                     for s, e in spans]
    vectors = _embed_cached(emb, all_sentences)
    if claim_vector is None:
        claim_vector = _embed_cached(emb, [claim.strip()])[0]
    known_names = frozenset().union(*(_analyse(s).caps for s in all_sentences))

    best: _Candidate | None = None
    best_feats: dict[str, Any] = {}
    offset = 0
    for p_index, (passage, spans) in enumerate(zip(passages, sentence_lists, strict=True)):
        sentence_an = [_analyse(passage[s:e]) for s, e in spans]
        sentence_vecs = vectors[offset : offset + len(spans)]
        offset += len(spans)
        window = _best_window(claim_an, claim_vector, sentence_an, sentence_vecs)
        if window is None:
            continue
        i, j, coverage, missing_words, cosine = window
        missing = len(missing_words)
        ev = _Evidence.of(sentence_an[i:j])
        hard = (
            _number_problems(claim_an, ev)
            + _name_problems(claim_an, ev, known_names)
            + _negation_problems(claim_an, ev)
            + _role_problems(claim_an, ev)
        )
        score = _soft_score(coverage, missing, cosine)
        soft_reasons: list[str] = []
        if hard:
            score = min(score, HARD_CAP)
        if score < THRESHOLD and not hard:
            if missing_words:
                shown = ", ".join(missing_words[:4])
                soft_reasons.append(f"claim words not in evidence: {shown}")
            soft_reasons.append(f"coverage {coverage:.2f}, similarity {cosine:.2f}")
        reasons = tuple(hard + soft_reasons)
        cand = _Candidate(p_index, spans[i][0], spans[j - 1][1], score, reasons)
        if best is None or cand.score > best.score:
            best = cand
            best_feats = {
                "coverage": coverage, "missing": missing, "cosine": cosine,
                "hard": tuple(hard),
            }
    if best is None:
        return _no_verdict(("no passages",)), {}
    passage = passages[best.passage_index]
    return (
        SupportVerdict(
            supported=best.score >= THRESHOLD,
            score=round(best.score, 6),
            passage_index=best.passage_index,
            evidence_start=best.start,
            evidence_end=best.end,
            evidence=passage[best.start : best.end],
            reasons=best.reasons,
        ),
        best_feats,
    )


def _best_window(
    claim: _Analysis,
    claim_vector: np.ndarray,
    sentences: list[_Analysis],
    vectors: list[np.ndarray],
) -> tuple[int, int, float, list[str], float] | None:
    """(first, end, coverage, uncovered words, cosine) of the most relevant window."""
    if not claim.content:
        return None
    covered = [_covered(claim, s) for s in sentences]
    best: tuple[float, tuple[int, int, float, list[str], float]] | None = None
    for i in range(len(sentences)):
        total = np.zeros_like(claim_vector)
        hits = [False] * len(claim.content)
        for j in range(i + 1, min(i + MAX_WINDOW_SENTENCES, len(sentences)) + 1):
            total = total + vectors[j - 1]
            hits = [a or b for a, b in zip(hits, covered[j - 1], strict=True)]
            norm = float(np.linalg.norm(total))
            cosine = float(np.dot(total, claim_vector) / norm) if norm > 0 else 0.0
            coverage = sum(hits) / len(hits)
            relevance = (coverage + RELEVANCE_COSINE_WEIGHT * cosine
                         - WINDOW_PENALTY * (j - i - 1))
            if best is None or relevance > best[0]:
                missing = [w for w, hit in zip(claim.surfaces, hits, strict=True) if not hit]
                best = (relevance, (i, j, coverage, missing, cosine))
    return None if best is None else best[1]


def _no_verdict(reasons: tuple[str, ...]) -> SupportVerdict:
    return SupportVerdict(False, 0.0, -1, 0, 0, "", reasons)


def check_support(
    claim: str, passages: Sequence[str], *, embedder: Embedder | None = None
) -> SupportVerdict:
    """Whether `claim` is supported by one of `passages`, with the best evidence span.

    `evidence == passages[passage_index][evidence_start:evidence_end]` always holds;
    with no usable passage, `passage_index` is -1 and the evidence is empty.
    """
    return _check_one(claim, list(passages), embedder, None)[0]


def check_claims(
    claims: Sequence[str], passages: Sequence[str], *, embedder: Embedder | None = None
) -> list[SupportVerdict]:
    """`check_support` for many claims against the same passages, embedding in one batch."""
    passages = list(passages)
    emb = embedder if embedder is not None else _get_default_embedder()
    sentences = [p[s:e] for p in passages for s, e in _passage_sentences(p)]
    stripped = [c.strip() for c in claims]
    vectors = _embed_cached(emb, sentences + [c for c in stripped if c])
    claim_vectors = vectors[len(sentences) :]
    out: list[SupportVerdict] = []
    k = 0
    for claim in stripped:
        vec = None
        if claim:
            vec = claim_vectors[k]
            k += 1
        out.append(_check_one(claim, passages, emb, vec)[0])
    return out
