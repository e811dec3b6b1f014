"""A claim's or evidence's text as tokens: each word with its stem, its kind (content
word, function word, negation cue, number) and its clause, capitalised as a name or only
for grammar; and how two words or two texts compare.

`rag.text.analysis` reads texts through `tokenize`; `rag.text.numbers` gives the number
tokens their values and `rag.text.negation` says what each negation cue negates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from rag.text.lexicon import MONTH_WORDS, stopwords
from rag.text.tokens import IRREGULAR_PAST

# --- lexicon ------------------------------------------------------------------------------

def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = stopwords("analysis")
# Negation is checked on its own, so its cues are not content words.
_NEGATION_WORDS = word_set("not no never n't without none nobody nothing neither nor cannot unable")
# Verbs that negate their complement: "failed to defend" says the defence did not happen.
_NEGATING_VERBS = word_set(
    "fail fails failed failing refuse refuses refused refusing decline declines declined"
)
_CONTRACTIONS = {"ca": "can", "wo": "will", "sha": "shall"}

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


# --- tokens -------------------------------------------------------------------------------


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


# "U.S.", "U.K.": dotted initials read as one word, so they match "US" and "UK" (and the
# dots end no sentence). Same length, so token offsets still index the original text.
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")


def _undot(m: re.Match[str]) -> str:
    return m.group().replace(".", "").ljust(len(m.group()))


def undotted(text: str) -> str:
    """`text` with dotted initials as one word ("U.S." → "US  "), offsets kept."""
    return _DOTTED.sub(_undot, text)


def tokenize(text: str) -> list[Tok]:
    """`text`'s words and numbers in order, with their clauses and sentence starts."""
    text = undotted(text)
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


# --- comparing ----------------------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def plain(text: str) -> str:
    """Text as compared word for word: case, curly quotes and spacing aside."""
    return " ".join(text.translate(_QUOTES).casefold().split())


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
