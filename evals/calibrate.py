"""Calibrate the extractive answerer's refusal threshold and relevance margin.

    python evals/calibrate.py [--dataset evals/gold/seed.jsonl ...] [--corpus corpus]

Ingests the corpus into a temporary data directory, answers every gold question of the
development sets at each candidate threshold and margin, and prints the share of
answerable questions answered correctly (with a citation on the evidence), the share of
unanswerable ones refused, and their mean (balanced accuracy). `REFUSAL_THRESHOLD` and
`RELEVANCE_MARGIN` in `rag/answer/extractive.py` are the best pair, ties going to the middle of
the best plateau. The development sets are the seed set, the held-out set and the first two
sealed sets (each became development data once measured); `evals/gold/seed_sealed3.jsonl`
is kept out of this on purpose: it measures what the calibrated answerer does on
questions nobody tuned it to.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rag import Assistant
from rag.eval.gold import GoldCase, judge, load_gold

REPO = Path(__file__).resolve().parent.parent
DEVELOPMENT_SETS = [REPO / "evals" / "gold" / "seed.jsonl",
                    REPO / "evals" / "gold" / "seed_sealed.jsonl",
                    REPO / "evals" / "gold" / "seed_sealed2.jsonl",
                    REPO / "evals" / "gold" / "seed_holdout.jsonl"]
THRESHOLDS = [step / 100 for step in range(24, 49, 3)]
MARGINS = [0.05, 0.10, 0.15, 0.20, 0.30, 1.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append",
                        help="a gold set (repeatable); default: the seed and held-out sets")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = parser.parse_args()
    cases: list[GoldCase] = [c for path in args.dataset or DEVELOPMENT_SETS
                             for c in load_gold(path)]
    answerable = [c for c in cases if c.answerable]
    unanswerable = [c for c in cases if not c.answerable]
    rows = []
    with tempfile.TemporaryDirectory() as home, Assistant(home=home) as assistant:
        assistant.ingest(args.corpus)
        texts = assistant.document_texts()
        for threshold in THRESHOLDS:
            for margin in MARGINS:
                assistant.answerer.threshold = threshold
                assistant.answerer.margin = margin
                right = sum(judge(c, assistant.ask(c.question), texts).correct
                            for c in answerable)
                refused = sum(judge(c, assistant.ask(c.question), texts).correct
                              for c in unanswerable)
                rows.append((threshold, margin, right / len(answerable),
                             refused / len(unanswerable)))
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions")
    print("threshold  margin  answerable  refused  balanced")
    for threshold, margin, right, refused in rows:
        print(f"{threshold:9.2f}  {margin:6.2f}  {right:10.3f}  {refused:7.3f}  "
              f"{(right + refused) / 2:8.3f}")
    top = max((r[2] + r[3]) / 2 for r in rows)
    plateau = [r for r in rows if (r[2] + r[3]) / 2 == top]
    best = plateau[len(plateau) // 2]
    print(f"best balanced accuracy {top:.3f} at threshold {best[0]:.2f}, margin {best[1]:.2f} "
          f"({len(plateau)} settings tie)")


if __name__ == "__main__":
    main()
