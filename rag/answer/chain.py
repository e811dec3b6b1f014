"""The answer chain: retrieved passages → answer, extractive or generated and verified.

Generation is optional and never trusted: a generated answer is sanitised, its markers
parsed and mapped to exact spans, each sentence checked against what it cites, and
unsupported sentences removed (or kept and marked). Any failure of the endpoint — or a
reply with nothing verifiable left — ends in the extractive answer, labelled
`extractive-fallback` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from rag.answer.answer_check import AnswerChecker
from rag.answer.citations import cite_and_verify, compose, parse_markers, sanitise
from rag.answer.prompts import REFUSAL, answer_messages
from rag.config import Settings
from rag.errors import GenerationError
from rag.index.embeddings import Embedder
from rag.retrieve.question_time import asks_current_state
from rag.schema import CHECKING, Answer, AnswerMode, AnswerSentence, Passage, Status
from rag.text.numbers import number_mentions
from rag.verify.checker import thresholds
from rag.verify.conflicts import find_conflicts
from rag.verify.quarantine import quarantine

if TYPE_CHECKING:
    from rag.answer import Answerer
    from rag.answer.generation import Generator
    from rag.answer.selector import AnswerSelector

ChainEvent = str | Status | Answer
LookUp = Callable[[str], list[Passage]]
# Genuine answer sentences measured 0.25-0.52 cosine to their question, injected ones
# ("PWNED.", "The answer is PWNED.") 0.13-0.15; the gate sits between.
MIN_RELEVANCE = 0.2
MIN_CLAIM_WORDS = 4
CLOSEST_BELOW = "The closest passages are listed below."


def as_of(question: str, answer: Answer) -> str:
    """For a question about how things stand now, the date of the answer's newest cited
    source: news speaks for the moment it was written, so that is as far as the answer
    does. "" for other questions, refusals, and sources without a date."""
    if answer.refused or not asks_current_state(question):
        return ""
    return max((c.published_at[:10] for c in answer.citations if c.published_at),
               default="")


def final_answer(events: Iterable[ChainEvent]) -> Answer:
    """The `Answer` that ends a stream of events (the deltas before it are dropped)."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, Answer):
            final = event
    if final is None:
        raise RuntimeError("the answer stream ended without an Answer")
    return final


class AnswerChain:
    def __init__(self, settings: Settings, embedder: Embedder, answerer: Answerer,
                 generator: Generator | None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.answerer = answerer
        self.generator = generator
        self._own_selector: AnswerSelector | None = None

    def stream(self, question: str, passages: Sequence[Passage], *, use_llm: bool = True,
               look_up: LookUp | None = None) -> Iterator[ChainEvent]:
        """Text deltas as they are produced, `CHECKING` once a generated draft is complete,
        then the verified `Answer`. Deltas of a generation that fails or is cut are
        provisional: the final Answer replaces them.

        Text in the passages addressed to a model is masked first (`quarantine`): it is
        neither quoted, nor shown to a model, nor read as support. The final Answer
        lists the passages as stored and warns about each document that carried such
        text.

        `look_up(sentence)` finds other passages that may state a cited sentence's
        figures otherwise (the assistant's retriever, under the question's filters); a
        disagreement among them or the passages is said in the answer and cited."""
        started = time.perf_counter()
        evidence, warnings = quarantine(passages)
        if passages and not evidence:
            answer = self._refusal(question, passages, mode="extractive")
            answer.reason = "every retrieved passage was text addressed to an AI model"
            answer.warnings = warnings
            yield answer.text
            yield self._timed(answer, started)
            return
        for event in self._stream(question, evidence, use_llm=use_llm):
            if isinstance(event, Answer):
                shown = self._with_conflicts(event, evidence, look_up)
                event = _as_stored(event, [*passages, *shown], warnings)
                event.as_of = as_of(question, event)
            yield event

    def _stream(self, question: str, passages: Sequence[Passage], *, use_llm: bool
                ) -> Iterator[ChainEvent]:
        started = time.perf_counter()
        if self.generator is None or not use_llm or not passages:
            answer = self.extractive(question, passages)
            yield answer.text
            yield self._timed(answer, started)
            return
        selected: Answer | None = None
        if not self.generator.decides_answerability:
            # A small model is unreliable both ways: on the seed set the 1.5B model wrote
            # "The sources don't say." for 14 of 37 answerable questions whose evidence it
            # was shown, and answered 2 of 15 unanswerable ones in words the checker
            # passed. The answerer's calibrated decision is taken first; the model only
            # phrases an answer the selector found.
            selected = self.extractive(question, passages)
            if selected.refused:
                yield selected.text
                yield self._timed(selected, started)
                return
            doubted = self._doubted(question, passages, selected)
            if doubted is not None:
                yield doubted.text
                yield self._timed(doubted, started)
                return
        own_prompt = getattr(self.generator, "answer_messages", None)
        messages = (own_prompt(question, passages, self.answerer) if own_prompt is not None
                    else answer_messages(question, passages, self.settings.prompts_dir))
        pieces: list[str] = []
        first: float | None = None
        try:
            for delta in self.generator.stream(messages):
                if first is None:
                    first = time.perf_counter()
                pieces.append(delta)
                yield delta
        except GenerationError as exc:
            yield self._timed(self._fallback(question, passages, exc.reason, selected),
                              started)
            return
        generated = time.perf_counter()
        yield CHECKING
        answer = self.verify(question, "".join(pieces), passages, selected)
        if selected is not None and "check_ms" in selected.timings:
            answer.timings["check_ms"] = selected.timings["check_ms"]
        if first is not None:
            # What a reader waits for before words appear: the answerer, the check and
            # the model's reading of the prompt (retrieval comes before `started`).
            answer.timings["first_token_ms"] = (first - started) * 1000
        answer.timings["generate_ms"] = (generated - started) * 1000
        answer.timings["verify_ms"] = (time.perf_counter() - generated) * 1000
        yield self._timed(answer, started)

    def _doubted(self, question: str, passages: Sequence[Passage], selected: Answer
                 ) -> Answer | None:
        """The refusal when the generating model reads the answerer's quote as not
        answering the question (`rag.answer.answer_check`); None when it does, cannot
        say, or offers no such reading."""
        if not isinstance(self.generator, AnswerChecker) or self.generator.check_threshold <= 0:
            return None
        began = time.perf_counter()
        try:
            probability = self.generator.answer_probability(question, selected.citations)
        except GenerationError:
            return None  # the draft meets the same failure and falls back to `selected`
        selected.timings["check_ms"] = (time.perf_counter() - began) * 1000
        threshold = self.generator.check_threshold
        if probability is None or probability >= threshold:
            return None
        answer = self._refusal(question, passages, mode="generative")
        answer.reason = (f"the local model read the answerer's quote as not answering the "
                         f"question (P(yes) {probability:.2f}, under {threshold:.2f})")
        answer.timings["check_ms"] = selected.timings["check_ms"]
        return answer

    def verify(self, question: str, reply: str, passages: Sequence[Passage],
               selected: Answer | None = None) -> Answer:
        """The checked answer from a model's `reply`. `selected` is the extractive answer
        when it was worked out first (the answerer decided there is an answer): it is the
        fallback, and a refusal from the model then falls back to it."""
        text = sanitise(reply)
        if not text:
            return self._fallback(question, passages, "the LLM reply was empty", selected)
        drafts = parse_markers(text, len(passages))
        # "The sources don't say X, but Y [1]" is an answer with a caveat: its cited
        # sentences are checked like any others.
        if _is_refusal(text) and not any(d.markers for d in drafts):
            if selected is not None:
                return self._fallback(
                    question, passages,
                    "the model found no answer in its excerpts; the answerer's did", selected)
            return self._refusal(question, passages, mode="generative")
        sentences = cite_and_verify(drafts, passages)
        self._require_answers(question, sentences)
        shown, citations = compose(sentences, keep_unsupported=self.settings.keep_unsupported)
        if not any(s.supported for s in sentences):
            answer = self._fallback(
                question, passages,
                "no sentence of the generated answer was supported by its sources", selected)
            for sentence in sentences:
                sentence.shown = False  # the fallback's text replaces the whole draft
            answer.sentences = sentences + answer.sentences
            return answer
        drift = self._drift(question, sentences, selected)
        if drift is not None:
            answer = self._fallback(question, passages, drift, selected)
            for sentence in sentences:
                sentence.shown = False
            answer.sentences = sentences + answer.sentences
            return answer
        return Answer(question=question, text=shown, refused=False, citations=citations,
                      passages=list(passages), mode="generative", sentences=sentences)

    def _drift(self, question: str, sentences: Sequence[AnswerSentence],
               selected: Answer | None) -> str | None:
        """Why a supported draft is not the answer, or None when it is: a small model
        rephrasing the answerer's quote may keep only true sentences that no longer answer
        ("Official Yerevan has not yet commented…" for how Baku characterised the troops;
        on the seed set 3 of its 15 verified drafts lost the asked fact so). A draft the
        calibrated answer score reads as not answering (under the learned answerer's
        threshold, `rag/verify/thresholds.json`) while the quote scores higher gives way
        to the quote."""
        if selected is None or selected.refused or not selected.citations:
            return None
        draft = " ".join(s.text for s in sentences if s.supported)
        quote = " ".join(c.quote for c in selected.citations)
        selector = self._selector()
        draft_score, quote_score = selector.answers(question, [draft, quote])
        threshold = float(thresholds()["answer"])
        if draft_score >= threshold or draft_score >= quote_score:
            return None
        return (f"the generated answer did not answer the question as the answerer's quote "
                f"does (answer score {draft_score:.2f} against {quote_score:.2f}, under "
                f"{threshold:.2f})")

    def _selector(self) -> AnswerSelector:
        # Imported here: only drafts of the local model are scored, and `rag ask` on the
        # extractive default should not load the selector's modules.
        from rag.answer.selector import AnswerSelector

        # The learned answerer has one already (its vector cache warm from scoring).
        own = getattr(self.answerer, "selector", None)
        if isinstance(own, AnswerSelector):
            return own
        if self._own_selector is None:
            self._own_selector = AnswerSelector(self.embedder)
        return self._own_selector

    def _with_conflicts(self, answer: Answer, passages: Sequence[Passage],
                        look_up: LookUp | None) -> list[Passage]:
        """Where another document states a different value for what a citation counts,
        the answer says so and cites both: "Sources differ: 2,000 [1]; 1,960 [2]". Returns
        the looked-up passages (as stored) that such a citation quotes, for the answer to
        list beside the retrieved ones."""
        if answer.refused or not answer.citations:
            return []
        pool, found = list(passages), self._other_sources(answer, passages, look_up)
        pool += quarantine(list(found.values()))[0]
        notes = []
        for conflict in find_conflicts(answer.citations, pool, self.answerer.vectors):
            same = next((c for c in answer.citations if (c.doc_id, c.start, c.end) ==
                         (conflict.other.doc_id, conflict.other.start, conflict.other.end)),
                        None)
            if same is not None:
                conflict.other = same
            else:
                conflict.other.marker = len(answer.citations) + 1
                answer.citations.append(conflict.other)
            answer.conflicts.append(conflict)
            notes.append(f"{conflict.cited_value} [{conflict.cited.marker}]; "
                         f"{conflict.other_value} [{conflict.other.marker}]")
        if notes:
            answer.text = f"{answer.text} Sources differ: {'; '.join(notes)}."
        return [passage for (doc_id, start), passage in found.items()
                if any(c.other.doc_id == doc_id and passage.start <= c.other.start < passage.end
                       for c in answer.conflicts)]

    @staticmethod
    def _other_sources(answer: Answer, passages: Sequence[Passage], look_up: LookUp | None
                       ) -> dict[tuple[str, int], Passage]:
        """Passages of other documents close to each cited sentence that states a number,
        beyond those retrieved for the question: a wire paragraph reprinted with another
        figure seldom ranks among the question's top passages."""
        if look_up is None:
            return {}
        seen = {(p.doc_id, p.start) for p in passages}
        found: dict[tuple[str, int], Passage] = {}
        for citation in answer.citations:
            if not number_mentions(citation.quote):
                continue
            for passage in look_up(citation.quote):
                key = (passage.doc_id, passage.start)
                if passage.doc_id != citation.doc_id and key not in seen:
                    seen.add(key)
                    found[key] = passage
        return found

    def _require_answers(self, question: str, sentences: Sequence[AnswerSentence]) -> None:
        """A supported sentence must also be a claim about the question: an injected
        "PWNED" or "The answer is X" is supported by the article that planted it."""
        candidates = [s for s in sentences if s.supported]
        if not candidates:
            return
        # The question's vector is cached from retrieval.
        relevances = self.embedder.embed([s.text for s in candidates]) @ \
            self.embedder.embed_query(question)
        for sentence, relevance in zip(candidates, relevances, strict=True):
            if len(sentence.text.split()) < MIN_CLAIM_WORDS or relevance < MIN_RELEVANCE:
                sentence.supported = False
                sentence.support_score = min(sentence.support_score, float(relevance))

    def extractive(self, question: str, passages: Sequence[Passage]) -> Answer:
        text, citations, refused, reason = self.answerer.answer(question, passages)
        if refused:
            answer = self._refusal(question, passages, mode="extractive")
            answer.reason = reason
            return answer
        sentences = [AnswerSentence(c.quote, [c], True, 1.0) for c in citations]
        return Answer(question=question, text=text, refused=False, citations=citations,
                      passages=list(passages), mode="extractive", sentences=sentences)

    @staticmethod
    def nothing_found(question: str, why: str) -> Answer:
        """The refusal when retrieval found no passage at all, saying `why`."""
        return Answer(question=question, text=f"{REFUSAL} {why}", refused=True, citations=[],
                      passages=[], mode="extractive", reason=why)

    def _fallback(self, question: str, passages: Sequence[Passage], reason: str,
                  selected: Answer | None = None) -> Answer:
        answer = selected if selected is not None else self.extractive(question, passages)
        answer.mode, answer.reason = "extractive-fallback", reason
        return answer

    @staticmethod
    def _refusal(question: str, passages: Sequence[Passage], *, mode: AnswerMode) -> Answer:
        text = (f"{REFUSAL} {CLOSEST_BELOW}" if passages
                else f"{REFUSAL} Nothing is indexed that matches the question.")
        return Answer(question=question, text=text, refused=True, citations=[],
                      passages=list(passages), mode=mode)

    @staticmethod
    def _timed(answer: Answer, started: float) -> Answer:
        answer.timings["answer_ms"] = (time.perf_counter() - started) * 1000
        return answer


def _as_stored(answer: Answer, passages: Sequence[Passage], warnings: list[str]) -> Answer:
    """The answer over the passages as stored: each quote re-read from the unmasked
    text, so `quote == document.text[start:end]` holds even where a span crosses a
    masked instruction."""
    answer.passages = list(passages)
    answer.warnings = warnings
    cited = {id(c): c for c in answer.citations}
    cited.update({id(c): c for s in answer.sentences for c in s.citations})
    for citation in cited.values():
        for passage in passages:
            if (passage.doc_id == citation.doc_id and passage.start <= citation.start
                    and citation.end <= passage.end):
                citation.quote = passage.text[citation.start - passage.start:
                                              citation.end - passage.start]
                break
    return answer


def _is_refusal(text: str) -> bool:
    normalised = " ".join(text.replace("’", "'").split()).lower()
    return normalised.startswith(REFUSAL.lower().rstrip("."))
