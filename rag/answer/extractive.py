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
from typing import NamedTuple, Protocol

import numpy as np

from rag.answer.fillers import gaps
from rag.answer.prompts import REFUSAL
from rag.answer.slot_words import ALIASES, LETTER, NOT_NAMES
from rag.answer.slots import read_question
from rag.index.embeddings import Embedder
from rag.index.records import published_ts
from rag.retrieve.question_time import PeriodMention, event_topic, find_times, time_fit
from rag.schema import Citation, Passage
from rag.text.analysis import analyse as analyse_text
from rag.text.lexicon import lower_case_words, stopwords
from rag.text.tokens import stem
from rag.text.words import undotted

# Calibrated by `python evals/calibrate.py` on the development gold sets (seed, held-out,
# first sealed): the threshold with the best balanced accuracy between answering the
# answerable and refusing the rest.
REFUSAL_THRESHOLD = 0.27
# How far below the most relevant sentence an answering sentence may be; calibrated with
# the threshold.
RELEVANCE_MARGIN = 0.10
MAX_SENTENCES = 3
# A second or third sentence must score close to the best one to be worth reading.
FOLLOW_MARGIN = 0.12
# What a passage from the time the question asks about (rag.retrieve.question_time.
# time_fit) gains over one from another time: more than two versions of one sentence
# differ by, far less than a sentence on another subject. Set on the fit half of
# `python -m bench.dated`.
TIME_WEIGHT = 0.05

STOPWORDS = stopwords("answer")
QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())
_ALIASES_BY_STEM = {stem(name): aliases for name, aliases in ALIASES.items()}
_WORD = re.compile(rf"{LETTER}(?:{LETTER}|['’\-])*|\d[\d,.]*")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
# Footnote markers an article carries ("officials said.[2]"): in an answer they would read
# as citations of ours that do not exist.
_FOOTNOTE = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_WHY = re.compile(
    r"\b(?:because|due to|after|following|as a result|in order to|so that|since|to protect|"
    r"blamed|for failing|reason|moot|decision|decided)\b", re.IGNORECASE)


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text)
            if w.lower() not in STOPWORDS and w.lower() not in QUESTION_WORDS and len(w) > 1}


def key_entities(question: str) -> list[tuple[str, str]]:
    """Names and numbers the question hinges on, as (stem, word), a number's stem without
    thousands separators: if none of the passages mention one, the sources cannot be about
    what was asked."""
    keys = []
    # "U.S." is the word "US" (so not the names "U" and "S").
    for sentence in _SENTENCE_BREAK.split(undotted(question)):
        words = _WORD.findall(sentence)
        # A sentence's first word is capitalised whatever it is: it is a name only if it
        # is not a word English writes in lower case ("Roughly how big…", "Besides
        # Moscow…", "Due to what…", "Lots of…": `lower_case_words`, from Punkt's data).
        if words and (words[0].lower() in STOPWORDS or words[0].lower().endswith("ly")
                      or words[0].lower() in lower_case_words()):
            words = words[1:]
        keys += [w.rstrip(".,") for w in words
                 if (w[0].isupper() and w.lower() not in NOT_NAMES) or w[0].isdigit()]
    return [(_key_form(w), w) for w in keys]


def shown_quote(quote: str) -> str:
    """A quote as the answer text shows it; the citation keeps it verbatim."""
    return _FOOTNOTE.sub("", quote).strip()


def _key_form(word: str) -> str:
    # "2000" in a question is the article's "2,000" (only numbers hold commas here).
    return stem(word).replace(",", "")


class Extraction(NamedTuple):
    text: str  # the answer with [n] markers, or the refusal
    citations: list[Citation]
    refused: bool
    reason: str | None  # why it refused, for the reader


class Quoted(Protocol):
    passage_index: int
    start: int  # document offsets
    end: int
    text: str


def quoted_answer(chosen: Sequence[Quoted], passages: Sequence[Passage]) -> Extraction:
    """The chosen sentences quoted in order, each cited by its exact span."""
    citations: list[Citation] = []
    parts: list[str] = []
    for marker, sentence in enumerate(chosen, start=1):
        passage = passages[sentence.passage_index]
        citations.append(passage.cite(sentence.start, sentence.end, marker))
        parts.append(f"{shown_quote(sentence.text)} [{marker}]")
    return Extraction(" ".join(parts), citations, False, None)


@dataclass
class ScoredSentence:
    passage_index: int
    start: int
    end: int
    text: str
    score: float
    similarity: float
    relevance: float  # the score without the bonus for holding the kind of answer asked for
    # Why the sentence does not supply what the question asks for (rag.answer.fillers);
    # empty when it does.
    gaps: list[str]


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, *, threshold: float = REFUSAL_THRESHOLD,
                 margin: float = RELEVANCE_MARGIN) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.margin = margin
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def score_sentences(self, question: str, passages: Sequence[Passage]) -> list[ScoredSentence]:
        question = event_topic(question, any(p.time_fit is not None for p in passages))
        candidates: list[tuple[int, int, int, str, str]] = []
        seen: set[tuple[str, int, int]] = set()
        for index, passage in enumerate(passages):
            spans = passage.sentences or [(passage.start, passage.end)]
            for position, (start, end) in enumerate(spans):
                key = (passage.doc_id, start, end)
                if key in seen:
                    continue
                seen.add(key)
                text = passage.text[start - passage.start : end - passage.start]
                # The sentences either side: where a quote's speaker is usually named.
                around = passage.text[spans[max(0, position - 1)][0] - passage.start:
                                      spans[min(len(spans) - 1, position + 1)][1]
                                      - passage.start]
                if text.strip():
                    candidates.append((index, start, end, text, around))
        if not candidates:
            return []
        vectors = self.vectors([c[3] for c in candidates])
        similarities = vectors @ self.embedder.embed_query(question)
        slot = read_question(question)
        terms = content_terms(question)
        # Retrieval's reading when it dated an event the question names; else the text's.
        read = [p.time_fit for p in passages]
        fit = [f for f in read if f is not None]
        if len(fit) < len(passages):
            fit = time_fit(question, [published_ts(p.published_at) for p in passages])
        best_fit = max(fit, default=0.0)
        scored = []
        for (index, start, end, text, around), similarity in zip(candidates, similarities,
                                                                 strict=True):
            coverage = len(terms & content_terms(text)) / len(terms) if terms else 0.0
            missing = gaps(slot, text, around)
            # Holding the kind of thing asked for: a filler for the slot, or for a "why",
            # words that give a reason (a reason has no shape to check).
            fits = (not missing and slot.kind not in {"why", "what", "yesno"}) or (
                slot.kind == "why" and _WHY.search(text) is not None)
            # Rank in retrieval is weak evidence; it breaks ties between equal sentences.
            prior = 0.02 * (len(passages) - index) / max(len(passages), 1)
            # Of two versions of a report, the one from the time asked about; only ever a
            # loss against a better-timed passage, so refusing is not made any rarer.
            relevance = 0.6 * float(similarity) + 0.3 * coverage + prior \
                + TIME_WEIGHT * (fit[index] - best_fit)
            scored.append(ScoredSentence(index, start, end, text, relevance + 0.1 * fits,
                                         float(similarity), relevance, missing))
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def answer(self, question: str, passages: Sequence[Passage]) -> Extraction:
        question = event_topic(question, any(p.time_fit is not None for p in passages))
        scored = self.score_sentences(question, passages)
        if not scored:
            return Extraction(REFUSAL, [], True, "nothing was retrieved")
        missing_key = self._missing_key(question, passages)
        if missing_key:
            return Extraction(REFUSAL, [], True, f"no passage mentions {missing_key}")
        # The sentences most about the question are where its answer would be; when they
        # lack it, a filler of the right type in a less relevant sentence (a date in
        # another paragraph) is a coincidence, not an answer.
        most_relevant = max(s.relevance for s in scored)
        answering = [s for s in scored[:12]
                     if self.answerability(question, s) >= self.threshold
                     and s.relevance >= most_relevant - self.margin]
        if not answering:
            closest = max(scored, key=lambda s: s.relevance)
            why = ("; ".join(closest.gaps) if closest.gaps
                   else "nothing retrieved is close enough to the question")
            return Extraction(REFUSAL, [], True, f"the closest sentence {why}"
                              if closest.gaps else why)
        best = answering[0]
        chosen = [best]
        for candidate in answering[1:]:
            if len(chosen) == MAX_SENTENCES or candidate.score < best.score - FOLLOW_MARGIN:
                break
            if any(_overlaps(candidate, c, passages) for c in chosen):
                continue
            chosen.append(candidate)
        return quoted_answer(chosen, passages)

    def answerability(self, question: str, sentence: ScoredSentence) -> float:
        return 0.0 if sentence.gaps else sentence.score

    def _missing_key(self, question: str, passages: Sequence[Passage]) -> str | None:
        """A name or number the question hinges on that no passage mentions, if any."""
        keys = key_entities(without_publication_dates(question, passages))
        if not keys:
            return None
        seen = set()
        initials: set[str] = set()
        for passage in passages:
            # "U.S." is the word "US" there too.
            seen |= {_key_form(w.rstrip(".,")) for w in _WORD.findall(undotted(passage.text))}
            seen |= content_terms(f"{passage.title} {passage.source}")
            if any(word.isupper() for _, word in keys):
                initials |= analyse_text(passage.text).words
        for key, word in keys:
            if not _mentioned(key, seen) and not any(
                    _mentioned(alias, seen) for alias in _ALIASES_BY_STEM.get(key, ())) \
                    and not (word.isupper() and word.lower() in initials):
                # (an acronym is also spelt out: "US" is in "the United States")
                return word
        return None

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, cached: scoring already embedded every candidate."""
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


def without_publication_dates(question: str, passages: Sequence[Passage]) -> str:
    """The question with its dates blanked where one fits a passage's publication date:
    "On October 8, 2023, …", "Before November 11, …" or "Last week, …" says which report
    is meant (the retriever ranks by it), not words the report must contain."""
    published = [published_ts(p.published_at) for p in passages]
    for mention in find_times(question):
        # A period ("Last week, …") is never a name, whatever its capital.
        if isinstance(mention, PeriodMention) or any(
                mention.score(ts) > 0 for ts in published if ts is not None):
            question = (question[:mention.start] + " " * (mention.end - mention.start)
                        + question[mention.end:])
    return question


def _mentioned(key: str, seen: set[str]) -> bool:
    return key in seen or _prefix_match(key, seen)


def _prefix_match(key: str, seen: set[str]) -> bool:
    # "Azerbaijani" and "Azerbaijan", "Armenians" and "Armenia" name the same thing;
    # 100000 and 1000000 do not.
    return len(key) >= 5 and not key[0].isdigit() and any(
        w.startswith(key[:5]) and abs(len(w) - len(key)) <= 3 for w in seen)


def _overlaps(a: ScoredSentence, b: ScoredSentence, passages: Sequence[Passage]) -> bool:
    same_doc = passages[a.passage_index].doc_id == passages[b.passage_index].doc_id
    return same_doc and a.start < b.end and b.start < a.end
