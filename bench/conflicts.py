"""Sources that disagree: does `rag.verify.conflicts` flag two documents that state
different values for the same thing, and only those?

    python -m bench.conflicts --multihop ../shared/bench/multihop-rag \
        --json evals/results/conflicts.json          # measure
    python -m bench.conflicts --fit                    # refit rag/verify/conflicts.json

A labelled set is made from the MultiHop-RAG articles, deterministically (`--seed`). Each
anchor is a sentence that states a number in digits; the cited side is the anchor, the
other side a short passage (a sentence with its neighbours) from "another document":

- `changed` (conflict): the anchor as another outlet ran it, lightly edited (two words
  dropped, perhaps "according to reports" added), one of its numbers changed (a year by
  1-3, another value by 10-80 %, written the same way).
- `agreeing` (no conflict): the same edits with every value kept, a thousands separator
  perhaps written another way ("12,500" / "12500").
- `other_time` (no conflict): the number changed and also the year or month its sentence
  names: a figure for another time.
- `same_article` (no conflict): another sentence of the anchor's own article that states
  a number; an article is taken not to contradict itself, so these are the hard cases of
  one story counting several things.
- `nearest_elsewhere` (no conflict, assumed): the sentence with a number from another
  article that is closest to the anchor by embedding. Two outlets can truly disagree, so
  the label can be wrong; its errors are listed for reading.

Articles are split in two halves by a hash of their URL: the thresholds are fitted on
`fit` (grid search, the best worse-of-precision-and-recall) and every figure is reported
for both halves; `held_out` is the half the thresholds are not fitted on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from random import Random
from typing import Any

import numpy as np

from bench._common import SHARED, environment, report, shown_path, write_json
from rag.config import Settings
from rag.eval.dated import DIGITS, changed_value, digit_mentions
from rag.index.embeddings import Embedder, get_embedder
from rag.schema import Passage
from rag.text.lexicon import MONTH_NAMES
from rag.text.numbers import NumberMention, number_mentions
from rag.text.sentences import sentence_spans
from rag.verify.conflicts import THRESHOLDS, Thresholds, candidates, thresholds

KINDS = ("changed", "agreeing", "other_time", "same_article", "nearest_elsewhere")
_MONTHS = [m.capitalize() for m in MONTH_NAMES]
_TIME = re.compile(r"\b(?:(?:19|20)\d\d|" + "|".join(_MONTHS) + r")\b")
_WORDS = (8, 60)


@dataclass
class Pair:
    kind: str
    half: str
    anchor: str
    other: str  # the other document's passage
    conflict: bool
    scored: list[tuple[float, float]] | None = None  # (context overlap, similarity)


@cache
def _embedder() -> Embedder:
    return get_embedder(Settings().embedder)


def _half(article: dict[str, Any]) -> str:
    digest = hashlib.sha256(article["url"].encode()).digest()
    return "fit" if digest[0] % 2 == 0 else "held_out"


def _sentences(body: str) -> list[str]:
    return [body[s:e] for s, e in sentence_spans(body)]


def _agreeing_value(surface: str, rng: Random) -> str:
    digits = DIGITS.search(surface)
    assert digits is not None
    text = digits.group()
    if "." in text or rng.random() < 0.5:
        return surface
    plain = text.replace(",", "")
    if len(plain) < 4:
        return surface
    written = plain if "," in text else f"{int(plain):,}"
    return surface[:digits.start()] + written + surface[digits.end():]


def _edited(sentence: str, mention: NumberMention, value: str, rng: Random) -> str:
    """The sentence as a reprint: `mention` written as `value`, a word dropped on each
    side of it, sometimes a source added."""
    before, after = sentence[:mention.start].split(" "), sentence[mention.end:].split(" ")
    for words in (before, after):  # one word from each side, where it has a few
        droppable = [i for i in range(1, len(words) - 1)
                     if words[i].isalpha() and not number_mentions(words[i])]
        if len(droppable) > 3:
            del words[rng.choice(droppable)]
    text = " ".join(before) + value + " ".join(after)
    if rng.random() < 0.3 and text[:1].isupper():
        text = "According to reports, " + text[0].lower() + text[1:]
    return text


def _other_time(sentence: str, mention: NumberMention, rng: Random) -> str | None:
    """The sentence with its number changed and also the time it names (a year moved by
    1-3, a month replaced): a figure for another time, no conflict; None when the
    sentence names no time apart from the number itself."""
    if mention.value.is_year:
        return None
    times = [m for m in _TIME.finditer(sentence)
             if m.end() <= mention.start or m.start() >= mention.end]
    if not times:
        return None
    when = rng.choice(times)
    if when.group().isdigit():
        moved = str(int(when.group()) + rng.choice([-3, -2, -1, 1, 2, 3]))
    else:
        moved = rng.choice([m for m in _MONTHS if m != when.group()])
    surface = sentence[mention.start:mention.end]
    value = changed_value(surface, False, rng)
    spans = sorted([(when.start(), when.end(), moved), (mention.start, mention.end, value)],
                   reverse=True)
    for start, end, text in spans:
        sentence = sentence[:start] + text + sentence[end:]
    return sentence


def _passage(sentences: list[str], index: int, middle: str) -> str:
    """`middle` with the sentences around `index`, as a retrieved passage would be."""
    around = [*sentences[max(0, index - 1):index], middle, *sentences[index + 1:index + 2]]
    return " ".join(around)


def build(articles: Sequence[dict[str, Any]], anchors: int, seed: int) -> list[Pair]:
    rng = Random(seed)
    pairs: list[Pair] = []
    for half in ("fit", "held_out"):
        chosen = [a for a in articles if _half(a) == half]
        pool = []  # (article index, sentence index, sentence)
        for ai, article in enumerate(chosen):
            sentences = _sentences(article["body"])
            for si, sentence in enumerate(sentences):
                if _WORDS[0] <= len(sentence.split()) <= _WORDS[1] and \
                        digit_mentions(sentence):
                    pool.append((ai, si, sentence))
        rng.shuffle(pool)
        for ai, si, sentence in pool[:anchors]:
            sentences = _sentences(chosen[ai]["body"])
            mention = rng.choice(digit_mentions(sentence))
            surface = sentence[mention.start:mention.end]
            changed = changed_value(surface, mention.value.is_year, rng)
            pairs.append(Pair("changed", half, sentence,
                              _passage(sentences, si, _edited(sentence, mention, changed, rng)),
                              True))
            timed = _other_time(sentence, mention, rng)
            if timed is not None:
                pairs.append(Pair("other_time", half, sentence,
                                  _passage(sentences, si, timed), False))
            same = _agreeing_value(surface, rng)
            pairs.append(Pair("agreeing", half, sentence,
                              _passage(sentences, si, _edited(sentence, mention, same, rng)),
                              False))
            others = [(j, s) for j, s in enumerate(sentences)
                      if abs(j - si) > 1 and _WORDS[0] <= len(s.split()) <= _WORDS[1]
                      and number_mentions(s)]
            if others:
                j, other = rng.choice(others)
                pairs.append(Pair("same_article", half, sentence,
                                  _passage(sentences, j, other), False))
        pairs.extend(_nearest_elsewhere(pool[:anchors], pool, chosen, half))
    return pairs


def _nearest_elsewhere(anchors: list[tuple[int, int, str]], pool: list[tuple[int, int, str]],
                       articles: Sequence[dict[str, Any]], half: str) -> list[Pair]:
    vectors = _embedder().embed([s for _, _, s in pool])
    index = {(ai, si): n for n, (ai, si, _) in enumerate(pool)}
    pairs = []
    for ai, si, sentence in anchors:
        similarities = vectors @ vectors[index[(ai, si)]]
        for n in np.argsort(-similarities):
            bi, bj, other = pool[int(n)]
            if bi != ai:
                sentences = _sentences(articles[bi]["body"])
                pairs.append(Pair("nearest_elsewhere", half, sentence,
                                  _passage(sentences, bj, other), False))
                break
    return pairs


def score(pairs: Sequence[Pair]) -> None:
    """Every candidate pair of numbers of each labelled pair, with its context overlap
    and the cosine of the two sentences: the thresholds are then a cut on these."""
    embedder = _embedder()
    for pair in pairs:
        passage = Passage(doc_id="other", text=pair.other, start=0, end=len(pair.other),
                          score=1.0)
        found = candidates(pair.anchor, "cited", [passage], min_overlap=0.0)
        if not found:
            pair.scored = []
            continue
        vectors = embedder.embed([pair.anchor] + [pair.other[c.start:c.end] for c in found])
        sims = (vectors[1:] @ vectors[0]).tolist()
        pair.scored = [(c.overlap, s) for c, s in zip(found, sims, strict=True)]


def flagged(pair: Pair, limits: Thresholds) -> bool:
    return any(o >= limits.min_context_overlap and s >= limits.min_similarity
               for o, s in pair.scored or [])


def figures(pairs: Sequence[Pair], limits: Thresholds) -> dict[str, Any]:
    tp = sum(flagged(p, limits) and p.conflict for p in pairs)
    fp = sum(flagged(p, limits) and not p.conflict for p in pairs)
    fn = sum(not flagged(p, limits) and p.conflict for p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_kind = {kind: {"pairs": sum(p.kind == kind for p in pairs),
                      "flagged": sum(p.kind == kind and flagged(p, limits) for p in pairs)}
               for kind in KINDS}
    return {"pairs": len(pairs), "conflicts": sum(p.conflict for p in pairs),
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "by_kind": by_kind}


def fit(pairs: Sequence[Pair]) -> Thresholds:
    """The grid point whose worse of precision and recall is best on `pairs` (the
    target is a floor on each); among ties the strictest."""
    best: tuple[float, float, float] | None = None
    for overlap in np.arange(0.0, 1.0001, 0.05):
        for similarity in np.arange(0.3, 0.9501, 0.025):
            limits = Thresholds(round(float(overlap), 3), round(float(similarity), 3))
            scores = figures(pairs, limits)
            key = (min(scores["precision"], scores["recall"]), limits.min_context_overlap,
                   limits.min_similarity)
            if best is None or key > best:
                best = key
    assert best is not None
    return Thresholds(best[1], best[2])


def _data_hash(pairs: Sequence[Pair]) -> str:
    rows = [[p.kind, p.half, p.anchor, p.other, p.conflict] for p in pairs]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conflicts",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--multihop", type=Path, default=SHARED / "multihop-rag")
    parser.add_argument("--anchors", type=int, default=150, help="per half")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fit", action="store_true",
                        help=f"refit the thresholds on the fit half into {THRESHOLDS.name}")
    parser.add_argument("--errors", action="store_true",
                        help="print the fit half's misses and false alarms")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    path = args.multihop / "articles.jsonl"
    articles = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    pairs = build(articles, args.anchors, args.seed)
    score(pairs)
    halves = {half: [p for p in pairs if p.half == half] for half in ("fit", "held_out")}
    if args.fit:
        limits = fit(halves["fit"])
        write_json(THRESHOLDS, {
            "min_context_overlap": limits.min_context_overlap,
            "min_similarity": limits.min_similarity,
            "made_by": "python -m bench.conflicts --fit",
            "data": shown_path(path), "seed": args.seed, "anchors_per_half": args.anchors,
            "pairs_sha256": _data_hash(pairs),
            "fit_half": figures(halves["fit"], limits),
        })
        thresholds.cache_clear()
    limits = thresholds()
    result = {"meta": environment(), "data": shown_path(path), "seed": args.seed,
              "pairs_sha256": _data_hash(pairs),
              "thresholds": {"min_context_overlap": limits.min_context_overlap,
                             "min_similarity": limits.min_similarity},
              **{half: figures(rows, limits) for half, rows in halves.items()}}
    lines = [f"thresholds: context overlap >= {limits.min_context_overlap}, "
             f"similarity >= {limits.min_similarity}"]
    for half in halves:
        f = result[half]
        kinds = ", ".join(f"{k} {v['flagged']}/{v['pairs']}" for k, v in f["by_kind"].items())
        lines.append(f"{half}: precision {f['precision']}, recall {f['recall']} "
                     f"({f['pairs']} pairs; flagged: {kinds})")
    # The errors quote the articles, so they are printed for reading, never written to
    # the committed figures; only the fit half's, to keep the other half unread.
    if args.errors:
        for pair in halves["fit"]:
            if flagged(pair, limits) != pair.conflict:
                lines += [f"{'missed' if pair.conflict else 'false alarm'} ({pair.kind}):",
                          f"  cited: {pair.anchor}", f"  other: {pair.other}"]
    return report(result, args.json, lines)


if __name__ == "__main__":
    raise SystemExit(main())
