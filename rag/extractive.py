"""The offline answerer: pick the retrieved sentences that answer the question, cite them
by exact span, or refuse.

A sentence's score mixes three signals: semantic similarity to the question (the
bundled embedding model), coverage of the question's content words, and whether it
holds the kind of thing the question asks for (a reason for "why", a number for "how
many", a date for "when", a name for "who"). A question is refused when no sentence
scores above a threshold calibrated on the gold set (`evals/calibrate.py`), or when a
name or number the question hinges on appears in none of the retrieved passages.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Embedder
from rag.prompts import REFUSAL
from rag.schema import Citation, Passage
from rag.support import IRREGULAR_PAST

# Calibrated by `python evals/calibrate.py` on evals/gold/seed.jsonl: the threshold with
# the best balanced accuracy between answering the answerable and refusing the rest.
REFUSAL_THRESHOLD = 0.42
MAX_SENTENCES = 3
# A second or third sentence must score close to the best one to be worth reading.
FOLLOW_MARGIN = 0.12

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because
    been before being between both but by can could did do does doing done during
    each few for from further had has have having he her here hers him his how i if
    in into is it its itself just me more most my no nor not now of off on once only
    or other our out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your said says say
    tell told according report reported
    """.split()
)
QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())
# How much something cost is answered by an amount of money, not any number.
_MONEY = re.compile(r"[$€£₽]|\b(?:dollars?|euros?|rubles?|roubles?|pounds|cost|costs|paid|"
                    r"spent|budget|funding)\b", re.IGNORECASE)
# Capitalised words that start questions or name the generic, not a specific entity.
GENERIC_CAPS = frozenset({"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why",
                          "How", "Did", "Does", "Do", "Is", "Are", "Was", "Were", "Has",
                          "Have", "Had", "Can", "Could", "Will", "Would", "Should", "In",
                          "On", "The", "A", "An", "According", "Between", "After", "Before",
                          "I", "Tell", "Explain", "Describe", "Name", "List"})

_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*")
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December|Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|"
           "Nov\\.?|Dec\\.?")
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|"
                 "dozens|hundred|hundreds|thousand|thousands|million|millions|billion")
TYPE_PATTERNS: dict[str, re.Pattern[str]] = {
    "when": re.compile(
        rf"\b(?:{_MONTHS})\b|\b(?:19|20)\d\d\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
        r"Saturday|Sunday)\b|\b(?:yesterday|today|last (?:week|month|year|fall|spring|summer|"
        r"winter)|earlier this (?:week|month|year)|this past)\b"
    ),
    "how_many": re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE),
    "who": re.compile(
        r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b|\b(?:president|minister|spokesperson|spokesman|"
        r"aide|leaders?|officials?|government|ministry|agency|council|prime)\b"
    ),
    "why": re.compile(
        r"\b(?:because|due to|after|following|as a result|in order to|so that|since|to protect|"
        r"blamed|for failing|reason|moot|decision|decided)\b", re.IGNORECASE),
    "where": re.compile(r"\b(?:in|at|from|to|near)\s+[A-Z][a-z]+"),
}


def answer_type(question: str) -> str:
    # A follow-up rewritten offline carries the previous question in parentheses; the
    # kind of answer wanted is the follow-up's own.
    q = question.split(" (", 1)[0].strip().lower()
    q = re.sub(r"^(and|but|so|also)\s+", "", q)
    if q.startswith("why") or " why " in q or "reason" in q:
        return "why"
    if re.match(r"(how (many|much|long|large|big|old|far)|what (number|percentage|share))", q):
        return "how_many"
    if q.startswith("when") or "what date" in q or "what year" in q or "what day" in q:
        return "when"
    if q.startswith(("who", "whom", "whose")) or re.match(r"which (person|official|country|"
                                                          r"leader|aide|agency|body)", q):
        return "who"
    if q.startswith("where"):
        return "where"
    return "what"




def stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if word in IRREGULAR_PAST:
        return IRREGULAR_PAST[word]
    for suffix in ("ing", "ers", "ed", "es", "s", "er", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text)
            if w.lower() not in STOPWORDS and w.lower() not in QUESTION_WORDS and len(w) > 1}


def key_entities(question: str) -> list[str]:
    """Names and numbers the question hinges on: if none of the passages mention one,
    the sources cannot be about what was asked."""
    words = _WORD.findall(question)
    keys = [w for w in words if (w[0].isupper() and w not in GENERIC_CAPS) or w[0].isdigit()]
    return [stem(w.rstrip(".,")) for w in keys]


@dataclass
class ScoredSentence:
    passage_index: int
    start: int
    end: int
    text: str
    score: float
    similarity: float


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, *, threshold: float = REFUSAL_THRESHOLD) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def score_sentences(self, question: str, passages: Sequence[Passage]) -> list[ScoredSentence]:
        candidates: list[tuple[int, int, int, str]] = []
        seen: set[tuple[str, int, int]] = set()
        for index, passage in enumerate(passages):
            spans = passage.sentences or [(passage.start, passage.end)]
            for start, end in spans:
                key = (passage.doc_id, start, end)
                if key in seen:
                    continue
                seen.add(key)
                text = passage.text[start - passage.start : end - passage.start]
                if text.strip():
                    candidates.append((index, start, end, text))
        if not candidates:
            return []
        vectors = self._embed([c[3] for c in candidates])
        similarities = vectors @ self.embedder.embed_query(question)
        kind = answer_type(question)
        pattern = TYPE_PATTERNS.get(kind)
        terms = content_terms(question)
        scored = []
        for (index, start, end, text), similarity in zip(candidates, similarities, strict=True):
            coverage = len(terms & content_terms(text)) / len(terms) if terms else 0.0
            fits = 1.0 if pattern is not None and pattern.search(text) else 0.0
            # Rank in retrieval is weak evidence; it breaks ties between equal sentences.
            prior = 0.02 * (len(passages) - index) / max(len(passages), 1)
            score = 0.6 * float(similarity) + 0.3 * coverage + 0.1 * fits + prior
            scored.append(ScoredSentence(index, start, end, text, score, float(similarity)))
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def answer(self, question: str, passages: Sequence[Passage]
               ) -> tuple[str, list[Citation], bool]:
        """(answer text with [n] markers, citations, refused)."""
        scored = self.score_sentences(question, passages)
        if not scored or self._misses_key(question, passages):
            return REFUSAL, [], True
        answering = [s for s in scored[:12]
                     if self.answerability(question, s) >= self.threshold]
        if not answering:
            return REFUSAL, [], True
        best = answering[0]
        chosen = [best]
        for candidate in answering[1:]:
            if len(chosen) == MAX_SENTENCES or candidate.score < best.score - FOLLOW_MARGIN:
                break
            if any(_overlaps(candidate, c, passages) for c in chosen):
                continue
            chosen.append(candidate)
        citations: list[Citation] = []
        parts: list[str] = []
        for marker, sentence in enumerate(chosen, start=1):
            passage = passages[sentence.passage_index]
            citations.append(Citation(
                marker=marker, doc_id=passage.doc_id, start=sentence.start, end=sentence.end,
                quote=sentence.text, title=passage.title, source=passage.source,
                published_at=passage.published_at, url=passage.url,
            ))
            parts.append(f"{sentence.text} [{marker}]")
        return " ".join(parts), citations, False

    def _fits_type(self, question: str, sentence: str) -> bool:
        kind = answer_type(question)
        if kind in {"how_many", "when"} and not TYPE_PATTERNS[kind].search(sentence):
            return False
        lowered = question.lower()
        if lowered.startswith("how much") and re.search(r"\b(cost|pay|paid|spend|spent|worth|"
                                                        r"budget|price)", lowered):
            return bool(_MONEY.search(sentence))
        return True

    def answerability(self, question: str, sentence: ScoredSentence) -> float:
        return sentence.score if self._fits_type(question, sentence.text) else 0.0

    def _misses_key(self, question: str, passages: Sequence[Passage]) -> bool:
        keys = key_entities(question)
        if not keys:
            return False
        seen = set()
        for passage in passages:
            seen |= {stem(w.rstrip(".,")) for w in _WORD.findall(passage.text)}
            seen |= content_terms(f"{passage.title} {passage.source}")
        return any(key not in seen and not _prefix_match(key, seen) for key in keys)

    def _embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)  # least recently used goes first
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.embedder.embed(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._cache[text] = found[text]
                while len(self._cache) > 4096:
                    self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])


def _prefix_match(key: str, seen: set[str]) -> bool:
    # "Azerbaijani" and "Azerbaijan", "Armenians" and "Armenia" name the same thing.
    return len(key) >= 5 and any(w.startswith(key[:5]) and abs(len(w) - len(key)) <= 3
                                 for w in seen)


def _overlaps(a: ScoredSentence, b: ScoredSentence, passages: Sequence[Passage]) -> bool:
    same_doc = passages[a.passage_index].doc_id == passages[b.passage_index].doc_id
    return same_doc and a.start < b.end and b.start < a.end
