"""Pure metric functions behind `rag eval`: retrieval, answer correctness, citations,
faithfulness, quote exactness, refusals and latency.

Nothing here touches the store or the model except through the `check` callable the
citation metrics take (by default `rag.verify.checker.check_support`, the product's
verifier), so every function can be tested on hand-made `Answer`s.

Conventions:

- A span is `(doc_id, start, end)` in document character offsets; two spans overlap when
  they share at least one character of the same document.
- A rate over an empty population is `None`, not 0 or 1: "no citations" must not read as
  "every citation exact", and a threshold on an undefined metric is a failure.

Citation metrics follow ALCE (Gao et al., 2023, "Enabling Large Language Models to
Generate Text with Citations"), with the cited *quotes* standing in for ALCE's cited
passages, since a quote is what this system shows the reader as proof:

- citation recall of a sentence is 1 when the concatenation of its cited quotes supports
  it, else 0 (an uncited sentence scores 0);
- a citation is *irrelevant* when the sentence is supported jointly but the citation
  neither supports it alone nor is missed when dropped (the others still support it).
  As in ALCE, every citation of a sentence the joint quotes do not support counts as
  irrelevant too: it was offered as proof and failed. Citation precision is the share of
  citations that are relevant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.schema import Answer, Citation, Passage, SupportVerdict
from rag.verify.checker import check_support

Span = tuple[str, int, int]
SupportCheck = Callable[[str, Sequence[str]], SupportVerdict]

# One group of adjacent markers: "[1]", "[1][2]", "[1, 3]", "[2] [4]".
MARKER_GROUP = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_MARKER_NUMBER = re.compile(r"\d+")
# What is left between a marker group and the next sentence: "[1]. Next" leaves ". ".
_LEADING_JUNK = re.compile(r"^[\s.,;:!?)\]]+")

HIT_KS = (1, 3, 5)
LATENCY_PERCENTILES = (50, 90, 95, 99)


# --- small aggregates ------------------------------------------------------------------


def mean(values: Iterable[float | bool]) -> float | None:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else None


def rate(flags: Iterable[bool]) -> float | None:
    return mean(flags)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, q in [0, 100]; None without values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def latency_summary(values_ms: Sequence[float], prefix: str = "latency",
                    qs: Sequence[int] = LATENCY_PERCENTILES) -> dict[str, float | None]:
    """`{prefix}_p50_ms`, …, `{prefix}_mean_ms`, `{prefix}_max_ms` for the given samples."""
    out: dict[str, float | None] = {
        f"{prefix}_p{q}_ms": percentile(values_ms, q) for q in qs
    }
    out[f"{prefix}_mean_ms"] = mean(values_ms)
    out[f"{prefix}_max_ms"] = max(values_ms) if values_ms else None
    return out


# --- retrieval -------------------------------------------------------------------------


def locate_evidence(evidence: Sequence[str], document_texts: Mapping[str, str]
                    ) -> list[list[Span]]:
    """Every occurrence of each evidence string in every document.

    A gold evidence string names no document, and a corpus may hold the same sentence
    twice (syndicated news), so all occurrences count.
    """
    located: list[list[Span]] = []
    for snippet in evidence:
        spans: list[Span] = []
        if snippet:
            for doc_id, text in document_texts.items():
                at = text.find(snippet)
                while at != -1:
                    spans.append((doc_id, at, at + len(snippet)))
                    at = text.find(snippet, at + 1)
        located.append(spans)
    return located


def overlaps(doc_id: str, start: int, end: int, spans: Iterable[Span]) -> bool:
    return any(d == doc_id and start < e and s < end for d, s, e in spans)


def passage_relevance(passages: Sequence[Passage], evidence_spans: Sequence[Sequence[Span]]
                      ) -> list[bool]:
    """Per retrieved passage, in rank order: does it overlap any evidence span?"""
    every = [span for spans in evidence_spans for span in spans]
    return [overlaps(p.doc_id, p.start, p.end, every) for p in passages]


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    for rank, flag in enumerate(relevant, start=1):
        if flag:
            return 1.0 / rank
    return 0.0


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    for rank, flag in enumerate(relevant, start=1):
        if flag:
            return rank
    return None


def evidence_recall(passages: Sequence[Passage], evidence_spans: Sequence[Sequence[Span]]
                    ) -> float | None:
    """Share of evidence strings that some retrieved passage overlaps.

    An evidence string found in no document counts as missed: the gold set and the
    corpus disagree, and hiding that would flatter retrieval.
    """
    if not evidence_spans:
        return None
    found = [any(overlaps(p.doc_id, p.start, p.end, spans) for p in passages)
             for spans in evidence_spans]
    return sum(found) / len(found)


# --- answer correctness --------------------------------------------------------------


def facts_found(answer_text: str, required_facts: Sequence[str]) -> list[bool]:
    """Per required fact: is it a case-insensitive substring of the answer (as `judge`)."""
    lowered = answer_text.lower()
    return [fact.lower() in lowered for fact in required_facts]


def fact_recall(answer_text: str, required_facts: Sequence[str]) -> float | None:
    found = facts_found(answer_text, required_facts)
    return sum(found) / len(found) if found else None


# --- answer sentences ------------------------------------------------------------------


@dataclass
class ClaimSentence:
    """One answer sentence and the citations it points at."""

    text: str
    markers: list[int]
    citations: list[Citation]
    # Markers in the text with no matching `Citation`: a broken reference.
    dangling: list[int] = field(default_factory=list)


def strip_markers(text: str) -> str:
    return re.sub(r"\s+", " ", MARKER_GROUP.sub("", text)).strip()


def answer_sentences(answer: Answer) -> list[ClaimSentence]:
    """The answer's claims, as the reader sees them: the shown `answer.sentences` when the
    answerer produced them (a dropped draft sentence is measured by
    `dropped_sentence_rate`, not here), else the text split at marker groups (the text
    before each group is a sentence citing it).

    A refusal makes no claims, so it has no sentences.
    """
    if answer.refused:
        return []
    by_marker = {c.marker: c for c in answer.citations}
    if answer.sentences:
        out = []
        for sentence in (s for s in answer.sentences if s.shown):
            markers = list(dict.fromkeys(c.marker for c in sentence.citations))
            text = strip_markers(sentence.text)
            if text:
                out.append(ClaimSentence(text, markers, _unique(sentence.citations)))
        return out
    sentences: list[ClaimSentence] = []
    position = 0
    for group in MARKER_GROUP.finditer(answer.text):
        text = _clean(answer.text[position : group.start()])
        position = group.end()
        if not text:
            continue
        markers = list(dict.fromkeys(int(n) for n in _MARKER_NUMBER.findall(group.group())))
        cited = [by_marker[m] for m in markers if m in by_marker]
        dangling = [m for m in markers if m not in by_marker]
        sentences.append(ClaimSentence(text, markers, cited, dangling))
    tail = _clean(answer.text[position:])
    if tail:
        sentences.append(ClaimSentence(tail, [], []))
    return sentences


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _LEADING_JUNK.sub("", text)).strip()


def _unique(citations: Sequence[Citation]) -> list[Citation]:
    seen: dict[int, Citation] = {}
    for citation in citations:
        seen.setdefault(citation.marker, citation)
    return list(seen.values())


# --- citation recall / precision, faithfulness ------------------------------------------


@dataclass
class SentenceVerdict:
    """How one answer sentence fares against its own cited quotes."""

    text: str
    markers: list[int]
    supported: bool
    score: float
    evidence: str
    reasons: tuple[str, ...]
    # Per cited marker (in `markers` order, dangling ones included): relevant or not.
    relevant: dict[int, bool]
    dangling: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "citations": self.markers,
            "supported": self.supported,
            "score": round(self.score, 4),
            "evidence": self.evidence,
            "reasons": list(self.reasons),
            "relevant_citations": {str(m): r for m, r in self.relevant.items()},
            "dangling_markers": self.dangling,
        }


def judge_sentence(sentence: ClaimSentence, check: SupportCheck = check_support
                   ) -> SentenceVerdict:
    """ALCE recall and precision for one sentence (see the module docstring)."""
    quotes = [c.quote for c in sentence.citations]
    none_relevant = dict.fromkeys(sentence.markers, False)
    if not quotes or sentence.dangling:
        # A broken reference cannot back anything; the sentence fails as ALCE's
        # out-of-range citation does.
        reason = ("no citation for marker(s) " + ", ".join(map(str, sentence.dangling))
                  if sentence.dangling else "no citations")
        return SentenceVerdict(sentence.text, sentence.markers, False, 0.0, "", (reason,),
                               none_relevant, sentence.dangling)
    joint = check(sentence.text, [_join(quotes)])
    if not joint.supported:
        return SentenceVerdict(sentence.text, sentence.markers, False, joint.score,
                               joint.evidence, joint.reasons, none_relevant)
    relevant: dict[int, bool] = {}
    if len(quotes) == 1:
        relevant[sentence.citations[0].marker] = True
    else:
        for index, citation in enumerate(sentence.citations):
            if check(sentence.text, [citation.quote]).supported:
                relevant[citation.marker] = True
                continue
            others = quotes[:index] + quotes[index + 1 :]
            relevant[citation.marker] = not check(sentence.text, [_join(others)]).supported
    return SentenceVerdict(sentence.text, sentence.markers, True, joint.score, joint.evidence,
                           joint.reasons, relevant)


def _join(quotes: Sequence[str]) -> str:
    # One quote per line: the checker splits lines into separate sentences, so quotes
    # from different places never fuse into one sentence.
    return "\n".join(q.strip() for q in quotes)


def citation_recall(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """One answer's ALCE citation recall: share of its sentences supported by their quotes."""
    return rate(v.supported for v in verdicts)


def citation_precision(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """One answer's ALCE citation precision: share of its citations that are relevant."""
    return rate(flag for v in verdicts for flag in v.relevant.values())


def faithfulness(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """Share of sentences supported by their citations, pooled over whatever is passed.

    Per sentence this is the same judgement as citation recall; the two differ in
    weighting when aggregated over a dataset (see `rag.eval.runner`): citation recall
    averages answers, faithfulness pools sentences, so one long unfaithful answer
    weighs more here.
    """
    return rate(v.supported for v in verdicts)


def dropped_sentence_rate(answers: Iterable[Answer]) -> float | None:
    """Share of the answerers' own sentences left out of the text shown, pooled: a
    generated draft's unsupported sentences, or a whole draft the fallback replaced.
    `None` when no answer has sentences of its own."""
    return rate(not s.shown for answer in answers for s in answer.sentences)


# --- quotes and refusals ---------------------------------------------------------------


def quote_exact(citation: Citation, document_texts: Mapping[str, str]) -> bool:
    text = document_texts.get(citation.doc_id)
    return (text is not None and 0 <= citation.start <= citation.end <= len(text)
            and text[citation.start : citation.end] == citation.quote)


def quote_exactness(citations: Sequence[Citation], document_texts: Mapping[str, str]
                    ) -> float | None:
    return rate(quote_exact(c, document_texts) for c in citations)


def refusal_accuracy(refused_on_unanswerable: Sequence[bool]) -> float | None:
    """Share of unanswerable questions the assistant refused."""
    return rate(refused_on_unanswerable)


def false_refusal_rate(refused_on_answerable: Sequence[bool]) -> float | None:
    """Share of answerable questions the assistant refused anyway."""
    return rate(refused_on_answerable)
