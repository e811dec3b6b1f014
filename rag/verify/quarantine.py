"""Planted instructions never count as evidence.

Before an answer is chosen or generated, every retrieved passage is read for text
addressed to a model (`rag.text.instructions`). What is found is masked — replaced by
spaces of the same length, so every offset, and with it every citation's
`quote == document.text[start:end]`, stays exact — and its sentences are dropped from
the passage's sentence list. The extractive answerer therefore cannot quote it, the
verifier cannot read it as support, and a generating model is never shown it. The answer
names each document that carried such text in a warning, so the analyst knows the
source tried to steer the assistant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.schema import Passage
from rag.text.instructions import Instruction, find_instructions

__all__ = ["quarantine"]


def quarantine(passages: Sequence[Passage]) -> tuple[list[Passage], list[str]]:
    """The passages with planted instructions masked (a passage that was nothing else
    is left out), and one warning per document that carried any, in the passages'
    order."""
    masked: list[Passage] = []
    warnings: dict[str, str] = {}
    for passage in passages:
        found = _instructions_in(passage)
        if not found:
            masked.append(passage)
            continue
        cleaned = _masked(passage, found)
        if cleaned is not None:
            masked.append(cleaned)
        name = passage.title or passage.doc_id
        warnings.setdefault(passage.doc_id, _warning(name, found[0].snippet(passage.text)))
    return masked, list(warnings.values())


def _instructions_in(passage: Passage) -> list[Instruction]:
    """What ingest found in the passage's document, clipped to it; searched now only
    for a chunk stored before ingest looked."""
    if passage.instructions is None:
        return find_instructions(passage.text)
    return [Instruction(s - passage.start, e - passage.start, "found at ingest")
            for s, e in passage.instructions]


def _warning(name: str, snippet: str) -> str:
    return (f"“{name}” contains text addressed to an AI model rather than to its readers "
            f"(“{snippet}”); that text was not used as evidence.")


def _masked(passage: Passage, found: Sequence[Instruction]) -> Passage | None:
    """The passage with `found` blanked out, or None when nothing else is left of it."""
    chars = list(passage.text)
    spans = []
    for item in found:
        for i in range(item.start, item.end):
            if chars[i] != "\n":
                chars[i] = " "
        spans.append((passage.start + item.start, passage.start + item.end))
    sentences = [(s, e) for s, e in passage.sentences
                 if not any(s < end and start < e for start, end in spans)]
    text = "".join(chars)
    if not text.strip() or (passage.sentences and not sentences):
        return None
    return replace(passage, text=text, sentences=sentences)
