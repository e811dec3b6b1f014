"""Dated questions: when one story ran twice with different figures, does a question that
names a date, a bound or "the latest" get the version of that time?

    python -m bench.dated --multihop ../shared/bench/multihop-rag \
        --json evals/results/dated.json

The set and its scoring are `rag.eval.dated` (also `rag eval --dated DIR`); this is the
command that writes the committed figures, with the environment every bench records.
Each anchor is a MultiHop-RAG article cited by a development query whose body states a
number in digits; it gets an update, the same outlet and title 3-40 days later with one
number changed, and questions that echo the changed sentence ask for the version of a
day (`on_original`, `on_update`), a month (`in_month`), `before` the update, or now
(`latest`). Anchors are split in halves by a hash of their URL; `held_out` is the half
nothing is tuned on.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import environment, report, shown_path
from rag.errors import LoaderError
from rag.eval.dated import ANCHORS, KINDS, SEED, Update, make_update, questions, summary_lines
from rag.eval.dated import run as run_dated
from rag.index.embeddings import get_embedder

__all__ = ["KINDS", "Update", "main", "make_update", "questions", "run"]


def run(multihop: Path, anchors: int = ANCHORS, seed: int = SEED) -> dict[str, Any]:
    """The figures, with the bundled MiniLM embedder whatever RAG_EMBEDDER says."""
    try:
        return run_dated(multihop, anchors, seed, embedder=get_embedder("minilm"))
    except LoaderError as exc:
        raise SystemExit(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dated",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--multihop", type=Path, default=Path("../shared/bench/multihop-rag"))
    parser.add_argument("--anchors", type=int, default=ANCHORS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    result = {"meta": environment(), "data": shown_path(args.multihop),
              **run(args.multihop, args.anchors, args.seed)}
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
