"""Calibrate the local model's YES/NO check of the answerer's quote on MultiHop-RAG
development queries, and write the threshold it picks.

    python -m bench.answer_check --json evals/results/answer_check.json --write

The articles are ingested once into a temporary data directory. For every answerable query
the offline answerer answers from the top k=5 passages, as `rag ask` does; then again with
the evidence withheld (the passages from the query's evidence articles, or holding one of
its facts, removed, as `bench.selection` does), where the right outcome is a refusal. Each
answer the answerer gives is put to the local model (`LocalGenerator.answer_probability`):

- positives: answers over all passages whose quote is one of the query's evidence facts;
- negatives: answers over the withheld passages (another outlet may carry the same fact,
  so a few negatives are answers after all: the labels are a floor).

Answers over all passages that quote no evidence fact are scored and reported apart, not
used. The threshold is the highest that keeps 95 % of the positives (`--keep`): a refused
right answer costs the analyst more than a cited wrong one, and on these multi-hop
questions, whose quote holds one of two or three facts, the model often says NO to a
right quote, so the cut best for balanced accuracy alone (reported beside it) would
refuse most answers. `--write` puts it into `rag/answer/answer_check.toml`
with the data's hash and the figures, which the chain reads at run time. The gold sets
are not used: they stay the measure of what the check does to answers
(`python -m bench.gold` with `RAG_LLM=local`).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ROOT, SHARED, Stopwatch, environment, report, shown_path

MULTIHOP = SHARED / "multihop-rag"
THRESHOLDS = ROOT / "rag" / "answer" / "answer_check.toml"
K = 5
# The share of development answers the check must let through (see keeping_threshold).
KEEP = 0.95


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """The probability that a positive outscores a negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def best_threshold(positives: Sequence[float], negatives: Sequence[float]
                   ) -> tuple[float, float]:
    """(threshold, balanced accuracy) keeping scores >= threshold, over the observed
    scores as cut points; the lowest threshold among equals."""
    best = (0.0, 0.5)
    for cut in sorted({0.0, *positives, *negatives}):
        balanced = (_share(positives, cut, keep=True) + _share(negatives, cut, keep=False)) / 2
        if balanced > best[1] + 1e-12:
            best = (cut, balanced)
    return best


def keeping_threshold(positives: Sequence[float], keep: float) -> float:
    """The highest threshold that still keeps at least `keep` of the positives: a refused
    right answer costs the analyst more than an answered wrong one that is cited, so the
    check may only take what it is sure of."""
    ranked = sorted(positives, reverse=True)
    if not ranked:
        return 0.0
    kept = max(1, math.ceil(keep * len(ranked)))
    return ranked[kept - 1]


def run(articles: Path, queries: Path, model: str, k: int = K, limit: int | None = None,
        keep: float = KEEP) -> dict[str, Any]:
    # Imported here so the `rag` measured is the one on sys.path when the bench runs.
    from bench.retrieval import load_queries, normalise
    from bench.selection import is_fact
    from rag import Assistant, Settings
    from rag.answer.local_llm import LocalGenerator

    watch = Stopwatch()
    rows = load_queries(Path(queries))[:limit]
    result: dict[str, Any] = {
        "bench": "answer_check", **environment(), "articles": shown_path(articles),
        "queries": shown_path(queries), "k": k, "model": model,
        "data_sha256": hashlib.sha256(Path(queries).read_bytes()
                                      + Path(articles).read_bytes()).hexdigest()}
    scores: dict[str, list[float]] = {"positive": [], "negative": [], "unlabelled": []}
    undecided = 0
    check_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-check-") as tmp:
        assistant = Assistant(home=tmp)
        assistant.ingest(Path(articles))
        generator = LocalGenerator(Settings.from_env(home=tmp, llm="local",
                                                     local_model=model))
        result["load_s"] = round(generator.warm(), 2)
        for row in rows:
            facts = list(dict.fromkeys(normalise(e["fact"])
                                       for e in row.get("evidence") or []))
            if not facts:
                continue
            question = row["question"]
            urls = {e.get("url") for e in row.get("evidence") or [] if e.get("url")}
            withheld = [p for p in assistant.retrieve(question, k=4 * k) if p.url not in urls
                        and not any(f in normalise(p.text) for f in facts)][:k]
            for group, shown in (("all", assistant.retrieve(question, k=k)),
                                 ("withheld", withheld)):
                extraction = assistant.answerer.answer(question, shown)
                if extraction.refused:
                    continue
                citations = extraction.citations
                if group == "withheld":
                    label = "negative"
                elif any(is_fact(normalise(c.quote), facts) for c in citations):
                    label = "positive"
                else:
                    label = "unlabelled"
                began = time.perf_counter()
                probability = generator.answer_probability(question, citations)
                check_ms.append((time.perf_counter() - began) * 1000)
                if probability is None:
                    undecided += 1
                    continue
                scores[label].append(probability)
    positives, negatives = scores["positive"], scores["negative"]
    threshold = keeping_threshold(positives, keep)
    best, best_balanced = best_threshold(positives, negatives)
    result.update({
        "counts": {label: len(values) for label, values in scores.items()},
        "undecided": undecided,
        "auc": _round(auc(positives, negatives)),
        "keep": keep,
        "threshold": round(threshold, 4),
        "balanced_accuracy": _round(
            (_share(positives, threshold, keep=True) + _share(negatives, threshold,
                                                               keep=False)) / 2),
        # For reference: the cut that would serve balanced accuracy alone.
        "best_balanced": {"threshold": round(best, 4), "balanced_accuracy":
                          round(best_balanced, 4),
                          "kept_positive": _round(_share(positives, best, keep=True))},
        "kept_positive": _round(_share(positives, threshold, keep=True)),
        "refused_negative": _round(_share(negatives, threshold, keep=False)),
        "refused_unlabelled": _round(_share(scores["unlabelled"], threshold, keep=False)),
        "check_ms_p50": _round(sorted(check_ms)[len(check_ms) // 2] if check_ms else None),
        "scores": {label: [round(v, 4) for v in values] for label, values in scores.items()},
        "seconds": watch.seconds(),
    })
    return result


def _share(values: Sequence[float], threshold: float, *, keep: bool) -> float:
    if not values:
        return 0.0
    return sum((v >= threshold) == keep for v in values) / len(values)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def write_thresholds(result: dict[str, Any], path: Path = THRESHOLDS) -> None:
    lines = [
        "# The local model's YES/NO check of the answerer's quote (rag/answer/answer_check.py):",
        "# a quote it gives a P(YES) under `threshold` is refused. Written by",
        "#   python -m bench.answer_check --write",
        f"# on {result['queries']} (answerable queries; positives: the answerer's quote is",
        "# an evidence fact; negatives: its answers with the evidence withheld), with the",
        f"# model {result['model']}, k={result['k']}, at commit {str(result['commit'])[:10]}.",
        f"# The threshold keeps {result['keep']:.0%} of the positives; the cut best for",
        f"# balanced accuracy alone would be {result['best_balanced']['threshold']}, keeping "
        f"{result['best_balanced']['kept_positive']} of them.",
        f"threshold = {result['threshold']}",
        f'data_sha256 = "{result["data_sha256"]}"',
        f'model = "{result["model"]}"',
        f"positives = {result['counts']['positive']}",
        f"negatives = {result['counts']['negative']}",
        f"auc = {result['auc']}",
        f"balanced_accuracy = {result['balanced_accuracy']}",
        f"kept_positive = {result['kept_positive']}",
        f"refused_negative = {result['refused_negative']}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def summary_lines(result: dict[str, Any]) -> list[str]:
    counts = result["counts"]
    return [
        f"answer check ({result['model']}) at {str(result['commit'])[:10]}"
        f"{' (rag/ modified)' if result['dirty_rag'] else ''}: {result['seconds']} s",
        f"positives {counts['positive']}, negatives {counts['negative']}, unlabelled "
        f"{counts['unlabelled']}, undecided {result['undecided']}; AUC {result['auc']}",
        f"threshold {result['threshold']} (keeps {result['keep']} of the positives): "
        f"balanced accuracy {result['balanced_accuracy']}, "
        f"positives kept {result['kept_positive']}, negatives refused "
        f"{result['refused_negative']}, unlabelled refused {result['refused_unlabelled']}",
        f"check p50 {result['check_ms_p50']} ms",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_check",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    parser.add_argument("--articles", type=Path, default=MULTIHOP / "articles.jsonl")
    parser.add_argument("--queries", type=Path, default=MULTIHOP / "queries.jsonl")
    parser.add_argument("--model", default="packaged:1.5b",
                        help="RAG_LOCAL_MODEL's values (the threshold is for this model)")
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--keep", type=float, default=KEEP,
                        help="the share of the positives the threshold keeps")
    parser.add_argument("--limit", type=int, default=None,
                        help="first N queries only (a smoke test, not a figure)")
    parser.add_argument("--write", action="store_true",
                        help=f"write the threshold into {shown_path(THRESHOLDS)}")
    args = parser.parse_args(argv)
    result = run(args.articles, args.queries, args.model, args.k, args.limit, args.keep)
    if args.limit:
        result["limit"] = args.limit
    elif args.write:
        write_thresholds(result)
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
