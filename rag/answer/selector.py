"""Which retrieved sentences answer the question, and whether any does.

A calibrated (question, sentence) probability. Its main signal is the project's
cross-encoder (`rag.verify.cross_encoder`, task `answer`), trained on news questions with
their answering sentences and on unanswerable ones made by swapping the question's key
entity, time or number. A logistic stack, fitted on development questions by
`evals/calibrate_learned.py` (weights in `rag/verify/thresholds.json`), weighs its logit with the
sentence's embedding cosine to the question and how many of the question's names its
passage never mentions (a question about someone the article does not name is not
answered by it). The cosine also chooses which sentences the cross-encoder reads (the
`MAX_SCORED` closest), since reading every sentence of every passage would cost more than
the rest of the answer.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.index.embeddings import Embedder
from rag.schema import Passage
from rag.text.analysis import analyse
from rag.verify.checker import missing_names, thresholds
from rag.verify.cross_encoder import TASKS, CrossEncoder, default_cross_encoder

# The cross-encoder reads this many sentences per question; the rest are too far from
# the question in embedding space to be its answer (measured on the development sets:
# bench/selection.py).
MAX_SCORED = 12
_CACHE_SIZE = 4096
FEATURES = ("logit", "similarity", "names")
NAMES_CAP = 3


def stacked(features: dict[str, float]) -> float:
    stack = thresholds()["answer_stack"]
    z = float(stack["bias"]) + sum(float(stack[k]) * features[k] for k in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


@dataclass
class ScoredSentence:
    passage_index: int
    start: int  # document offsets
    end: int
    text: str
    score: float  # P(the sentence states the answer), calibrated
    similarity: float  # embedding cosine to the question
    features: dict[str, float]


class AnswerSelector:
    def __init__(self, embedder: Embedder, model: CrossEncoder | None = None) -> None:
        self.embedder = embedder
        self._model = model
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model(self) -> CrossEncoder:
        if self._model is None:
            self._model = default_cross_encoder()
        return self._model

    def score(self, question: str, passages: Sequence[Passage]) -> list[ScoredSentence]:
        """The retrieved sentences most likely to answer, best first."""
        candidates: list[tuple[int, int, int, str]] = []
        seen: set[tuple[str, int, int]] = set()
        for index, passage in enumerate(passages):
            for start, end in passage.sentences or [(passage.start, passage.end)]:
                key = (passage.doc_id, start, end)
                text = passage.text[start - passage.start : end - passage.start]
                if key in seen or not text.strip():
                    continue
                seen.add(key)
                candidates.append((index, start, end, text))
        if not candidates:
            return []
        similarities = self.vectors([c[3] for c in candidates]) @ \
            self.embedder.embed_query(question)
        # Ties keep retrieval order: earlier passages first.
        closest = sorted(range(len(candidates)), key=lambda i: -float(similarities[i]))
        closest = closest[:MAX_SCORED]
        logits = self.model.logits([(question, candidates[i][3]) for i in closest])
        asked = analyse(question)
        names = [min(missing_names(asked, analyse(f"{p.title}\n{p.source}\n{p.text}")),
                     NAMES_CAP) for p in passages]
        scored = []
        for i, logit in zip(closest, logits[:, TASKS.index("answer")], strict=True):
            features = {"logit": float(logit), "similarity": float(similarities[i]),
                        "names": float(names[candidates[i][0]])}
            scored.append(ScoredSentence(*candidates[i], stacked(features),
                                         float(similarities[i]), features))
        scored.sort(key=lambda s: (-s.score, s.passage_index, s.start))
        return scored

    def answers(self, question: str, texts: Sequence[str]) -> list[float]:
        """The calibrated P(answers the question) of whole answers, each read as one
        sentence would be: how a generated draft and the quote it rephrases compare. The
        question's names count against an answer that leaves them all out."""
        if not texts:
            return []
        logits = self.model.logits([(question, text) for text in texts])
        similarities = self.vectors(list(texts)) @ self.embedder.embed_query(question)
        asked = analyse(question)
        return [stacked({"logit": float(logit), "similarity": float(similarity),
                         "names": float(min(missing_names(asked, analyse(text)), NAMES_CAP))})
                for text, logit, similarity in zip(texts, logits[:, TASKS.index("answer")],
                                                   similarities, strict=True)]

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, cached: scoring already embedded every candidate."""
        with self._lock:
            found = {t: self._vectors[t] for t in dict.fromkeys(texts) if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.embedder.embed(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._vectors[text] = found[text]
                while len(self._vectors) > _CACHE_SIZE:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])
