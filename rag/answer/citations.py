"""From a generated answer to verified, exactly-cited sentences.

Deterministic code, not the model, decides what a citation points at: `[n]` markers are
parsed, markers naming no source are dropped, and each cited passage is narrowed to the
sentence span that best supports the answer sentence, so `quote ==
document.text[start:end]` holds for generated answers too. Every sentence is then
checked with the offline support checker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.ingest.documents import INVISIBLE_CHARS
from rag.schema import AnswerSentence, Citation, Passage, SupportVerdict
from rag.text.analysis import analyse, covered_keys
from rag.text.sentences import sentence_spans
from rag.verify.checker import check_support

_MARKER_GROUP = r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+"
_MARKERS_AFTER_STOP = re.compile(rf"([.!?][\"”’)]*)({_MARKER_GROUP})")
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MAX_MARKER_DIGITS = 3
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:https?:|mailto:|data:|javascript:)[^)]*\)", re.I)
_URL = re.compile(r"\b(?:https?|ftp)://\S+", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
# How a sentence the checker could not support is shown when such sentences are kept.
UNSUPPORTED_PREFIX = "(unsupported) "


def sanitise(text: str) -> str:
    """Strip what a model's output must never carry into the answer: images and links
    (they can exfiltrate the question), raw HTML and invisible control characters."""
    text = INVISIBLE_CHARS.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _HTML_TAG.sub("", text)
    return text.strip()


@dataclass(frozen=True)
class DraftSentence:
    text: str
    markers: tuple[int, ...]


def parse_markers(answer: str, source_count: int) -> list[DraftSentence]:
    """Sentences of a generated answer with the source numbers each one cites; markers
    outside 1..source_count are dropped."""
    # "… Karabakh. [1]" → "… Karabakh [1]." so the marker stays with its sentence.
    normalised = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", answer)
    drafts = []
    for start, end in sentence_spans(normalised):
        raw = normalised[start:end]
        markers: list[int] = []
        for group in _MARKER.findall(raw):
            for number in re.split(r"\s*,\s*", group):
                # No prompt holds a thousand sources, and int() refuses a number of over
                # 4,300 digits: a longer run of digits is no source's number.
                if len(number) > _MAX_MARKER_DIGITS:
                    continue
                value = int(number)
                if 1 <= value <= source_count and value not in markers:
                    markers.append(value)
        text = " ".join(_MARKER.sub("", raw).split())
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if any(ch.isalnum() for ch in text):
            drafts.append(DraftSentence(text, tuple(markers)))
    return drafts


def cite_and_verify(drafts: Sequence[DraftSentence], passages: Sequence[Passage]
                    ) -> list[AnswerSentence]:
    """Map each sentence's markers to exact spans and check its support."""
    sentences: list[AnswerSentence] = []
    next_marker = 1
    for draft in drafts:
        cited: list[tuple[Citation, SupportVerdict]] = []
        for number in draft.markers:
            passage = passages[number - 1]
            verdict = check_support(draft.text, [passage.text])
            start, end = _evidence_span(passage, verdict.evidence_start, verdict.evidence_end)
            cited.append((passage.cite(start, end), verdict))
        if len(cited) > 1:
            # A source holding none of the sentence's content words or numbers supports
            # nothing in it, and its citation goes ("… signed by aliens [1][2]" with [2]
            # a fishing-quota sentence). Only beside one that does: a paraphrase sharing
            # no word with any of its sources is left for the checker to judge.
            claim = analyse(draft.text)
            cited = [(c, v) for c, v in cited
                     if any(covered_keys(claim, analyse(c.quote)))] or cited
        citations = [c for c, _ in cited]
        for citation in citations:
            citation.marker, next_marker = next_marker, next_marker + 1
        if len(cited) > 1:
            # Together, as one passage: a sentence may combine facts from two sources.
            combined = "\n".join(c.quote for c in citations)
            verdict = check_support(draft.text, [combined])
            supported, score = verdict.supported, verdict.score
        elif cited:
            # One citation: its verdict against the passage already judged the best span.
            supported, score = cited[0][1].supported, cited[0][1].score
        else:
            supported, score = False, 0.0
        sentences.append(AnswerSentence(draft.text, citations, supported, score))
    return sentences


def _evidence_span(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the evidence, widened to whole stored sentences when the
    checker's span falls inside one, or the whole passage when it found none."""
    if end <= start:
        return passage.start, passage.end
    doc_start, doc_end = passage.start + start, passage.start + end
    for s, e in passage.sentences:
        if s <= doc_start < e:
            doc_start = s
        if s < doc_end <= e:
            doc_end = e
    return doc_start, doc_end


def compose(sentences: Sequence[AnswerSentence], *, keep_unsupported: bool
            ) -> tuple[str, list[Citation]]:
    """Answer text with renumbered markers and the citations it uses."""
    parts: list[str] = []
    citations: list[Citation] = []
    for sentence in sentences:
        if not sentence.supported and not keep_unsupported:
            sentence.shown = False
            for citation in sentence.citations:
                citation.marker = 0  # cited by nothing shown
            continue
        renumbered = []
        for citation in sentence.citations:
            citation.marker = len(citations) + 1
            citations.append(citation)
            renumbered.append(f"[{citation.marker}]")
        text = sentence.text
        if not sentence.supported:
            text = f"{UNSUPPORTED_PREFIX}{text}"
        markers = "".join(renumbered)
        if markers and text[-1:] in ".!?":
            text = f"{text[:-1]} {markers}{text[-1]}"
        elif markers:
            text = f"{text} {markers}"
        parts.append(text)
    return " ".join(parts), citations
