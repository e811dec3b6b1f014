"""One gold case scored, a run aggregated, checked against its thresholds and compared
with a baseline (the definitions are in `rag.eval.runner`'s docstring)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.eval import metrics as m
from rag.eval.gold import GoldCase, Judgement, judge
from rag.schema import Answer, Citation

Number = float | int
MetricValue = Number | None

# Metrics where a drop is an improvement; everything else is better higher.
LOWER_IS_BETTER_SUFFIXES = ("_ms",)
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "errors", "dangling_citations",
                             "uncited_sentence_rate"})

METRIC_HELP: dict[str, str] = {
    "answerable_accuracy": "answerable questions answered with every required fact and a "
                           "citation overlapping the gold evidence",
    "refusal_accuracy": "unanswerable questions refused",
    "false_refusal_rate": "answerable questions refused",
    "fact_recall": "required facts found in the answer text, averaged over answerable "
                   "questions",
    "facts_accuracy": "answerable questions whose answer states every required fact",
    "cited_evidence_rate": "answerable questions with a citation overlapping gold evidence",
    "hit_at_1": "answerable questions whose top passage overlaps gold evidence",
    "hit_at_3": "… within the top 3 passages",
    "hit_at_5": "… within the top 5 passages",
    "mrr": "mean reciprocal rank of the first passage overlapping gold evidence",
    "evidence_recall": "gold evidence strings overlapped by some retrieved passage",
    "citation_recall": "ALCE: answer sentences supported by their cited quotes, averaged "
                       "per answered question",
    "citation_precision": "ALCE: citations that support their sentence or are needed for "
                          "it, averaged per answered question",
    "faithfulness": "answer sentences supported by their cited quotes, pooled over all "
                    "answered questions",
    "fully_supported_answers": "answered questions with every sentence supported",
    "answer_precision": "citations of an answered answerable question that lie on its gold "
                        "evidence (the sentence answers, not merely supports itself), "
                        "averaged per question",
    "dropped_sentence_rate": "answer sentences left out of the text shown (a generated "
                             "draft's unsupported ones), pooled; the other sentence metrics "
                             "measure what is shown",
    "quote_exactness": "citations whose quote equals document.text[start:end]",
    "uncited_sentence_rate": "answer sentences with no citation",
    "dangling_citations": "markers in answers with no matching citation",
    "errors": "questions where ask() raised",
}

RATIO_METRICS = (
    "answerable_accuracy", "refusal_accuracy", "false_refusal_rate", "fact_recall",
    "facts_accuracy", "cited_evidence_rate", "hit_at_1", "hit_at_3", "hit_at_5", "mrr",
    "evidence_recall", "citation_recall", "citation_precision", "faithfulness",
    "answer_precision", "fully_supported_answers", "dropped_sentence_rate", "quote_exactness",
    "uncited_sentence_rate",
)


# --- per-case results ------------------------------------------------------------------


@dataclass
class CaseResult:
    case: GoldCase
    answer: Answer | None
    wall_ms: float
    error: str | None = None
    judgement: Judgement | None = None
    facts: list[bool] = field(default_factory=list)
    relevance: list[bool] = field(default_factory=list)
    evidence_recall: float | None = None
    verdicts: list[m.SentenceVerdict] = field(default_factory=list)
    exact: dict[int, bool] = field(default_factory=dict)
    evidence_hits: dict[int, bool] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.answer is not None and self.answer.refused

    @property
    def answered(self) -> bool:
        return self.answer is not None and not self.answer.refused

    @property
    def correct(self) -> bool:
        return self.judgement is not None and self.judgement.correct

    def to_dict(self) -> dict[str, Any]:
        answer = self.answer
        citations = []
        for citation in answer.citations if answer else []:
            row = citation.to_dict()
            row["exact"] = self.exact.get(citation.marker, False)
            row["overlaps_evidence"] = self.evidence_hits.get(citation.marker, False)
            citations.append(row)
        judgement = self.judgement
        return {
            "id": self.case.id,
            "question": self.case.question,
            "answerable": self.case.answerable,
            "answer_type": self.case.answer_type,
            "answer": answer.text if answer else None,
            "mode": answer.mode if answer else None,
            "reason": answer.reason if answer else None,
            "refused": self.refused,
            "error": self.error,
            "judgement": None if judgement is None else {
                "correct": judgement.correct, "facts_found": judgement.facts_found,
                "cited_evidence": judgement.cited_evidence, "refused": judgement.refused,
            },
            "required_facts": [
                {"fact": fact, "found": found}
                for fact, found in zip(self.case.required_facts, self.facts, strict=False)
            ],
            "citations": citations,
            "sentences": [v.to_dict() for v in self.verdicts],
            "retrieval": {
                "passages": [
                    {"doc_id": p.doc_id, "start": p.start, "end": p.end,
                     "score": round(p.score, 4), "relevant": rel}
                    for p, rel in zip(answer.passages if answer else [], self.relevance,
                                      strict=False)
                ],
                "first_relevant_rank": m.first_relevant_rank(self.relevance),
                "evidence_recall": self.evidence_recall,
            },
            "timings": {
                **{k: round(v, 2) for k, v in (answer.timings if answer else {}).items()},
                "wall_ms": round(self.wall_ms, 2),
            },
        }


@dataclass
class EvalResult:
    metrics: dict[str, MetricValue]
    failures: list[str]
    out_dir: Path
    cases: list[CaseResult] = field(default_factory=list, repr=False)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Figures of the hardening benchmarks (`rag.eval.runner.HARDENING`), by name.
    hardening: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def score_case(case: GoldCase, answer: Answer | None, wall_ms: float,
               document_texts: Mapping[str, str], check: m.SupportCheck,
               error: str | None = None) -> CaseResult:
    """Every per-question measurement for one gold case."""
    result = CaseResult(case, answer, wall_ms, error)
    if answer is None:
        return result
    spans = m.locate_evidence(case.evidence, document_texts)
    result.judgement = judge(case, answer, document_texts, spans)
    flat = [s for group in spans for s in group]
    if case.answerable:
        result.facts = m.facts_found(answer.text, case.required_facts)
        result.relevance = m.passage_relevance(answer.passages, spans)
        result.evidence_recall = m.evidence_recall(answer.passages, spans)
    result.exact = {c.marker: m.quote_exact(c, document_texts) for c in answer.citations}
    result.evidence_hits = {c.marker: m.overlaps(c.doc_id, c.start, c.end, flat)
                            for c in answer.citations}
    result.verdicts = [m.judge_sentence(s, check) for s in m.answer_sentences(answer)]
    return result


# --- aggregation -----------------------------------------------------------------------


def aggregate(results: Sequence[CaseResult]) -> tuple[dict[str, MetricValue], dict[str, int]]:
    """(metrics, counts) over all cases; see the module docstring for the weighting."""
    answerable = [r for r in results if r.case.answerable]
    unanswerable = [r for r in results if not r.case.answerable]
    answered = [r for r in results if r.answered]
    verdicts = [v for r in answered for v in r.verdicts]
    citations: list[Citation] = [c for r in results if r.answer for c in r.answer.citations]

    out: dict[str, MetricValue] = {
        "answerable_accuracy": m.rate(r.correct for r in answerable),
        "refusal_accuracy": m.refusal_accuracy([r.refused for r in unanswerable]),
        "false_refusal_rate": m.false_refusal_rate([r.refused for r in answerable]),
        "fact_recall": m.mean(
            m.fact_recall(r.answer.text if r.answer else "", r.case.required_facts) or 0.0
            for r in answerable if r.case.required_facts),
        "facts_accuracy": m.rate(
            bool(r.facts) and all(r.facts) for r in answerable if r.case.required_facts),
        "cited_evidence_rate": m.rate(
            r.judgement is not None and r.judgement.cited_evidence for r in answerable),
    }
    for k in m.HIT_KS:
        out[f"hit_at_{k}"] = m.mean(m.hit_at_k(r.relevance, k) for r in answerable)
    out["mrr"] = m.mean(m.reciprocal_rank(r.relevance) for r in answerable)
    out["evidence_recall"] = m.mean(
        r.evidence_recall if r.evidence_recall is not None else 0.0
        for r in answerable if r.case.evidence)
    out["citation_recall"] = m.mean(m.citation_recall(r.verdicts) or 0.0 for r in answered)
    out["citation_precision"] = m.mean(
        m.citation_precision(r.verdicts) or 0.0 for r in answered)
    # Support is not relevance: a quoted sentence supports itself whether or not it answers.
    # Answer precision is the share of an answer's citations on the gold evidence.
    out["answer_precision"] = m.mean(
        sum(r.evidence_hits.values()) / len(r.evidence_hits)
        for r in answerable if r.answered and r.evidence_hits)
    out["faithfulness"] = m.faithfulness(verdicts)
    out["fully_supported_answers"] = m.rate(
        bool(r.verdicts) and all(v.supported for v in r.verdicts) for r in answered)
    out["dropped_sentence_rate"] = m.dropped_sentence_rate(r.answer for r in results if r.answer)
    out["quote_exactness"] = m.rate(
        r.exact.get(c.marker, False) for r in results if r.answer for c in r.answer.citations)
    out["uncited_sentence_rate"] = m.rate(not v.markers for v in verdicts)
    out["dangling_citations"] = sum(len(v.dangling) for v in verdicts)
    out["errors"] = sum(1 for r in results if r.error)
    out.update(m.latency_summary([r.wall_ms for r in results if r.answer]))
    # total_ms is what wall_ms already measures, from inside the call.
    stages = sorted({k for r in results if r.answer for k in r.answer.timings
                     if k.endswith("_ms") and k != "total_ms"})
    for stage in stages:
        samples = [r.answer.timings[stage] for r in results
                   if r.answer and stage in r.answer.timings]
        name = stage.removesuffix("_ms")
        out[f"{name}_p50_ms"] = m.percentile(samples, 50)
        out[f"{name}_p95_ms"] = m.percentile(samples, 95)

    counts = {
        "cases": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answered": len(answered),
        "refused": sum(r.refused for r in results),
        "answered_unanswerable": sum(r.answered for r in unanswerable),
        "sentences": len(verdicts),
        "citations": len(citations),
        "errors": sum(1 for r in results if r.error),
    }
    return {k: _round(v) for k, v in out.items()}, counts


def _round(value: MetricValue) -> MetricValue:
    return round(value, 4) if isinstance(value, float) else value


# --- thresholds and baseline -----------------------------------------------------------


def load_thresholds(path: Path | None, section: str) -> dict[str, Any] | None:
    """The `[section]` table, or None when the file or the section is absent."""
    if path is None or not path.exists():
        return None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    table = data.get(section)
    return table if isinstance(table, dict) else None


def check_thresholds(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any]
                     ) -> list[str]:
    """Human-readable violations of `limits` (plain keys: minima; `max` table: maxima)."""
    failures: list[str] = []
    maxima = limits.get("max", {})
    pairs = [(k, v, "min") for k, v in limits.items() if k != "max"]
    if isinstance(maxima, dict):
        pairs += [(k, v, "max") for k, v in maxima.items()]
    for name, limit, kind in pairs:
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            failures.append(f"threshold {name} = {limit!r} is not a number")
            continue
        if name not in metrics:
            failures.append(f"threshold {name}: no such metric")
            continue
        value = metrics[name]
        if value is None:
            failures.append(f"{name} is undefined (nothing to measure), {kind} {limit}")
        elif kind == "min" and value < limit:
            failures.append(f"{name} = {value:.4g} is below the minimum {limit}")
        elif kind == "max" and value > limit:
            failures.append(f"{name} = {value:.4g} is above the maximum {limit}")
    return failures


def load_baseline(path: Path | None) -> dict[str, MetricValue] | None:
    if path is None or not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    metrics = data.get("metrics", data)
    return {k: v for k, v in metrics.items()
            if v is None or (isinstance(v, int | float) and not isinstance(v, bool))}


def lower_is_better(name: str) -> bool:
    return name in LOWER_IS_BETTER or name.endswith(LOWER_IS_BETTER_SUFFIXES)


@dataclass
class Delta:
    name: str
    baseline: MetricValue
    current: MetricValue

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return float(self.current) - float(self.baseline)

    @property
    def better(self) -> bool | None:
        change = self.change
        if change is None or abs(change) < 1e-9:
            return None
        return (change < 0) if lower_is_better(self.name) else (change > 0)


def compare(current: Mapping[str, MetricValue], baseline: Mapping[str, MetricValue]
            ) -> list[Delta]:
    names = list(current) + [k for k in baseline if k not in current]
    return [Delta(n, baseline.get(n), current.get(n)) for n in names]


# --- the runner ------------------------------------------------------------------------
