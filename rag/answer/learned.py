"""The learned offline answerer (`RAG_ANSWERER=learned`): quote the retrieved sentences
that answer the question, cite them by exact span, or refuse. Not the default: on the seed
gold sets it answers far fewer questions right than the rule answerer (`rag.answer.extractive`;
figures in the README, "Known limits").

The answer leads with the sentence the selector (`rag.answer.selector`) finds most
likely to answer; a second is kept only when it answers too and adds a fact (it is not the
same sentence again from another copy, nor a near-paraphrase of the first). Under the
refusal threshold, chosen on development data (`rag/verify/thresholds.json`,
`evals/calibrate_learned.py`), the question is refused with the closest passages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.answer.extractive import Extraction, quoted_answer
from rag.answer.prompts import REFUSAL
from rag.answer.selector import AnswerSelector, ScoredSentence
from rag.index.embeddings import Embedder
from rag.schema import Passage
from rag.verify.checker import thresholds
from rag.verify.cross_encoder import CrossEncoder

MAX_SENTENCES = 2
# Two sentences this close in meaning say the same thing: the second adds nothing.
SAME_FACT_COSINE = 0.9


class LearnedAnswerer:
    def __init__(self, embedder: Embedder, *, threshold: float | None = None,
                 model: CrossEncoder | None = None) -> None:
        self.embedder = embedder
        self.selector = AnswerSelector(embedder, model)
        self.threshold = float(thresholds()["answer"]) if threshold is None else threshold

    def score_sentences(self, question: str, passages: Sequence[Passage]
                        ) -> list[ScoredSentence]:
        return self.selector.score(question, passages)

    def vectors(self, texts: list[str]) -> np.ndarray:
        return self.selector.vectors(texts)

    def answer(self, question: str, passages: Sequence[Passage]) -> Extraction:
        scored = self.score_sentences(question, passages)
        if not scored:
            return Extraction(REFUSAL, [], True, "nothing was retrieved")
        best = scored[0]
        if best.score < self.threshold:
            return Extraction(
                REFUSAL, [], True,
                f"no retrieved sentence states the answer (the closest scores "
                f"{best.score:.2f}, under the {self.threshold:.2f} needed)")
        chosen = [best]
        for candidate in scored[1:]:
            if len(chosen) == MAX_SENTENCES or candidate.score < self.threshold:
                break
            if not any(self._same_fact(candidate, c, passages) for c in chosen):
                chosen.append(candidate)
        return quoted_answer(chosen, passages)

    def _same_fact(self, a: ScoredSentence, b: ScoredSentence,
                   passages: Sequence[Passage]) -> bool:
        same_doc = passages[a.passage_index].doc_id == passages[b.passage_index].doc_id
        if same_doc and a.start < b.end and b.start < a.end:
            return True
        if " ".join(a.text.split()) == " ".join(b.text.split()):
            return True
        va, vb = self.selector.vectors([a.text, b.text])
        return float(np.dot(va, vb)) >= SAME_FACT_COSINE
