"""Gold questions and how an answer is judged against them.

A gold case is a question with, when answerable, the facts a correct answer must
state and the evidence spans it must cite; an unanswerable case must be refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.eval.metrics import Span, locate_evidence, overlaps
from rag.schema import Answer


@dataclass(frozen=True)
class GoldCase:
    id: str
    question: str
    answerable: bool
    answer_type: str = ""
    required_facts: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def load_gold(path: Path) -> list[GoldCase]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        cases.append(GoldCase(
            id=str(row["id"]), question=row["question"], answerable=bool(row["answerable"]),
            answer_type=row.get("answer_type", ""),
            required_facts=tuple(row.get("required_facts", ())),
            evidence=tuple(row.get("evidence", ())),
            extra={k: v for k, v in row.items() if k not in {
                "id", "question", "answerable", "answer_type", "required_facts", "evidence"}},
        ))
    return cases


@dataclass(frozen=True)
class Judgement:
    correct: bool
    facts_found: bool
    cited_evidence: bool
    refused: bool


def judge(case: GoldCase, answer: Answer, document_texts: Mapping[str, str],
          evidence_spans: Sequence[Sequence[Span]] | None = None) -> Judgement:
    """Answerable: not refused, every required fact in the text, and a citation overlapping
    an evidence span. Unanswerable: refused. `evidence_spans` is the case's
    `locate_evidence`, when the caller has it already."""
    if not case.answerable:
        return Judgement(answer.refused, False, False, answer.refused)
    text = answer.text.lower()
    facts = all(fact.lower() in text for fact in case.required_facts)
    if evidence_spans is None:
        evidence_spans = locate_evidence(case.evidence, document_texts)
    spans = [span for group in evidence_spans for span in group]
    cited = any(overlaps(c.doc_id, c.start, c.end, spans) for c in answer.citations)
    return Judgement(not answer.refused and facts and cited, facts, cited, answer.refused)
