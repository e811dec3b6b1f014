"""Claim-checking benchmark for whatever `rag.check_support` is (or `--checker`).

    python -m bench.claims --json evals/results/claims.json
    python -m bench.claims --checker some.module:check --json other.json

Three data sets, all scored through the one call `check(claim, passages)` that returns an
object with `supported` (bool) and `score` (float in [0, 1], higher = more supported):

SummEdits-news (`../shared/bench/summedits-news/pairs.jsonl`, 819 pairs over 25 articles,
never copied into the repository). Each article is cut into passages of four consecutive
sentences starting every second sentence (`rag.text.sentences.sentence_spans`): windows of that
size are what retrieval hands the checker, a uniform cut works on the one article with no
paragraph breaks, and with the overlap any two adjacent sentences share a passage, so a
claim joining them is checkable. Each summary sentence is checked against all the
article's passages; the pair's score is the lowest of its sentences' scores (a summary is
only as consistent as its worst sentence) and its verdict is "all sentences supported".
Reported: AUC (threshold-free), balanced accuracy at the checker's own verdicts, and
balanced accuracy with a threshold fitted on half the articles and scored on the other
half (sorted doc_ids, even vs odd index, both ways, and their mean): the README's
"calibrate on articles, score the others". The word-overlap baseline the issue compares
with (share of the summary's content words found anywhere in the article) is fitted the
same grouped way.

`evals/support/pairs.jsonl`, test split (claim vs its one passage): balanced accuracy,
AUC, accuracy per kind of pair. `evals/support/stitched.jsonl` (48 claims that join two
sentences of a passage): the same.

Time per check is also taken against exactly five passages (`five_passages`: each SummEdits
summary sentence with the five article windows sharing most words with it), the size of
an answer's retrieved set.

Reliability tables (10 equal-width score bins: mean score, share actually consistent,
count) for the SummEdits pairs and the support test split say whether a score can be read
as a probability. Time per check is wall-clock per call, after one warm-up call (model
loading is the process's cost, not a claim's); a checker that caches passage work gets the
benefit on SummEdits, where every article's passages are checked ~30 times.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench._common import (
    ROOT,
    SHARED,
    Stopwatch,
    environment,
    percentiles,
    report,
    shown_path,
)

SUMMEDITS = SHARED / "summedits-news" / "pairs.jsonl"
SUPPORT_PAIRS = ROOT / "evals" / "support" / "pairs.jsonl"
STITCHED = ROOT / "evals" / "support" / "stitched.jsonl"
WINDOW_SENTENCES = 4
WINDOW_STRIDE = 2
BINS = 10


class Verdict(Protocol):
    supported: bool
    score: float


Checker = Callable[[str, Sequence[str]], Verdict]


@dataclass
class Scored:
    """One labelled item: `label` True means consistent / supported."""

    label: bool
    score: float
    verdict: bool
    group: str = ""
    kind: str = ""


class TimedChecker:
    """The checker, with each call's wall-clock time and passage count kept."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self.ms: list[float] = []
        self.passages: list[int] = []

    def __call__(self, claim: str, passages: Sequence[str]) -> Verdict:
        started = time.perf_counter()
        verdict = self.check(claim, passages)
        self.ms.append((time.perf_counter() - started) * 1000)
        self.passages.append(len(passages))
        return verdict

    def timing(self) -> dict[str, Any]:
        return {"checks": len(self.ms), "ms_per_check": percentiles(self.ms),
                "passages_per_check": percentiles([float(n) for n in self.passages])}


def load_checker(spec: str) -> Checker:
    """`module:function`, imported now (not at bench import), so the `rag` measured is the
    one on sys.path when the bench runs."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise SystemExit(f"--checker must be module:function, got {spec!r}")
    checker: Checker = getattr(importlib.import_module(module_name), name)
    return checker


def load_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[:limit] if limit else rows


# --- metrics ------------------------------------------------------------------------------

def balanced_accuracy(labels: Sequence[bool], predictions: Sequence[bool]) -> float:
    """Mean of the recall of each class; 0.5 for a constant prediction."""
    recalls = []
    for cls in (True, False):
        members = [p for y, p in zip(labels, predictions, strict=True) if y == cls]
        if members:
            recalls.append(sum(p == cls for p in members) / len(members))
    return round(sum(recalls) / len(recalls), 4) if recalls else 0.0


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half):
    the Mann-Whitney statistic over average ranks."""
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return round((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg), 4)


def fit_threshold(labels: Sequence[bool], scores: Sequence[float]) -> tuple[float, float]:
    """The threshold t (consistent iff score >= t) with the best balanced accuracy on these
    items, and that accuracy. Candidates are the midpoints between neighbouring distinct
    scores and the two ends; among equally good ones the middle one is taken, so the
    choice does not lean on an accident of which end was tried first."""
    distinct = sorted(set(scores))
    if not distinct:
        return 0.5, 0.0
    candidates = [distinct[0]] + [(a + b) / 2 for a, b in itertools.pairwise(distinct)] + [
        distinct[-1] + 1e-9]
    results = [(balanced_accuracy(labels, [s >= t for s in scores]), t) for t in candidates]
    best = max(ba for ba, _ in results)
    tied = [t for ba, t in results if ba == best]
    return tied[len(tied) // 2], best


def grouped_calibration(items: Sequence[Scored]) -> dict[str, Any]:
    """Fit the threshold on the articles at even positions of the sorted doc_ids, score the
    odd ones, then the other way round: no article informs its own threshold."""
    groups = sorted({item.group for item in items})
    halves = {"even": set(groups[0::2]), "odd": set(groups[1::2])}
    directions = {}
    for fit_on, score_on in (("even", "odd"), ("odd", "even")):
        fit = [i for i in items if i.group in halves[fit_on]]
        held = [i for i in items if i.group in halves[score_on]]
        threshold, fit_ba = fit_threshold([i.label for i in fit], [i.score for i in fit])
        directions[f"fit_{fit_on}_score_{score_on}"] = {
            "threshold": round(threshold, 6),
            "fit_balanced_accuracy": fit_ba,
            "held_out_balanced_accuracy": balanced_accuracy(
                [i.label for i in held], [i.score >= threshold for i in held]),
            "fit_pairs": len(fit), "held_out_pairs": len(held),
        }
    held_out = [d["held_out_balanced_accuracy"] for d in directions.values()
                if d["held_out_pairs"]]
    return {"articles": {h: len(g) for h, g in halves.items()}, **directions,
            "held_out_balanced_accuracy_mean":
                round(sum(held_out) / len(held_out), 4) if held_out else None}


def reliability(items: Sequence[Scored], bins: int = BINS) -> dict[str, Any]:
    """Equal-width score bins; a calibrated score has mean score ≈ share consistent in each.
    ECE is the count-weighted mean gap."""
    table: list[dict[str, Any]] = []
    members: list[list[Scored]] = [[] for _ in range(bins)]
    for item in items:
        clipped = min(max(item.score, 0.0), 1.0)
        members[min(int(clipped * bins), bins - 1)].append(item)
    gap = 0.0
    for index, inside in enumerate(members):
        row: dict[str, Any] = {"bin": f"[{index / bins:.1f}, {(index + 1) / bins:.1f}"
                                      + ("]" if index == bins - 1 else ")"),
                               "count": len(inside), "mean_score": None, "share_true": None}
        if inside:
            mean_score = sum(i.score for i in inside) / len(inside)
            share = sum(i.label for i in inside) / len(inside)
            row.update(mean_score=round(mean_score, 4), share_true=round(share, 4))
            gap += len(inside) * abs(mean_score - share)
        table.append(row)
    return {"bins": table, "ece": round(gap / len(items), 4) if items else None}


def verdict_metrics(items: Sequence[Scored]) -> dict[str, Any]:
    labels = [i.label for i in items]
    verdicts = [i.verdict for i in items]
    positives = [i for i in items if i.label]
    negatives = [i for i in items if not i.label]
    result: dict[str, Any] = {
        "items": len(items), "true": len(positives), "false": len(negatives),
        "balanced_accuracy": balanced_accuracy(labels, verdicts),
        # Which way the checker errs: rejecting good claims or passing bad ones.
        "true_recall": round(sum(i.verdict for i in positives) / len(positives), 4)
        if positives else None,
        "false_recall": round(sum(not i.verdict for i in negatives) / len(negatives), 4)
        if negatives else None,
        "auc": auc(labels, [i.score for i in items]),
    }
    kinds: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        if item.kind:
            kinds[item.kind].append(item.verdict == item.label)
    if kinds:
        result["accuracy_by_kind"] = {kind: {"accuracy": round(sum(ok) / len(ok), 4),
                                             "items": len(ok)}
                                      for kind, ok in sorted(kinds.items())}
    return result


# --- word-overlap baseline ----------------------------------------------------------------

# A fixed list here, not the package's: the baseline must not move when `rag` changes.
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours said says say
""".split())
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS}


def word_overlap(summary: str, document: str) -> float:
    """Share of the summary's distinct content words that occur in the document."""
    words = content_words(summary)
    return len(words & content_words(document)) / len(words) if words else 1.0


# --- data sets ----------------------------------------------------------------------------

def sentences(text: str) -> list[str]:
    from rag.text.sentences import sentence_spans

    found = [text[s:e] for s, e in sentence_spans(text)]
    return found or ([text.strip()] if text.strip() else [])


def article_passages(document: str) -> list[str]:
    """Windows of WINDOW_SENTENCES sentences every WINDOW_STRIDE sentences, each an exact
    slice of the article; the last window always reaches the article's end."""
    from rag.text.sentences import sentence_spans

    spans = sentence_spans(document)
    if not spans:
        return [document] if document.strip() else []
    last_start = max(len(spans) - WINDOW_SENTENCES, 0)
    starts = list(range(0, last_start + 1, WINDOW_STRIDE))
    if starts[-1] != last_start:
        starts.append(last_start)
    return [document[spans[s][0]:spans[min(s + WINDOW_SENTENCES, len(spans)) - 1][1]]
            for s in starts]


def bench_summedits(check: TimedChecker, path: Path, limit: int | None) -> dict[str, Any]:
    rows = load_jsonl(path, limit)
    passages_of: dict[str, list[str]] = {}
    checker_items: list[Scored] = []
    overlap_items: list[Scored] = []
    per_pair_sentences: list[int] = []
    caught_by_edit: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        doc_id = row["doc_id"]
        if doc_id not in passages_of:
            passages_of[doc_id] = article_passages(row["document"])
        claims = sentences(row["summary"])
        per_pair_sentences.append(len(claims))
        verdicts = [check(claim, passages_of[doc_id]) for claim in claims]
        label = int(row["label_int"]) == 1
        score = min((float(v.score) for v in verdicts), default=0.0)
        supported = bool(verdicts) and all(bool(v.supported) for v in verdicts)
        checker_items.append(Scored(label, score, supported, doc_id))
        overlap_items.append(Scored(label, word_overlap(row["summary"], row["document"]),
                                    False, doc_id))
        if not label:
            for edit in row.get("edit_types") or ["unknown"]:
                caught_by_edit[edit].append(not supported)
    return {
        "path": shown_path(path),
        "pairs": len(rows),
        "articles": len(passages_of),
        "passages_per_article": percentiles([float(len(p)) for p in passages_of.values()]),
        "sentences_per_summary": percentiles([float(n) for n in per_pair_sentences]),
        "passages": f"{WINDOW_SENTENCES}-sentence windows every {WINDOW_STRIDE} sentences",
        "pair_score": "min over the summary's sentences",
        "checker": {
            **verdict_metrics(checker_items),
            "grouped_calibration": grouped_calibration(checker_items),
            # Share of inconsistent pairs the verdict rejects, by the kind of edit made.
            "inconsistent_caught_by_edit_type": {
                edit: {"caught": round(sum(c) / len(c), 4), "pairs": len(c)}
                for edit, c in sorted(caught_by_edit.items())},
            "reliability": reliability(checker_items),
        },
        "word_overlap_baseline": {
            "auc": auc([i.label for i in overlap_items], [i.score for i in overlap_items]),
            "grouped_calibration": grouped_calibration(overlap_items),
        },
    }


def time_five_passages(check: TimedChecker, path: Path, limit: int | None) -> None:
    """Time only: each SummEdits summary sentence against the 5 article windows sharing the
    most content words with it, the way an answer's sentence meets its top-5 passages."""
    windows_of: dict[str, list[tuple[str, set[str]]]] = {}
    for row in load_jsonl(path, limit):
        windows = windows_of.get(row["doc_id"])
        if windows is None:
            windows = [(w, content_words(w)) for w in article_passages(row["document"])]
            windows_of[row["doc_id"]] = windows
        for claim in sentences(row["summary"]):
            words = content_words(claim)
            top = sorted(range(len(windows)), key=lambda i: (-len(words & windows[i][1]), i))[:5]
            check(claim, [windows[i][0] for i in sorted(top)])


def bench_pairs(check: TimedChecker, rows: Iterable[dict[str, Any]],
                with_reliability: bool) -> dict[str, Any]:
    items = []
    for row in rows:
        verdict = check(row["claim"], [row["passage"]])
        items.append(Scored(row["label"] == "supported", float(verdict.score),
                            bool(verdict.supported), kind=row.get("kind", "")))
    result = verdict_metrics(items)
    if with_reliability:
        result["reliability"] = reliability(items)
    return result


def run(checker_spec: str, summedits: Path, support_pairs: Path, stitched: Path,
        limit: int | None = None) -> dict[str, Any]:
    watch = Stopwatch()
    result: dict[str, Any] = {"bench": "claims", "checker": checker_spec, **environment()}
    raw = load_checker(checker_spec)
    raw("The model is loaded once.", ["The model is loaded once, before timing."])
    timings: dict[str, Any] = {}

    check = TimedChecker(raw)
    result["summedits"] = bench_summedits(check, summedits, limit)
    timings["summedits"] = check.timing()

    check = TimedChecker(raw)
    test = [r for r in load_jsonl(support_pairs) if r["split"] == "test"][:limit]
    result["support_test"] = {"path": shown_path(support_pairs),
                              **bench_pairs(check, test, with_reliability=True)}
    timings["support_test"] = check.timing()

    check = TimedChecker(raw)
    result["stitched"] = {"path": shown_path(stitched),
                          **bench_pairs(check, load_jsonl(stitched, limit),
                                        with_reliability=False)}
    timings["stitched"] = check.timing()

    check = TimedChecker(raw)
    time_five_passages(check, summedits, limit)
    timings["five_passages"] = check.timing()
    result["timing"] = timings
    result["seconds"] = watch.seconds()
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    se = result["summedits"]
    checker = se["checker"]
    overlap = se["word_overlap_baseline"]
    lines = [
        f"checker {result['checker']} at {str(result['commit'])[:10]}"
        f"{' (rag/ modified)' if result['dirty_rag'] else ''}; {result['seconds']} s",
        f"SummEdits-news ({se['pairs']} pairs, {se['articles']} articles): "
        f"AUC {checker['auc']}, balanced accuracy at verdict {checker['balanced_accuracy']} "
        f"(consistent recall {checker['true_recall']}, inconsistent recall "
        f"{checker['false_recall']}), grouped-threshold "
        f"{checker['grouped_calibration']['held_out_balanced_accuracy_mean']}, "
        f"ECE {checker['reliability']['ece']}",
        f"  word overlap: AUC {overlap['auc']}, grouped-threshold "
        f"{overlap['grouped_calibration']['held_out_balanced_accuracy_mean']}",
    ]
    for name in ("support_test", "stitched"):
        part = result[name]
        lines.append(f"{name} ({part['items']}): balanced accuracy {part['balanced_accuracy']}, "
                     f"AUC {part['auc']}")
    for name, timing in result["timing"].items():
        lines.append(f"  {name}: {timing['checks']} checks, p50 "
                     f"{timing['ms_per_check']['p50']} ms, p95 {timing['ms_per_check']['p95']} "
                     f"ms, {timing['passages_per_check']['mean']} passages per check")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.claims",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    parser.add_argument("--checker", default="rag:check_support",
                        help="module:function with check_support's signature "
                             "(default: rag:check_support)")
    parser.add_argument("--summedits", type=Path, default=SUMMEDITS)
    parser.add_argument("--support", type=Path, default=SUPPORT_PAIRS)
    parser.add_argument("--stitched", type=Path, default=STITCHED)
    parser.add_argument("--limit", type=int, default=None,
                        help="first N rows of each set only (a smoke test, not a figure)")
    args = parser.parse_args(argv)
    result = run(args.checker, args.summedits, args.support, args.stitched, args.limit)
    if args.limit:
        result["limit"] = args.limit
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
