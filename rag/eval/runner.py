"""The evaluation runner behind `rag eval`: every gold case through `Assistant.ask`, scored
with `rag.eval.metrics`, checked against `evals/thresholds.toml`, written out as
`metrics.json`, `results.jsonl` and a self-contained `report.html`.

Thresholds live in the TOML section named after the dataset's stem (`[seed]` for
`seed.jsonl`). A plain key is a minimum for the metric of that name; a `[<stem>.max]`
sub-table holds maxima (for latency or error counts). A key naming no metric is itself a
failure, so a typo cannot silently disable a check.

How the per-answer scores are aggregated:

- `answerable_accuracy`, `refusal_accuracy`: `rag.eval.gold.judge` over answerable and
  unanswerable cases respectively (the definitions `tests/system/test_gold.py` enforces).
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

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import display_path
from rag.errors import RagError
from rag.eval import metrics as m
from rag.eval.gold import load_gold
from rag.schema import Answer
from rag.verify.checker import check_support

if TYPE_CHECKING:
    from rag.assistant import Assistant
from rag.eval.report import render_report
from rag.eval.results import (
    CaseResult,
    EvalResult,
    MetricValue,
    aggregate,
    check_thresholds,
    load_baseline,
    load_thresholds,
    score_case,
)


def _llm_faithfulness(assistant: Assistant, results: Sequence[CaseResult],
                      notes: list[str]) -> MetricValue:
    """RAGAS-style faithfulness from the configured LLM: the answer split into claims,
    each judged against the cited quotes. Optional, for those who have an endpoint; the
    offline checker stays the gate."""
    generator = assistant.generator
    if generator is None:
        notes.append("--llm-judge needs an LLM (RAG_LLM=openai); skipped")
        return None
    from rag.answer.generation import judge_claims
    from rag.errors import GenerationError

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
    hardening_scores: Mapping[str, Path] | None = None,
    check: m.SupportCheck | None = None,
    llm_judge: bool = False,
) -> EvalResult:
    """Run every case of `dataset` through `assistant.ask`, write metrics.json,
    results.jsonl and report.html into `out_dir`, and check the thresholds.

    `support_scores` defaults to `results/claims.json` (`python -m bench.claims`) next to
    the thresholds file; when it exists its contents are shown in the report. Likewise
    `hardening_scores` (name -> file) defaults to the planted-instruction suite's
    `results/injection.json` (`python -m bench.injection`) and the kill -9 test's
    `results/chaos.json` (`python -m tests.chaos --json ...`): measured by their own
    commands, which take minutes or need a model that obeys its prompt, and summarised
    here with the commit they were measured at. `check` replaces the support checker
    (tests).
    """
    from tqdm import tqdm

    cases = load_gold(dataset)
    document_texts = assistant.document_texts()
    check = check or check_support
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
    if hardening_scores is None and thresholds is not None:
        hardening_scores = {name: thresholds.parent / "results" / f"{name}.json"
                            for name in HARDENING}
    hardening = {name: summary for name, path in (hardening_scores or {}).items()
                 if (summary := _hardening_summary(name, _load_json(path), path)) is not None}

    out_dir.mkdir(parents=True, exist_ok=True)
    result = EvalResult(metrics, failures, out_dir, results, counts, notes, hardening)
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
        "hardening": hardening,
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


HARDENING = ("injection", "chaos")


def _hardening_summary(name: str, scores: Any, path: Path) -> dict[str, Any] | None:
    """The figures of a hardening benchmark's JSON that the report shows, or None."""
    if not isinstance(scores, Mapping) or "error" in scores:
        return None
    meta = scores.get("meta") or {}
    out: dict[str, Any] = {"file": display_path(path), "commit": meta.get("commit"),
                           "generated_at": meta.get("generated_at")}
    if name == "injection":
        suite, news = scores.get("suite") or {}, scores.get("news") or {}
        out.update(cases=suite.get("cases"), languages=len(suite.get("languages") or ()),
                   disguises=len(suite.get("disguises") or ()),
                   modes=suite.get("totals") or {}, news_documents=news.get("documents"),
                   news_flagged=news.get("flagged"))
    else:
        out.update({k: scores.get(k) for k in ("runs", "identical", "kills", "aimed_at_writes",
                                              "inside_a_write", "files")})
    return out


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


__all__ = ["run_eval"]
