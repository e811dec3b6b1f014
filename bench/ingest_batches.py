"""How many chunks an ingest should embed and commit at once (`rag.ingest.pipeline.BATCH_CHUNKS`).

    python -m bench.ingest_batches --articles ../shared/bench/multihop-rag/articles.jsonl \
        --sizes 1 64 256 --json evals/results/ingest_batches.json

A killed ingest loses the work since its last commit: at most one batch. Committing after
every file loses the least, but each commit is a disk-synced Chroma write and each batch a
model call; this measures what that costs. Every MultiHop-RAG article becomes one file (its
body, then the next articles' bodies up to `--bodies` of them, so files have a few
chunks), and the folder is ingested from empty once per batch size and round, sizes
interleaved so a busy machine slows them alike. The embedder is shared and warmed first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import environment, report, shown_path
from rag import Assistant, Settings
from rag.index.embeddings import MiniLMEmbedder
from rag.ingest import pipeline


def write_files(articles: Path, folder: Path, bodies: int) -> int:
    rows = [json.loads(line) for line in articles.read_text("utf-8").splitlines() if line]
    for i in range(len(rows)):
        text = "\n\n".join(rows[(i + j) % len(rows)]["body"] for j in range(bodies))
        (folder / f"{i:04d}.txt").write_text(text, encoding="utf-8")
    return len(rows)


def measure(folder: Path, sizes: Sequence[int], rounds: int) -> dict[int, list[float]]:
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    default = pipeline.BATCH_CHUNKS
    try:
        for _ in range(rounds):
            for size in sizes:
                pipeline.BATCH_CHUNKS = size
                with tempfile.TemporaryDirectory() as home:
                    assistant = Assistant(settings=Settings(home=Path(home)), embedder=embedder)
                    started = time.perf_counter()
                    ingest = assistant.ingest(folder)
                    seconds[size].append(round(time.perf_counter() - started, 3))
                    assistant.close()
                    if not ingest.ok:
                        raise SystemExit(f"ingest failed: {ingest.failed[:3]}")
    finally:
        pipeline.BATCH_CHUNKS = default
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_batches",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--bodies", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_files(args.articles, folder, args.bodies)
        seconds = measure(folder, args.sizes, args.rounds)
    best = {size: min(runs) for size, runs in seconds.items()}
    fastest = min(best.values())
    result: dict[str, Any] = {
        "meta": environment(), "articles": shown_path(args.articles), "files": files,
        "bodies_per_file": args.bodies, "default_batch_chunks": pipeline.BATCH_CHUNKS,
        "seconds": {str(k): v for k, v in seconds.items()},
        "slowdown_vs_fastest": {str(k): round(v / fastest, 3) for k, v in best.items()}}
    lines = [f"{files} files, {args.rounds} rounds; best of each batch size:"]
    lines += [f"  {size:>4} chunks per commit: {best[size]:.2f} s "
              f"(x{best[size] / fastest:.2f})" for size in args.sizes]
    return report(result, args.json, lines)


if __name__ == "__main__":
    raise SystemExit(main())
