"""The gold sets on the seed article, offline through the real model and Chroma, against
evals/thresholds.toml: the seed set (the issue's acceptance bar), the sets the answerer's
rules were developed against after it, and the newest, sealed set nobody tuned to."""

from __future__ import annotations

import tomllib

import pytest

from rag import Assistant
from rag.eval.gold import judge, load_gold
from tests.conftest import REPO


@pytest.mark.parametrize("name", ["seed", "seed_holdout", "seed_sealed", "seed_sealed2",
                                  "seed_sealed3"])
def test_gold_set_meets_thresholds(seed_assistant: Assistant, name: str) -> None:
    cases = load_gold(REPO / "evals" / "gold" / f"{name}.jsonl")
    limits = tomllib.loads((REPO / "evals" / "thresholds.toml").read_text())[name]
    texts = seed_assistant.document_texts()
    answerable = [c for c in cases if c.answerable]
    unanswerable = [c for c in cases if not c.answerable]
    assert len(answerable) >= 20 and len(unanswerable) >= 8
    correct = refused = exact = citations = 0
    for case in cases:
        answer = seed_assistant.ask(case.question)
        verdict = judge(case, answer, texts)
        if case.answerable:
            correct += verdict.correct
        else:
            refused += verdict.correct
        for citation in answer.citations:
            citations += 1
            exact += texts[citation.doc_id][citation.start : citation.end] == citation.quote
    assert correct / len(answerable) >= limits["answerable_accuracy"]
    assert refused / len(unanswerable) >= limits["refusal_accuracy"]
    assert citations and exact / citations >= limits["quote_exactness"]
