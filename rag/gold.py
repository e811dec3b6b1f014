"""Gold questions and how an answer is judged against them.

A gold case is a question with, when answerable, the facts a correct answer must
state and the evidence spans it must cite; an unanswerable case must be refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def judge(case: GoldCase, answer: Answer, document_texts: dict[str, str]) -> Judgement:
    """Answerable: not refused, every required fact in the text, and a citation overlapping
    an evidence span. Unanswerable: refused."""
    if not case.answerable:
        return Judgement(answer.refused, False, False, answer.refused)
    text = answer.text.lower()
    facts = all(fact.lower() in text for fact in case.required_facts)
    cited = any(_overlaps_evidence(c.doc_id, c.start, c.end, case.evidence, document_texts)
                for c in answer.citations)
    return Judgement(not answer.refused and facts and cited, facts, cited, answer.refused)


def _overlaps_evidence(doc_id: str, start: int, end: int, evidence: tuple[str, ...],
                       document_texts: dict[str, str]) -> bool:
    text = document_texts.get(doc_id, "")
    for snippet in evidence:
        at = text.find(snippet)
        while at != -1:
            if start < at + len(snippet) and at < end:
                return True
            at = text.find(snippet, at + 1)
    return False
