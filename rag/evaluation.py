"""The evaluation runner behind `rag eval`: every gold case through `Assistant.ask`, scored
with `rag.metrics`, checked against `evals/thresholds.toml`, written out as
`metrics.json`, `results.jsonl` and a self-contained `report.html`.

Thresholds live in the TOML section named after the dataset's stem (`[seed]` for
`seed.jsonl`). A plain key is a minimum for the metric of that name; a `[<stem>.max]`
sub-table holds maxima (for latency or error counts). A key naming no metric is itself a
failure, so a typo cannot silently disable a check.

How the per-answer scores are aggregated:

- `answerable_accuracy`, `refusal_accuracy`: `rag.gold.judge` over answerable and
  unanswerable cases respectively (the definitions `tests/test_gold.py` enforces).
- retrieval metrics: over answerable cases, from the passages the answer was built on.
- `citation_recall`, `citation_precision`: ALCE's per-answer scores averaged over answered
  (not refused) questions; an answered question with no citations scores 0 on both.
- `answer_precision`: over answered answerable cases, the share of each answer's citations
  that overlap its gold evidence, averaged.
- `faithfulness`: supported sentences over all sentences of all answered questions. The
  sentence metrics score the sentences shown; `dropped_sentence_rate` counts the ones a
  generated draft lost to verification (or to the fallback), over every answer.
- `quote_exactness`: over every citation of every answer.
- latency: wall-clock time around `ask`, and each stage the answer reports in `timings`.
"""

from __future__ import annotations

import html
import json
import math
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import metrics as m
from rag.config import display_path
from rag.errors import RagError
from rag.gold import GoldCase, Judgement, judge, load_gold
from rag.schema import Answer, Citation
from rag.support import check_support

if TYPE_CHECKING:
    from rag.assistant import Assistant

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

_RATIO_METRICS = (
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


def _llm_faithfulness(assistant: Assistant, results: Sequence[CaseResult],
                      notes: list[str]) -> MetricValue:
    """RAGAS-style faithfulness from the configured LLM: the answer split into claims,
    each judged against the cited quotes. Optional, for those who have an endpoint; the
    offline checker stays the gate."""
    generator = assistant.generator
    if generator is None:
        notes.append("--llm-judge needs an LLM (RAG_LLM=openai); skipped")
        return None
    from rag.errors import GenerationError
    from rag.generation import judge_claims

    verdicts: list[bool] = []
    for result in results:
        answer = result.answer
        if answer is None or answer.refused or not answer.citations:
            continue
        try:
            claims = judge_claims(generator, answer.text, [c.quote for c in answer.citations],
                                  prompts_dir=assistant.settings.prompts_dir)
        except GenerationError as exc:
            notes.append(f"LLM judge failed on {result.case.id}: {exc.reason}")
            continue
        verdicts += [bool(claim["supported"]) for claim in claims]
    return m.rate(verdicts) if verdicts else None


def run_eval(
    assistant: Assistant,
    dataset: Path,
    out_dir: Path,
    baseline: Path | None,
    thresholds: Path | None,
    progress: bool = True,
    *,
    support_scores: Path | None = None,
    check: m.SupportCheck | None = None,
    llm_judge: bool = False,
) -> EvalResult:
    """Run every case of `dataset` through `assistant.ask`, write metrics.json,
    results.jsonl and report.html into `out_dir`, and check the thresholds.

    `support_scores` defaults to `results/claims.json` (`python -m bench.claims`) next to
    the thresholds file; when it exists its contents are shown in the report. `check` replaces the
    support checker (tests).
    """
    from tqdm import tqdm

    cases = load_gold(dataset)
    document_texts = assistant.document_texts()
    check = check or _support_check(assistant)
    notes: list[str] = []
    if not document_texts:
        notes.append("the assistant has no documents indexed")

    results: list[CaseResult] = []
    bar = tqdm(cases, desc=f"eval {dataset.stem}", unit="q", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    correct = 0
    for case in bar:
        answer: Answer | None = None
        error = None
        started = time.perf_counter()
        try:
            answer = assistant.ask(case.question)
        except RagError as exc:
            # One broken question must not hide the scores of the rest.
            error = f"{type(exc).__name__}: {exc}"
        wall_ms = (time.perf_counter() - started) * 1000
        case_result = score_case(case, answer, wall_ms, document_texts, check, error)
        results.append(case_result)
        correct += case_result.correct
        bar.set_postfix(correct=f"{correct}/{len(results)}", refresh=False)
    bar.close()

    metrics, counts = aggregate(results)
    if llm_judge:
        metrics["llm_faithfulness"] = _llm_faithfulness(assistant, results, notes)
    limits = load_thresholds(thresholds, dataset.stem)
    failures: list[str] = []
    if limits is None:
        notes.append(f"no [{dataset.stem}] thresholds in {thresholds}; nothing enforced")
    else:
        failures += check_thresholds(metrics, limits)
    if counts["errors"]:
        failed = ", ".join(r.case.id for r in results if r.error)
        failures.append(f"{counts['errors']} question(s) raised errors: {failed}")

    baseline_metrics = load_baseline(baseline)
    if baseline is not None and baseline_metrics is None:
        notes.append(f"baseline {baseline} not found; no comparison")
    if support_scores is None and thresholds is not None:
        support_scores = thresholds.parent / "results" / "claims.json"
    checker_scores = _load_json(support_scores)

    out_dir.mkdir(parents=True, exist_ok=True)
    result = EvalResult(metrics, failures, out_dir, results, counts, notes)
    header = {
        "dataset": _display_path(dataset),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": _environment(assistant, len(document_texts)),
        "counts": counts,
        "modes": dict(Counter(r.answer.mode for r in results if r.answer)),
        "metrics": metrics,
        "thresholds": limits or {},
        "failures": failures,
        "ok": result.ok,
        "notes": notes,
    }
    (out_dir / "metrics.json").write_text(
        json.dumps(header, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as fh:
        for case_result in results:
            fh.write(json.dumps(case_result.to_dict(), ensure_ascii=False) + "\n")
    (out_dir / "report.html").write_text(
        render_report(header, results, baseline_metrics, _display_path(baseline),
                      checker_scores, _display_path(support_scores)),
        encoding="utf-8")
    return result


def _support_check(assistant: Assistant) -> m.SupportCheck:
    from rag.embeddings import MiniLMEmbedder

    # The checker was calibrated on MiniLM cosines; reuse the assistant's copy of that
    # model rather than load a second, but never feed it another model's vectors.
    if isinstance(assistant.embedder, MiniLMEmbedder):
        return partial(check_support, embedder=assistant.embedder)
    return check_support


def _environment(assistant: Assistant, documents: int) -> dict[str, Any]:
    settings = assistant.settings
    return {
        "embedding_model": getattr(assistant.embedder, "name", type(assistant.embedder)
                                   .__name__),
        "llm": settings.llm,
        "llm_model": (settings.llm_model if settings.llm == "openai"
                      else getattr(assistant.generator, "model", None)),
        "top_k": settings.top_k,
        "hybrid": settings.hybrid,
        "documents": documents,
        "commit": _git_commit(),
        "python": sys.version.split()[0],
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _display_path(path: Path | None) -> str | None:
    return None if path is None else display_path(path)


def _load_json(path: Path | None) -> Any:
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"could not read {path.name}: {exc}"}


# --- the report ------------------------------------------------------------------------

_CSS = """
:root { --ok: #1a7f37; --bad: #c62828; --muted: #6b7280; --line: #e5e7eb; --bar: #3b6fd8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 1280px; padding: 24px; color: #111827; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.muted { color: var(--muted); }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff;
          font-weight: 600; }
.status.ok { background: var(--ok); } .status.bad { background: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f9fafb; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.better { color: var(--ok); } .worse { color: var(--bad); }
.fail { color: var(--bad); font-weight: 600; } .pass { color: var(--ok); }
ul.failures li { color: var(--bad); }
.kv td { padding: 2px 8px; } .kv td:first-child { color: var(--muted); width: 200px; }
blockquote { margin: 2px 0 6px; padding: 2px 8px; border-left: 3px solid #c7d2fe;
             background: #f8fafc; font-size: 13px; }
.cite { margin-bottom: 6px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px;
         background: #eef2ff; margin-right: 4px; }
.badge.bad { background: #fde8e8; color: var(--bad); }
.badge.good { background: #e6f4ea; color: var(--ok); }
.sent { margin: 0 0 4px; }
tr.case-fail > td:first-child { border-left: 4px solid var(--bad); }
tr.case-pass > td:first-child { border-left: 4px solid var(--ok); }
#only-fail:checked ~ table tr.case-pass { display: none; }
svg text { font: 12px system-ui, sans-serif; fill: #374151; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr));
        gap: 12px 32px; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: MetricValue, name: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if name.endswith("_ms"):
            return f"{value:,.1f}"
        return f"{value:.3f}"
    return str(value)


def render_report(header: Mapping[str, Any], results: Sequence[CaseResult],
                  baseline: Mapping[str, MetricValue] | None, baseline_path: str | None,
                  checker_scores: Any, checker_path: str | None) -> str:
    """A single HTML page with inline CSS and SVG: no scripts, fonts or remote assets."""
    metrics: Mapping[str, MetricValue] = header["metrics"]
    limits: Mapping[str, Any] = header.get("thresholds") or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>rag eval — {_e(header['dataset'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        _summary_section(header),
        "<h2>Metrics</h2>",
        '<div class="grid">',
        _metric_bars(metrics, limits, baseline),
        _latency_histogram([r.wall_ms for r in results if r.answer is not None]),
        "</div>",
        _metric_table(metrics, limits, baseline),
        _baseline_section(metrics, baseline, baseline_path),
        _checker_section(checker_scores, checker_path),
        _cases_section(results),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary_section(header: Mapping[str, Any]) -> str:
    ok = header["ok"]
    status = ('<span class="status ok">PASS</span>' if ok
              else '<span class="status bad">FAIL</span>')
    env = header.get("environment", {})
    run = [("dataset", header["dataset"]), ("generated", header["generated_at"])]
    run += [(k, v) for k, v in env.items() if v is not None]
    counts = list(header.get("counts", {}).items())
    counts.append(("answer modes", ", ".join(f"{k}: {v}" for k, v in
                                             header.get("modes", {}).items()) or "—"))
    out = [f"<h1>rag evaluation {status}</h1>",
           f'<p class="muted">{_e(header["dataset"])} · {_e(header["generated_at"])}</p>']
    if header["failures"]:
        out.append('<ul class="failures">'
                   + "".join(f"<li>{_e(f)}</li>" for f in header["failures"]) + "</ul>")
    for note in header.get("notes", []):
        out.append(f'<p class="muted">Note: {_e(note)}</p>')
    out.append('<div class="grid">' + _kv_table(run) + _kv_table(counts) + "</div>")
    return "\n".join(out)


def _kv_table(rows: Iterable[tuple[str, Any]]) -> str:
    return ('<table class="kv">' + "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>")


def _metric_bars(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any],
                 baseline: Mapping[str, MetricValue] | None) -> str:
    names = [n for n in _RATIO_METRICS if n in metrics]
    label_w, bar_w, row_h, top = 190, 300, 22, 22
    width, height = label_w + bar_w + 70, top + row_h * len(names) + 8
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="metric bars">',
           '<text x="0" y="14" font-weight="600">Scores (0–1)</text>',
           f'<text x="{label_w}" y="14" fill="#6b7280">red line: minimum · dashed: '
           f"baseline</text>"]
    for i, name in enumerate(names):
        y = top + i * row_h
        value = metrics[name]
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" '
                   f'fill="#f1f5f9"/>')
        if isinstance(value, int | float):
            colour = "#9ca3af" if lower_is_better(name) else "#3b6fd8"
            minimum = limits.get(name)
            if isinstance(minimum, int | float) and value < minimum:
                colour = "#c62828"
            w = max(0.0, min(1.0, float(value))) * bar_w
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14" '
                       f'fill="{colour}"><title>{_e(name)}: {_fmt(value)}</title></rect>')
        minimum = limits.get(name)
        if isinstance(minimum, int | float) and not isinstance(minimum, bool):
            x = label_w + max(0.0, min(1.0, float(minimum))) * bar_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 20}" '
                       f'stroke="#c62828" stroke-width="2"><title>minimum {minimum}</title>'
                       f"</line>")
        base = baseline.get(name) if baseline else None
        if isinstance(base, int | float):
            x = label_w + max(0.0, min(1.0, float(base))) * bar_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + 19}" '
                       f'stroke="#111827" stroke-width="1.5" stroke-dasharray="3 2">'
                       f"<title>baseline {_fmt(base)}</title></line>")
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{_fmt(value)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _latency_histogram(samples: Sequence[float]) -> str:
    width, height, left, bottom, top = 560, 240, 48, 36, 24
    plot_w, plot_h = width - left - 16, height - top - bottom
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="latency histogram">',
           '<text x="0" y="14" font-weight="600">Latency per question (ms, wall clock)</text>']
    if not samples:
        out.append(f'<text x="{left}" y="{top + 40}">no answers</text></svg>')
        return "\n".join(out)
    high = max(samples) or 1.0
    bins = max(5, min(30, round(math.sqrt(len(samples)) * 2)))
    step = high / bins
    counts = [0] * bins
    for value in samples:
        counts[min(bins - 1, int(value / step))] += 1
    tallest = max(counts)
    bar_w = plot_w / bins
    base_y = top + plot_h
    for i, count in enumerate(counts):
        h = plot_h * count / tallest
        x = left + i * bar_w
        out.append(f'<rect x="{x + 1:.1f}" y="{base_y - h:.1f}" width="{bar_w - 2:.1f}" '
                   f'height="{h:.1f}" fill="#3b6fd8"><title>{i * step:,.0f}–'
                   f'{(i + 1) * step:,.0f} ms: {count}</title></rect>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base_y}" y2="{base_y}" '
               f'stroke="#9ca3af"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{base_y}" stroke="#9ca3af"/>')
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * plot_w
        out.append(f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="middle">'
                   f"{high * frac:,.0f}</text>")
    out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{tallest}</text>')
    out.append(f'<text x="{left - 6}" y="{base_y}" text-anchor="end">0</text>')
    for q, colour in ((50, "#1a7f37"), (95, "#c62828")):
        at = m.percentile(samples, q)
        if at is None:
            continue
        x = left + plot_w * at / high
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{base_y}" '
                   f'stroke="{colour}" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{top + 12 + (q == 95) * 14}" '
                   f'fill="{colour}">p{q} {at:,.0f}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
               f'class="muted">{len(samples)} questions</text>')
    out.append("</svg>")
    return "\n".join(out)


def _metric_table(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any],
                  baseline: Mapping[str, MetricValue] | None) -> str:
    maxima = limits.get("max", {}) if isinstance(limits.get("max"), dict) else {}
    rows = []
    for name, value in metrics.items():
        limit = ""
        status = ""
        bound = limits.get(name) if name != "max" else None
        if bound is None and name in maxima:
            limit = f"≤ {maxima[name]}"
            status = _status(not check_thresholds(metrics, {"max": {name: maxima[name]}}))
        elif bound is not None:
            limit = f"≥ {bound}"
            status = _status(not check_thresholds(metrics, {name: bound}))
        base = _fmt(baseline.get(name), name) if baseline else ""
        rows.append(f"<tr><td>{_e(name)}</td><td class='num'>{_fmt(value, name)}</td>"
                    f"<td class='num'>{_e(limit)}</td><td>{status}</td>"
                    f"<td class='num'>{base}</td>"
                    f"<td class='muted'>{_e(METRIC_HELP.get(name, ''))}</td></tr>")
    head = ("<tr><th>metric</th><th>value</th><th>threshold</th><th></th>"
            "<th>baseline</th><th>meaning</th></tr>")
    return f"<h2>All metrics</h2><table>{head}{''.join(rows)}</table>"


def _status(ok: bool) -> str:
    return '<span class="pass">ok</span>' if ok else '<span class="fail">FAIL</span>'


def _baseline_section(metrics: Mapping[str, MetricValue],
                      baseline: Mapping[str, MetricValue] | None,
                      baseline_path: str | None) -> str:
    title = f"<h2>Against the baseline <span class='muted'>{_e(baseline_path)}</span></h2>"
    if baseline is None:
        return title + '<p class="muted">No baseline metrics to compare with.</p>'
    deltas = compare(metrics, baseline)
    rows = []
    changed = 0
    for d in deltas:
        change = d.change
        cls = "" if d.better is None else ("better" if d.better else "worse")
        changed += d.better is not None
        sign = "" if change is None else ("0" if not change else f"{change:+.4g}")
        bar = _delta_bar(_delta_scale(d), d.better)
        rows.append(f"<tr><td>{_e(d.name)}</td><td class='num'>{_fmt(d.baseline, d.name)}</td>"
                    f"<td class='num'>{_fmt(d.current, d.name)}</td>"
                    f"<td class='num {cls}'>{_e(sign)}</td><td>{bar}</td></tr>")
    head = ("<tr><th>metric</th><th>baseline</th><th>now</th><th>Δ</th>"
            "<th>change (full half-bar: ±0.2 for scores, ±100% for times and counts)</th></tr>")
    return (title + f'<p class="muted">{changed} metric(s) moved; green is better.</p>'
            f"<table>{head}{''.join(rows)}</table>")


def _delta_scale(d: Delta) -> float | None:
    """The change as a fraction of a full half-bar, in [-1, 1]."""
    change = d.change
    if change is None:
        return None
    # Fixed scales, so bars from different runs can be compared by eye.
    if d.name in _RATIO_METRICS:
        return max(-1.0, min(1.0, change / 0.2))
    base = float(d.baseline or 0)
    return max(-1.0, min(1.0, change / base)) if base else (1.0 if change > 0 else 0.0)


def _delta_bar(value: float | None, better: bool | None) -> str:
    width, height, mid = 200, 14, 100
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<line x1="{mid}" x2="{mid}" y1="0" y2="{height}" stroke="#9ca3af"/>']
    if value is not None and better is not None:
        w = max(1.0, abs(value) * (mid - 2))
        x = mid if value > 0 else mid - w
        colour = "#1a7f37" if better else "#c62828"
        out.append(f'<rect x="{x:.1f}" y="2" width="{w:.1f}" height="{height - 4}" '
                   f'fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def _checker_section(scores: Any, path: str | None) -> str:
    """The verifier's own scores (`python -m bench.claims`): how far to trust the
    citation metrics above, with its reliability (is a score of 0.8 right 80% of the time?)
    and the thresholds in use."""
    if not isinstance(scores, Mapping):
        return ""
    from rag import support

    title = (f"<h2>Verifier, scored on labelled claims <span class='muted'>{_e(path)}</span>"
             "</h2><p class='muted'>The checker that judges the citation metrics above, on "
             "claim/evidence pairs it was not trained on: SummEdits-news (threshold chosen "
             "on half the articles, scored on the other half), the test split of "
             "evals/support, and the stitched two-sentence claims.</p>")
    sets = {"SummEdits-news": (scores.get("summedits") or {}).get("checker"),
            "evals/support test": scores.get("support_test"),
            "stitched": scores.get("stitched")}
    rows = []
    for name, block in sets.items():
        if not isinstance(block, Mapping):
            continue
        grouped = (block.get("grouped_calibration") or {}).get("held_out_balanced_accuracy_mean")
        rows.append(f"<tr><td>{_e(name)}</td><td class='num'>{_e(block.get('items'))}</td>"
                    f"<td class='num'>{_e(_short(block.get('balanced_accuracy')))}</td>"
                    f"<td class='num'>{_e(_short(grouped))}</td>"
                    f"<td class='num'>{_e(_short(block.get('auc')))}</td></tr>")
    out = [title, "<table><tr><th>set</th><th>pairs</th><th>balanced accuracy</th>"
           "<th>… threshold fitted on other articles</th><th>AUC</th></tr>",
           "".join(rows), "</table>"]
    out.append(_kv_table([("checker threshold (rag.support.THRESHOLD)",
                           _short(support.THRESHOLD))]))
    for name, block in sets.items():
        bins = (block or {}).get("reliability", {}).get("bins") if isinstance(
            block, Mapping) else None
        if not bins:
            continue
        cells = "".join(
            f"<tr><td>{_e(b['bin'])}</td><td class='num'>{_e(b['count'])}</td>"
            f"<td class='num'>{_e(_short(b['mean_score']))}</td>"
            f"<td class='num'>{_e(_short(b['share_true']))}</td></tr>"
            for b in bins if b.get("count"))
        out.append(f"<h3>Reliability, {_e(name)}</h3><table><tr><th>score</th><th>pairs</th>"
                   f"<th>mean score</th><th>share supported</th></tr>{cells}</table>")
    return "".join(out)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        # Lists of records (confusion rows, per-category scores) are shown compactly.
        return [(f"{prefix}[{i}]", json.dumps(v, ensure_ascii=False))
                for i, v in enumerate(value[:20])]
    return [(prefix or "value", value)]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "…"


def _cases_section(results: Sequence[CaseResult]) -> str:
    failing = sum(not r.correct for r in results)
    rows = "".join(_case_row(r) for r in results)
    head = ("<tr><th>id</th><th>question</th><th>verdict</th><th>answer (sentence support)"
            "</th><th>citations</th><th>retrieval</th><th>ms</th></tr>")
    return (f"<h2>Questions <span class='muted'>({failing} of {len(results)} failing)</span>"
            "</h2>"
            '<input type="checkbox" id="only-fail"> <label for="only-fail">only failing '
            "questions</label>"
            f"<table>{head}{rows}</table>")


def _case_row(r: CaseResult) -> str:
    case = r.case
    kind = "answerable" if case.answerable else "unanswerable"
    question = (f"{_e(case.question)}<br><span class='muted'>{kind}"
                f"{' · ' + _e(case.answer_type) if case.answer_type else ''}</span>")
    if case.required_facts:
        facts = " ".join(
            f"<span class='badge {'good' if found else 'bad'}'>{_e(fact)}</span>"
            for fact, found in zip(case.required_facts, r.facts or [False] * len(
                case.required_facts), strict=False))
        question += f"<br>{facts}"
    verdict = _verdict_cell(r)
    answer = _answer_cell(r)
    citations = _citations_cell(r)
    if case.answerable:
        rank = m.first_relevant_rank(r.relevance)
        retrieval = (f"first relevant: {rank if rank else '—'}<br>evidence recall: "
                     f"{_fmt(r.evidence_recall)}")
    else:
        retrieval = "<span class='muted'>n/a</span>"
    cls = "case-pass" if r.correct else "case-fail"
    return (f"<tr class='{cls}' id='q-{_e(case.id)}'><td>{_e(case.id)}</td><td>{question}</td>"
            f"<td>{verdict}</td><td>{answer}</td><td>{citations}</td><td>{retrieval}</td>"
            f"<td class='num'>{r.wall_ms:,.0f}</td></tr>")


def _verdict_cell(r: CaseResult) -> str:
    if r.error:
        return f"<span class='fail'>error</span><br>{_e(r.error)}"
    mode = _e(r.answer.mode) if r.answer else ""
    if not r.case.answerable:
        text = "refused ✓" if r.refused else "answered ✗"
    elif r.refused:
        text = "refused ✗"
    elif r.correct:
        text = "correct ✓"
    else:
        j = r.judgement
        missing = [] if j is None else (
            (["facts missing"] if not j.facts_found else [])
            + (["no evidence cited"] if not j.cited_evidence else []))
        text = "wrong ✗ (" + ", ".join(missing) + ")" if missing else "wrong ✗"
    cls = "pass" if r.correct else "fail"
    return f"<span class='{cls}'>{_e(text)}</span><br><span class='muted'>{mode}</span>"


def _answer_cell(r: CaseResult) -> str:
    if r.answer is None:
        return ""
    if r.refused or not r.verdicts:
        return f"<p class='sent muted'>{_e(r.answer.text)}</p>"
    out = []
    for v in r.verdicts:
        badge = ("<span class='badge good'>supported</span>" if v.supported
                 else "<span class='badge bad'>unsupported</span>")
        markers = "".join(f"[{mk}]" for mk in v.markers)
        why = "" if v.supported or not v.reasons else (
            f"<br><span class='muted'>{_e('; '.join(v.reasons))}</span>")
        out.append(f"<p class='sent'>{badge}<span class='muted'>{v.score:.2f}</span> "
                   f"{_e(v.text)} <b>{_e(markers)}</b>{why}</p>")
    return "".join(out)


def _citations_cell(r: CaseResult) -> str:
    if r.answer is None or not r.answer.citations:
        return ""
    relevant: dict[int, bool] = {}
    for v in r.verdicts:
        relevant.update(v.relevant)
    out = []
    for c in r.answer.citations:
        flags = [_flag(r.exact.get(c.marker, False), "exact", "quote differs"),
                 _flag(relevant.get(c.marker, False), "relevant", "irrelevant")]
        if r.case.answerable:
            flags.append(_flag(r.evidence_hits.get(c.marker, False), "on evidence",
                               "off evidence"))
        where = ", ".join(x for x in (c.source, c.published_at[:10], c.title) if x)
        out.append(f"<div class='cite'><b>[{c.marker}]</b> {''.join(flags)}"
                   f"<span class='muted'>{_e(where or c.doc_id)} · {c.start}–{c.end}</span>"
                   f"<blockquote>{_e(c.quote)}</blockquote></div>")
    return "".join(out)


def _flag(ok: bool, good: str, bad: str) -> str:
    return (f"<span class='badge good'>{_e(good)}</span>" if ok
            else f"<span class='badge bad'>{_e(bad)}</span>")


__all__ = [
    "CaseResult",
    "EvalResult",
    "aggregate",
    "check_thresholds",
    "compare",
    "load_baseline",
    "load_thresholds",
    "render_report",
    "run_eval",
    "score_case",
]
