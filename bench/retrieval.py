"""Retrieval benchmark on MultiHop-RAG-style data: hybrid retrieval against the dense
baseline, in one run over one freshly built index.

Scoring follows the benchmark's README: per non-null query, Hits@k is the share of its
evidence sentences contained in the first k passages, averaged over queries; all-evidence
is the share of queries with every evidence sentence in the top k; MRR is the reciprocal
rank of the first passage holding any evidence. Null queries (no evidence) score the
answerer instead: the share it refuses given what each retriever returned.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import EmbedderProxy
from rag.answer.extractive import ExtractiveAnswerer
from rag.config import Settings, display_path
from rag.eval.metrics import percentile
from rag.index.embeddings import Embedder
from rag.ingest.documents import INVISIBLE_CHARS
from rag.retrieve.base import Retriever
from rag.retrieve.dense import DenseRetriever
from rag.retrieve.hybrid import HybridRetriever
from rag.schema import Passage

# The dense retriever is the baseline; "hybrid-norerank" shows what the rerank adds.
SYSTEMS = ("hybrid", "hybrid-norerank", "dense")
BASELINE = "dense"
_SPACE = re.compile(r"\s+")


class _Uncached(EmbedderProxy):
    """The embedder without its query cache: both systems embed the same questions, and
    the second must not be timed on the first one's cache hits."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed([text])[0]


def normalise(text: str) -> str:
    return _SPACE.sub(" ", INVISIBLE_CHARS.sub("", text)).strip()


def load_queries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def score_query(facts: Sequence[str], passages: Sequence[Passage], k: int) -> dict[str, float]:
    texts = [normalise(p.text) for p in passages]
    wanted = list(dict.fromkeys(normalise(f) for f in facts))

    def found_within(n: int) -> int:
        return sum(any(f in t for t in texts[:n]) for f in wanted)

    first = next((rank for rank, t in enumerate(texts[:k], start=1)
                  if any(f in t for f in wanted)), None)
    return {
        "hits@4": found_within(4) / len(wanted),
        f"hits@{k}": found_within(k) / len(wanted),
        f"all@{k}": float(found_within(k) == len(wanted)),
        f"mrr@{k}": 1.0 / first if first else 0.0,
    }


def _half(query_id: Any) -> str:
    """"odd"/"even" for numeric ids: the weights were tuned on the odd-numbered queries,
    so the even ones show how well they carry over."""
    try:
        return "odd ids" if int(query_id) % 2 else "even ids"
    except (TypeError, ValueError):
        return ""


def _percentile(values: Sequence[float], q: float) -> float:
    return percentile(values, q) or 0.0


def run_retrieval_bench(articles: Path, queries: Path, k: int = 10,
                        json_out: Path | None = None,
                        progress: Callable[[str], None] | None = None,
                        *, embedder: Embedder | None = None) -> dict[str, Any]:
    """Ingest `articles` into a temporary data directory, run every query through the
    hybrid and the dense retriever, and score both. Writes `json_out` (and a Markdown
    table beside it, `.md`) when given."""
    from rag.assistant import Assistant

    rows = load_queries(Path(queries))
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        home = Path(tmp)
        # Dense settings: the side index is built below, once, and timed on its own.
        assistant = Assistant(home=home, settings=Settings(hybrid=False), embedder=embedder)
        started = time.perf_counter()
        report = assistant.ingest(Path(articles))
        ingest_s = time.perf_counter() - started
        embedder = _Uncached(assistant.embedder)
        hybrid = HybridRetriever(assistant.store, embedder, home / "bm25")
        started = time.perf_counter()
        hybrid.refresh()
        index_ms = (time.perf_counter() - started) * 1000
        retrievers: dict[str, Retriever] = {
            "hybrid": hybrid,
            "hybrid-norerank": hybrid.with_config(rerank=False),
            "dense": DenseRetriever(assistant.store, embedder),
        }
        answerer = ExtractiveAnswerer(assistant.embedder)
        default_k = assistant.settings.top_k
        # Load the model and warm Chroma before anything is timed.
        for retriever in retrievers.values():
            retriever.retrieve("warm-up question about the news", k)

        scores: dict[str, list[dict[str, Any]]] = {s: [] for s in SYSTEMS}
        latencies: dict[str, list[float]] = {s: [] for s in SYSTEMS}
        nulls: dict[str, list[dict[str, bool]]] = {s: [] for s in SYSTEMS}
        answered: dict[str, list[bool]] = {s: [] for s in SYSTEMS}
        for number, row in enumerate(rows, start=1):
            if progress and number % 50 == 0:
                progress(f"{number}/{len(rows)} queries")
            facts = [e["fact"] for e in row.get("evidence") or []]
            # Taking turns at going first, so no system always runs on caches the
            # previous one warmed for the same question.
            turn = number % len(SYSTEMS)
            for system in SYSTEMS[turn:] + SYSTEMS[:turn]:
                retriever = retrievers[system]
                began = time.perf_counter()
                passages = retriever.retrieve(row["question"], k)
                latencies[system].append((time.perf_counter() - began) * 1000)
                if facts:
                    result: dict[str, Any] = score_query(facts, passages, k)
                    result["type"] = row.get("question_type", "")
                    result["half"] = _half(row.get("id"))
                    scores[system].append(result)
                    refused = answerer.answer(row["question"], passages[:default_k])[2]
                    answered[system].append(not refused)
                else:
                    nulls[system].append({
                        "at_k": answerer.answer(row["question"], passages)[2],
                        "at_default_k": answerer.answer(row["question"],
                                                        passages[:default_k])[2],
                    })

    result = {
        "articles": display_path(articles),
        "queries": display_path(queries),
        "k": k,
        "default_k": default_k,
        "documents": len(report.added) + len(report.updated) + len(report.unchanged),
        "chunks": report.chunks,
        "ingest_s": round(ingest_s, 2),
        "side_index_build_ms": round(index_ms, 1),
        # Latency depends on what else the machine runs; these say how busy it was.
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "scored_queries": len(scores["hybrid"]),
        "null_queries": len(nulls["hybrid"]),
        "systems": {s: _summarise(scores[s], latencies[s], nulls[s], answered[s], k)
                    for s in SYSTEMS},
    }
    result["ratio"] = {s: _ratios(result["systems"][s], result["systems"][BASELINE])
                       for s in SYSTEMS if s != BASELINE}
    if json_out is not None:
        json_out = Path(json_out)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        json_out.with_suffix(".md").write_text(format_markdown(result), encoding="utf-8")
    return result


def _summarise(scores: list[dict[str, Any]], latencies: list[float],
               nulls: list[dict[str, bool]], answered: list[bool], k: int) -> dict[str, Any]:
    metrics = ["hits@4", f"hits@{k}", f"all@{k}", f"mrr@{k}"]

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 4) if rows else 0.0

    types = sorted({r["type"] for r in scores})
    return {
        **{m: mean(scores, m) for m in metrics},
        "by_type": {t: {"n": sum(r["type"] == t for r in scores),
                        **{m: mean([r for r in scores if r["type"] == t], m) for m in metrics}}
                    for t in types},
        "by_half": {h: {"n": sum(r["half"] == h for r in scores),
                        **{m: mean([r for r in scores if r["half"] == h], m) for m in metrics}}
                    for h in sorted({r["half"] for r in scores} - {""})},
        "latency_p50_ms": round(_percentile(latencies, 50), 2),
        "latency_p95_ms": round(_percentile(latencies, 95), 2),
        "null_refusal@k": round(statistics.fmean(n["at_k"] for n in nulls), 4) if nulls else 0.0,
        "null_refusal@default_k": (round(statistics.fmean(n["at_default_k"] for n in nulls), 4)
                                   if nulls else 0.0),
        "answered_non_null@default_k": (round(statistics.fmean(answered), 4)
                                        if answered else 0.0),
    }


def _ratios(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    return {key: (round(value / base[key], 3) if base.get(key) else None)
            for key, value in ours.items() if isinstance(value, (int, float))}


_LABELS = {"hybrid": "hybrid", "hybrid-norerank": "no rerank", "dense": "dense"}


def _rows(result: dict[str, Any]) -> list[list[str]]:
    k = result["k"]
    systems = result["systems"]
    keys = ["hits@4", f"hits@{k}", f"all@{k}", f"mrr@{k}", "latency_p50_ms", "latency_p95_ms",
            "null_refusal@k", "null_refusal@default_k", "answered_non_null@default_k"]

    def cell(value: float, key: str) -> str:
        return f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"

    def ratio(value: float, base: float) -> str:
        return f"{value / base:.2f}x" if base else "-"

    rows = []
    for key in keys:
        base = systems[BASELINE][key]
        rows.append([key, *(cell(systems[s][key], key) for s in SYSTEMS),
                     ratio(systems["hybrid"][key], base)])
    for group in ("by_type", "by_half"):
        for kind, figures in systems["hybrid"][group].items():
            for key in (f"hits@{k}", f"all@{k}", f"mrr@{k}"):
                base = systems[BASELINE][group][kind][key]
                rows.append([f"{kind} (n={figures['n']}) {key}",
                             *(cell(systems[s][group][kind][key], key) for s in SYSTEMS),
                             ratio(figures[key], base)])
    return rows


def _header() -> list[str]:
    return ["metric", *(_LABELS[s] for s in SYSTEMS), "hybrid/dense"]


def format_table(result: dict[str, Any]) -> str:
    rows = [_header(), *_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"{result['scored_queries']} scored + {result['null_queries']} null queries, "
        f"{result['documents']} documents / {result['chunks']} chunks, k={result['k']}; "
        f"side index (BM25 + sentence vectors) built in "
        f"{result['side_index_build_ms'] / 1000:.1f} s; load average "
        f"{result['load_average_1m']} on {result['cpus']} CPUs",
    ]
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(result: dict[str, Any]) -> str:
    header = _header()
    lines = [
        "# Retrieval benchmark",
        "",
        f"`{result['queries']}` over `{result['articles']}`: {result['scored_queries']} scored "
        f"and {result['null_queries']} null queries, {result['documents']} documents, "
        f"{result['chunks']} chunks, k={result['k']}. Null refusal is the extractive "
        f"answerer's, given each retriever's top k and the assistant's default top "
        f"{result['default_k']}; `answered_non_null` is the share of answerable queries it "
        "does not refuse at that default. CPU only, bundled MiniLM model; latencies "
        f"measured with a 1-minute load average of {result['load_average_1m']} on "
        f"{result['cpus']} CPUs (the same run for all three, so compare the ratio). The "
        "hybrid weights were tuned on the odd-numbered queries; the even-numbered ones "
        "are held out.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m bench.retrieval",
        description="Hybrid vs dense retrieval on MultiHop-RAG-style data.")
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    result = run_retrieval_bench(args.articles, args.queries, k=args.k, json_out=args.json,
                                 progress=lambda m: print(m, file=sys.stderr))
    print(format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
