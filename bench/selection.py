"""MultiHop-RAG evidence-sentence selection: does the answerer rank the answering sentences
first, and do its answers hold the gold answer?

    python -m bench.selection --json evals/results/selection.json

The articles (`../shared/bench/multihop-rag/articles.jsonl`) are ingested once into a
temporary data directory, the way `bench.retrieval` does, with the product's default
settings. For every non-null query the top k=5 passages come from `Assistant.retrieve`,
and `Assistant.answerer.score_sentences` ranks their sentences:

- P@1: the top sentence is one of the query's evidence facts;
- P@3: the share of the top three that are evidence facts (out of 3);
- recall@3: the share of the query's distinct facts among the top three;
- evidence_retrieved: the share of queries with any fact among the retrieved sentences at
  all, the ceiling on P@1 that retrieval sets.

A sentence matches a fact when one contains the other after whitespace normalisation
(the sentence splitter may cut a fact in two, or a fact may be one clause of a sentence).
Every sentence of these articles is some query's fact, so the negatives are other queries'
evidence, not filler.

Answers come from `Assistant.ask` (offline, extractive) at the same k. On answerable queries
the answer holds the gold answer when the gold string occurs in the answer text, case
insensitive, as the benchmark scores it; a refusal never counts (the refusal text would
otherwise "contain" a gold "No"). `contains_gold_word` is the stricter reading, whole words
only. Null queries are right when refused. Latency is the wall-clock time of `ask`.

With `--llm local` the answers come from the in-process model (`RAG_LLM=local`: the
answerer's decision, the quote check, a draft, sentence-by-sentence verification), other
settings from the environment (`RAG_MODELS_DIR` reuses an assembled model); the selection
and withheld-evidence figures are the offline answerer's either way. Each answer's
`first_token_ms` (from the answer stage's start to the model's first word) is kept.

Withheld evidence (RGB's "negative rejection"): every answerable query again, with the
articles its evidence comes from removed from what the answerer sees (the top `4k`
passages, minus those from an evidence URL or holding an evidence fact, cut to k). The
passages left are the corpus's closest text on the same topic that does not answer, and
the right outcome is a refusal. Measured on `Assistant.answerer.answer`, the offline
answer decision itself. Another outlet may carry the same fact, so a few of these are
answerable after all: the figure is a floor on how often a refusal is right.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import (
    SHARED,
    Stopwatch,
    environment,
    percentiles,
    report,
    shown_path,
)

MULTIHOP = SHARED / "multihop-rag"
K = 5


def is_fact(sentence: str, facts: Sequence[str]) -> bool:
    return bool(sentence) and any(sentence in fact or fact in sentence for fact in facts)


def contains_gold(answer: str, gold: str) -> tuple[bool, bool]:
    """(substring, whole-word) containment of the gold answer, ignoring case."""
    gold = gold.strip()
    if not gold:
        return False, False
    loose = gold.lower() in answer.lower()
    strict = re.search(rf"(?<!\w){re.escape(gold)}(?!\w)", answer, re.IGNORECASE) is not None
    return loose, strict


def _rate(values: Sequence[bool | float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run(articles: Path, queries: Path, k: int = K, limit: int | None = None,
        answerer: str = "rules", llm: str = "none") -> dict[str, Any]:
    # Imported here so the `rag` measured is the one on sys.path when the bench runs.
    from bench.retrieval import load_queries, normalise
    from rag import Assistant, RagError, Settings

    watch = Stopwatch()
    result: dict[str, Any] = {"bench": "selection", **environment(),
                              "articles": shown_path(articles), "queries": shown_path(queries),
                              "k": k, "answerer": answerer, "llm": llm}
    rows = load_queries(Path(queries))[:limit]
    selection: list[dict[str, Any]] = []
    nulls: list[dict[str, Any]] = []
    withheld: list[bool] = []
    latencies: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    errors: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-selection-") as tmp:
        assistant = Assistant(home=tmp, settings=Settings.from_env(
            home=tmp, answerer=answerer, llm=llm))
        started = time.perf_counter()
        report = assistant.ingest(Path(articles))
        result["ingest_s"] = round(time.perf_counter() - started, 2)
        result["documents"] = len(report.added) + len(report.updated) + len(report.unchanged)
        result["chunks"] = report.chunks
        # Model loading and index warm-up are the process's cost, not an answer's.
        assistant.ask("warm-up question about the news", k=k)
        for row in rows:
            question = row["question"]
            facts = list(dict.fromkeys(normalise(e["fact"]) for e in row.get("evidence") or []))
            try:
                began = time.perf_counter()
                answer = assistant.ask(question, k=k)
                latencies.append((time.perf_counter() - began) * 1000)
                for stage in ("retrieve_ms", "answer_ms", "check_ms", "first_token_ms"):
                    if stage in answer.timings:
                        stages[stage].append(answer.timings[stage])
                scored = (assistant.answerer.score_sentences(question,
                                                             assistant.retrieve(question, k=k))
                          if facts else [])
            except RagError as exc:
                # A question the API rejects is a failure of the system, counted as such.
                errors.append({"id": str(row.get("id")), "error": f"{type(exc).__name__}: {exc}"})
                answer, scored = None, []
            if not facts:
                nulls.append({"refused": answer is None or answer.refused})
                continue
            if answer is not None:  # a rejected question was counted as an error
                withheld.append(_withheld_refused(assistant, question, row, facts, k))
            ranked = [normalise(s.text) for s in scored]
            top = [is_fact(text, facts) for text in ranked[:3]]
            refused = answer is None or answer.refused
            loose, strict = ((False, False) if refused or answer is None
                             else contains_gold(answer.text, row.get("answer", "")))
            gold = str(row.get("answer", "")).strip()
            selection.append({
                "type": row.get("question_type", ""),
                "yes_no": gold.lower() in {"yes", "no"},
                "p@1": bool(top and top[0]),
                "p@3": sum(top) / 3,
                "recall@3": sum(any(is_fact(t, [f]) for t in ranked[:3]) for f in facts)
                / len(facts),
                "evidence_retrieved": any(is_fact(t, facts) for t in ranked),
                "answered": not refused,
                "contains_gold": loose,
                "contains_gold_word": strict,
            })
    result.update(summarise(selection, nulls, latencies))
    result["withheld_evidence"] = {"queries": len(withheld), "refused": _rate(withheld)}
    # The answer's own split of its time, to tell a slower retriever from a slower answerer.
    result["answer_stages_ms"] = {stage: percentiles(v) for stage, v in stages.items()}
    result["errors"] = errors
    result["seconds"] = watch.seconds()
    return result


def _withheld_refused(assistant: Any, question: str, row: dict[str, Any],
                      facts: Sequence[str], k: int) -> bool:
    from bench.retrieval import normalise

    urls = {e.get("url") for e in row.get("evidence") or [] if e.get("url")}
    kept = [p for p in assistant.retrieve(question, k=4 * k)
            if p.url not in urls and not any(f in normalise(p.text) for f in facts)][:k]
    return bool(assistant.answerer.answer(question, kept).refused)


_KEYS = ("p@1", "p@3", "recall@3", "evidence_retrieved", "answered", "contains_gold",
         "contains_gold_word")


def summarise(selection: list[dict[str, Any]], nulls: list[dict[str, Any]],
              latencies: list[float]) -> dict[str, Any]:
    def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"queries": len(rows), **{key: _rate([r[key] for r in rows]) for key in _KEYS}}

    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in selection:
        by_type[row["type"]].append(row)
    with_evidence = [r for r in selection if r["evidence_retrieved"]]
    return {
        "answerable": figures(selection),
        # Selection where retrieval left it something to select.
        "p@1_given_evidence_retrieved": _rate([r["p@1"] for r in with_evidence]),
        "by_type": {t: figures(rows) for t, rows in sorted(by_type.items())},
        # Yes/no golds are rarely quoted by an extractive answer: shown apart so the
        # contains-gold rate can be read for the other questions.
        "by_gold": {"yes/no": figures([r for r in selection if r["yes_no"]]),
                    "other": figures([r for r in selection if not r["yes_no"]])},
        "null": {"queries": len(nulls), "refused": _rate([n["refused"] for n in nulls])},
        "answer_latency_ms": percentiles(latencies),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    answerable = result["answerable"]
    lines = [
        f"selection ({result.get('answerer', 'rules')} answerer, llm "
        f"{result.get('llm', 'none')}) at {str(result['commit'])[:10]}"
        f"{' (rag/ modified)' if result['dirty_rag'] else ''}: {result['documents']} "
        f"documents / {result['chunks']} chunks, ingest {result['ingest_s']} s, "
        f"total {result['seconds']} s",
        f"answerable ({answerable['queries']}), k={result['k']}: " + ", ".join(
            f"{key} {answerable[key]}" for key in _KEYS),
        f"P@1 where evidence was retrieved: {result['p@1_given_evidence_retrieved']}",
        f"null ({result['null']['queries']}): refused {result['null']['refused']}",
        f"evidence withheld ({result['withheld_evidence']['queries']}): refused "
        f"{result['withheld_evidence']['refused']}",
        f"answer latency p50 {result['answer_latency_ms']['p50']} ms, "
        f"p95 {result['answer_latency_ms']['p95']} ms",
    ]
    first = result.get("answer_stages_ms", {}).get("first_token_ms")
    if first:
        lines.append(f"first token (answer stage) p50 {first['p50']} ms, p95 {first['p95']} ms")
    for kind, figures in [*result["by_type"].items(), *result["by_gold"].items()]:
        lines.append(f"  {kind} ({figures['queries']}): p@1 {figures['p@1']}, "
                     f"contains_gold {figures['contains_gold']}")
    if result["errors"]:
        lines.append(f"errors: {len(result['errors'])}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.selection",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    parser.add_argument("--articles", type=Path, default=MULTIHOP / "articles.jsonl")
    parser.add_argument("--queries", type=Path, default=MULTIHOP / "queries.jsonl")
    parser.add_argument("--k", type=int, default=K)
    from rag.answer import ANSWERERS

    parser.add_argument("--answerer", choices=ANSWERERS, default="rules",
                        help="the offline answerer measured (RAG_ANSWERER's values)")
    parser.add_argument("--llm", choices=("none", "local"), default="none",
                        help="who phrases the answers: quotes only, or the in-process model")
    parser.add_argument("--limit", type=int, default=None,
                        help="first N queries only (a smoke test, not a figure)")
    args = parser.parse_args(argv)
    result = run(args.articles, args.queries, args.k, args.limit, args.answerer, args.llm)
    if args.limit:
        result["limit"] = args.limit
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
