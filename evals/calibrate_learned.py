"""Choose the verifier's two decision thresholds on development data and write them to
`rag/verify/thresholds.json`.

    python evals/calibrate_learned.py [--multihop ../shared/bench/multihop-rag]

- `stack`: the checker's logistic stack of the cross-encoder's logit, coverage and missing
  names (`rag.verify.checker.FEATURES`), fitted on the dev split of
  `evals/support/pairs.jsonl` (the test split is never read); `support`: its threshold,
  the one with the best balanced accuracy there.
- `answer`: the extractive answerer's refusal threshold. Each development question is
  answered once with no threshold (the best sentence always quoted) and its best score
  kept; a threshold then answers the questions scoring at or above it. Chosen for the best
  mean of two balanced accuracies (answerable answered right, unanswerable refused): over
  the development gold sets on the seed article, and over MultiHop-RAG's development
  queries (null ones refused; an answerable one right when its top sentence is one of its
  evidence facts, the selection the answer leads with).

Ties go to the middle of the best plateau. `evals/gold/seed_sealed3.jsonl` is never read:
it measures questions nobody tuned to. Candidate thresholds are the midpoints between
observed scores, so the choice does not depend on a grid.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag import Assistant, Settings  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.verify.checker import (  # noqa: E402
    FEATURES,
    THRESHOLDS_FILE,
    check_support,
    states_verbatim,
    thresholds,
    window_features,
)

DEVELOPMENT_SETS = ["seed.jsonl", "seed_holdout.jsonl", "seed_sealed.jsonl", "seed_sealed2.jsonl"]


def balanced(scores_pos: Sequence[float], scores_neg: Sequence[float], t: float) -> float:
    tpr = sum(s >= t for s in scores_pos) / max(len(scores_pos), 1)
    tnr = sum(s < t for s in scores_neg) / max(len(scores_neg), 1)
    return (tpr + tnr) / 2


def best_threshold(objective: Callable[[float], float], scores: Sequence[float]
                   ) -> tuple[float, float]:
    values = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(values)] or [0.5]
    rated = [(objective(t), t) for t in candidates]
    top = max(r for r, _ in rated)
    plateau = [t for r, t in rated if r >= top - 1e-12]
    return plateau[len(plateau) // 2], top


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2,
                 sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Weights (bias first) of a logistic regression by Newton's method, lightly
    L2-regularised so separable development data cannot push them to infinity."""
    x = np.hstack([np.ones((len(x), 1)), x])
    sw = np.ones(len(x)) if sample_weight is None else sample_weight * len(x) / sample_weight.sum()
    w = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (sw * (p - y)) + l2 * w
        hess = (x * (sw * p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def support_stack() -> tuple[dict[str, float], float, float]:
    """The stack's weights on the dev pairs (each pair's features from the window the
    model rates highest), then the threshold on the stacked scores."""
    rows = [json.loads(line) for line in (REPO / "evals" / "support" / "pairs.jsonl").open()]
    dev = [r for r in rows if r["split"] == "dev"]
    feats, labels = [], []
    for row in dev:
        (scored,) = window_features([row["claim"]], [row["passage"]])
        if isinstance(scored, str):
            continue
        best, _ = max(scored, key=lambda fw: fw[0]["logit"])
        feats.append([best[k] for k in FEATURES])
        labels.append(float(row["label"] == "supported"))
    w = fit_logistic(np.array(feats), np.array(labels))
    stack = {"bias": round(float(w[0]), 4)} | {
        k: round(float(v), 4) for k, v in zip(FEATURES, w[1:], strict=True)}
    current = json.loads(THRESHOLDS_FILE.read_text())
    THRESHOLDS_FILE.write_text(json.dumps(current | {"stack": stack}) + "\n")
    thresholds.cache_clear()
    # A claim its passage states word for word is decided by that exact check, not by the
    # threshold: those pairs do not vote on it.
    scored_pairs = [(check_support(r["claim"], [r["passage"]]).score, r["label"] == "supported")
                    for r in dev if not states_verbatim(r["claim"], r["passage"])]
    pos = [s for s, y in scored_pairs if y]
    neg = [s for s, y in scored_pairs if not y]
    threshold, ba = best_threshold(lambda t: balanced(pos, neg, t), [s for s, _ in scored_pairs])
    return stack, threshold, ba


Question = list[tuple[dict[str, float], bool]]  # each candidate: features, answers?


def gold_questions() -> tuple[list[Question], list[Question]]:
    """(answerable, unanswerable) development gold questions, each as its candidate
    sentences: a candidate answers when it overlaps the question's gold evidence."""
    from rag.eval.metrics import locate_evidence, overlaps

    answerable: list[Question] = []
    unanswerable: list[Question] = []
    with tempfile.TemporaryDirectory() as home, \
            Assistant(home=home, settings=Settings(answerer="learned")) as assistant:
        assistant.ingest(REPO / "corpus")
        texts = assistant.document_texts()
        for name in DEVELOPMENT_SETS:
            for case in load_gold(REPO / "evals" / "gold" / name):
                spans = [s for group in locate_evidence(case.evidence, texts) for s in group]
                passages = assistant.retrieve(case.question)
                question = []
                for sentence in assistant.answerer.score_sentences(case.question, passages):
                    doc = passages[sentence.passage_index].doc_id
                    question.append((sentence.features,
                                     overlaps(doc, sentence.start, sentence.end, spans)))
                (answerable if case.answerable else unanswerable).append(question)
    return answerable, unanswerable


def multihop_questions(multihop: Path) -> tuple[list[Question], list[Question]]:
    from bench.retrieval import load_queries

    answerable: list[Question] = []
    unanswerable: list[Question] = []
    with tempfile.TemporaryDirectory() as home, \
            Assistant(home=home, settings=Settings(answerer="learned")) as assistant:
        assistant.ingest(multihop / "articles.jsonl")
        for row in load_queries(multihop / "queries.jsonl"):
            facts = [" ".join(e["fact"].split()) for e in row.get("evidence") or []]
            passages = assistant.retrieve(row["question"])
            question = []
            for sentence in assistant.answerer.score_sentences(row["question"], passages):
                text = " ".join(sentence.text.split())
                question.append((sentence.features,
                                 any(text in f or f in text for f in facts)))
            (answerable if facts else unanswerable).append(question)
    return answerable, unanswerable


def answer_stack(sources: Sequence[tuple[list[Question], list[Question]]]
                 ) -> tuple[dict[str, float], float, float]:
    """The selector's stack fitted on every candidate sentence (each source weighted
    equally), then the refusal threshold on each question's best stacked score: an
    answerable question is right when its best sentence answers it."""
    from rag.answer.selector import FEATURES as ANSWER_FEATURES

    rows, labels, weights = [], [], []
    for answerable, unanswerable in sources:
        candidates = [c for q in answerable + unanswerable for c in q]
        for features, answers in candidates:
            rows.append([features[k] for k in ANSWER_FEATURES])
            labels.append(float(answers))
            weights.append(1.0 / len(candidates))
    w = fit_logistic(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    stack = {"bias": round(float(w[0]), 4)} | {
        k: round(float(v), 4) for k, v in zip(ANSWER_FEATURES, w[1:], strict=True)}

    def prob(features: dict[str, float]) -> float:
        z = stack["bias"] + sum(stack[k] * features[k] for k in ANSWER_FEATURES)
        return float(1 / (1 + np.exp(-z)))

    rated = []
    for answerable, unanswerable in sources:
        right, refuse, every = [], [], []
        for q in answerable:
            if q:
                best = max(q, key=lambda c: prob(c[0]))
                every.append(prob(best[0]))
                if best[1]:
                    right.append(prob(best[0]))
        for q in unanswerable:
            if q:
                refuse.append(max(prob(c[0]) for c in q))
                every.append(refuse[-1])
        # An answerable question whose best sentence is wrong fails at every threshold.
        missed = len(answerable) - len(right)
        rated.append((right, refuse, missed, every))

    def objective(t: float) -> float:
        total = 0.0
        for right, refuse, missed, _ in rated:
            tpr = sum(s >= t for s in right) / max(len(right) + missed, 1)
            tnr = sum(s < t for s in refuse) / max(len(refuse), 1)
            total += (tpr + tnr) / 2
        return total / len(rated)

    threshold, ba = best_threshold(objective, [s for r in rated for s in r[3]])
    return stack, threshold, ba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multihop", type=Path,
                        default=REPO.parent / "shared" / "bench" / "multihop-rag")
    args = parser.parse_args()
    current = json.loads(THRESHOLDS_FILE.read_text())
    stack, support, support_ba = support_stack()
    gold = gold_questions()
    hop = multihop_questions(args.multihop)
    answer_weights, answer, answer_ba = answer_stack([gold, hop])
    result = {
        "support": round(support, 4),
        "answer": round(answer, 4),
        "stack": stack,
        "answer_stack": answer_weights,
        "made_by": "python evals/calibrate_learned.py",
        "development": {
            "support": {"set": "evals/support/pairs.jsonl split=dev",
                        "balanced_accuracy": round(support_ba, 4)},
            "answer": {"sets": [*DEVELOPMENT_SETS, "multihop-rag queries.jsonl"],
                       "mean_balanced_accuracy": round(answer_ba, 4),
                       "gold": {"answerable": len(gold[0]), "unanswerable": len(gold[1])},
                       "multihop": {"answerable": len(hop[0]), "unanswerable": len(hop[1])}},
        },
    }
    THRESHOLDS_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"was {current.get('support')} / {current.get('answer')}")


if __name__ == "__main__":
    main()
