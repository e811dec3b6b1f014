"""Calibrate the extractive answerer's refusal threshold on the seed gold set.

    python evals/calibrate.py [--dataset evals/gold/seed.jsonl] [--corpus corpus]

Ingests the corpus into a temporary data directory, answers every gold question at each
candidate threshold, and prints the share of answerable questions answered correctly
(with a citation on the evidence), the share of unanswerable ones refused, and their
mean (balanced accuracy). The threshold in `rag/extractive.py` is the best of these.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rag import Assistant
from rag.gold import judge, load_gold

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO / "evals" / "gold" / "seed.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = parser.parse_args()
    cases = load_gold(args.dataset)
    with tempfile.TemporaryDirectory() as home, Assistant(home=home) as assistant:
        assistant.ingest(args.corpus)
        texts = assistant.document_texts()
        answerable = [c for c in cases if c.answerable]
        unanswerable = [c for c in cases if not c.answerable]
        rows = []
        for step in range(24, 100, 3):
            assistant.answerer.threshold = step / 100
            right = sum(judge(c, assistant.ask(c.question), texts).correct for c in answerable)
            refused = sum(judge(c, assistant.ask(c.question), texts).correct
                          for c in unanswerable)
            rows.append((step / 100, right / len(answerable), refused / len(unanswerable)))
    print("threshold  answerable  refused  balanced")
    for threshold, right, refused in rows:
        print(f"{threshold:9.2f}  {right:10.3f}  {refused:7.3f}  {(right + refused) / 2:8.3f}")
    best = max(rows, key=lambda r: (r[1] + r[2]) / 2)
    print(f"best balanced accuracy at threshold {best[0]:.2f}")


if __name__ == "__main__":
    main()
