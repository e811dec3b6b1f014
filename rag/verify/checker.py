"""The verifier: is a claim backed by the given passages? The only place that decides.

1. Every passage is split into sentences; windows of one to three consecutive sentences,
   plus, per passage, its best-covering sentences taken together (a claim may draw on two
   sentences a paragraph apart), are the candidate evidence.
2. A cheap lexical coverage (share of the claim's content words and numbers a window
   holds) keeps the few most promising windows, so the model reads `MAX_CANDIDATES`
   windows per claim, not every window of every passage.
3. The cross-encoder (`rag.verify.cross_encoder`) reads claim and window together; its
   logit, the window's coverage of the claim's content words and the number of the
   claim's names the window never mentions are stacked by a logistic regression fitted on
   development pairs (`evals/calibrate_learned.py`), which gives the calibrated
   probability that the window states everything the claim says. (The model alone is
   trained on synthetic edits; the stack lets real labelled claims weigh it against the
   plain lexical evidence.) The count of missing words is not a feature: beside coverage,
   which says the same, the fit gave coverage a negative weight, an artifact of pairs
   whose false claims are near-copies of their passage, and on SummEdits' real summaries
   that stack scored below the logit alone (AUC 0.56 vs 0.62).
4. Two exact checks the model can miss: a number, amount or year in the claim that the
   window does not hold ("2,000" = "2000" = "two thousand", "$1.4bn" = "$1.4 billion")
   caps that window's score at `HARD_CAP`; a claim the window states word for word (a
   quoted sentence) is supported, whatever the model makes of it (it reads a verbatim
   "has not yet commented" as an inserted negation).

The best window wins; `supported` is its score against the `support` threshold. The
stack's weights and the thresholds are data, in `thresholds.json` beside this file,
written by `python evals/calibrate_learned.py`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.schema import SupportVerdict

# The exact side (content words, numbers, names) is the shared text analysis, the one
# the rule checker and the answer selector read too.
from rag.text.analysis import Analysis, Evidence, analyse, covered_keys, number_problems
from rag.text.sentences import sentence_spans
from rag.text.words import plain
from rag.verify.cross_encoder import CrossEncoder, default_cross_encoder

__all__ = ["SupportVerdict", "check_claims", "check_support", "thresholds"]

MAX_WINDOW_SENTENCES = 3
MAX_CANDIDATES = 4
HARD_CAP = 0.05
THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


@cache
def thresholds() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))
    return data


FEATURES = ("logit", "coverage", "names")
NAMES_CAP = 4


@dataclass
class _Window:
    passage_index: int
    start: int
    end: int
    text: str  # what the model reads: the window, or the chosen sentences joined
    coverage: float  # for ranking: longer windows pay a small penalty
    hard: tuple[str, ...] = ()
    verbatim: bool = False  # the window holds the claim word for word

    def features(self, claim: Analysis, logit: float) -> dict[str, float]:
        names = missing_names(claim, analyse(self.text))
        return {"logit": logit, "coverage": _coverage(claim, self.text),
                "names": float(min(names, NAMES_CAP))}


def missing_names(claim: Analysis, evidence: Analysis) -> int:
    """The claim's names (capitalised words not opening a sentence) the evidence never
    mentions; "US" is found in "United States" through its initials."""
    return len({t.low for t in claim.tokens
                if t.cap and not t.initial and t.kind == "word"
                and not evidence.has_word(t.stem, t.low)})


def stacked(features: dict[str, float]) -> float:
    """P(supported) from a window's features, by the fitted stack."""
    stack = thresholds()["stack"]
    z = float(stack["bias"]) + sum(float(stack[k]) * features[k] for k in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


@lru_cache(maxsize=4096)
def _sentences(passage: str) -> tuple[tuple[int, int], ...]:
    spans = sentence_spans(passage)
    if not spans and passage.strip():
        start = len(passage) - len(passage.lstrip())
        spans = [(start, len(passage.rstrip()))]
    return tuple(spans)


def _coverage(claim: Analysis, text: str) -> float:
    """The share of the claim's content keys `text` holds."""
    hits = covered_keys(claim, analyse(text))
    return sum(hits) / len(hits) if hits else 0.0


def _candidates(claim_text: str, passages: Sequence[str]) -> list[_Window]:
    claim = analyse(claim_text)
    windows: list[_Window] = []
    for p_index, passage in enumerate(passages):
        spans = _sentences(passage)
        if not spans:
            continue
        singles = [_coverage(claim, passage[s:e]) for s, e in spans]
        for i in range(len(spans)):
            for j in range(i + 1, min(i + MAX_WINDOW_SENTENCES, len(spans)) + 1):
                start, end = spans[i][0], spans[j - 1][1]
                text = passage[start:end]
                # A longer window must cover more than its best sentence to be worth it.
                cov = singles[i] if j == i + 1 else _coverage(claim, text) - 0.02 * (j - i - 1)
                windows.append(_Window(p_index, start, end, text, cov))
        if len(spans) > MAX_WINDOW_SENTENCES:
            best = sorted(sorted(range(len(spans)), key=lambda k: -singles[k])[:2])
            if best[-1] - best[0] >= MAX_WINDOW_SENTENCES:
                text = " ".join(passage[spans[k][0] : spans[k][1]] for k in best)
                windows.append(_Window(p_index, spans[best[0]][0], spans[best[-1]][1], text,
                                       _coverage(claim, text) - 0.03))
    windows.sort(key=lambda w: (-w.coverage, len(w.text), w.passage_index, w.start))
    chosen = windows[:MAX_CANDIDATES]
    for w in chosen:
        w.hard = tuple(number_problems(claim, Evidence.of([analyse(w.text)])))
        w.verbatim = states_verbatim(claim_text, w.text)
    return chosen


def states_verbatim(claim: str, evidence: str) -> bool:
    """Whether `evidence` holds `claim` word for word (its final stop aside)."""
    claim = plain(claim).rstrip(".!?;: ")
    return bool(claim) and claim in plain(evidence)


def check_support(claim: str, passages: Sequence[str], *,
                  model: CrossEncoder | None = None) -> SupportVerdict:
    """Whether `claim` is supported by `passages`, with the best evidence span.

    `evidence == passages[passage_index][evidence_start:evidence_end]` always holds;
    with no usable passage, `passage_index` is -1 and the evidence is empty.
    """
    return check_claims([claim], passages, model=model)[0]


def check_claims(claims: Sequence[str], passages: Sequence[str], *,
                 model: CrossEncoder | None = None) -> list[SupportVerdict]:
    """`check_support` for many claims against the same passages, in one model batch."""
    return [_verdict(passages, scored) for scored in window_features(claims, passages, model)]


def window_features(claims: Sequence[str], passages: Sequence[str],
                    model: CrossEncoder | None = None
                    ) -> list[list[tuple[dict[str, float], _Window]] | str]:
    """Per claim, each candidate window with its features; or why there is none."""
    passages = list(passages)
    stripped = [c.strip() for c in claims]
    per_claim = [_candidates(c, passages) if analyse(c).content else [] for c in stripped]
    pairs = [(c, w.text) for c, ws in zip(stripped, per_claim, strict=True) for w in ws]
    logits = ((model or default_cross_encoder()).logits(pairs)[:, 0] if pairs
              else np.zeros(0, dtype=np.float32))
    out: list[list[tuple[dict[str, float], _Window]] | str] = []
    k = 0
    for claim, windows in zip(stripped, per_claim, strict=True):
        claim_analysis = analyse(claim)
        if not claim_analysis.content:
            out.append("claim has no content words")
            continue
        if not windows:
            out.append("no passages")
            continue
        out.append([(w.features(claim_analysis, float(logits[k + i])), w)
                    for i, w in enumerate(windows)])
        k += len(windows)
    return out


def _verdict(passages: Sequence[str], scored: list[tuple[dict[str, float], _Window]] | str
             ) -> SupportVerdict:
    if isinstance(scored, str):
        return _no_verdict((scored,))
    threshold = float(thresholds()["support"])
    ranked = []
    for features, w in scored:
        p = 1.0 if w.verbatim else stacked(features)
        ranked.append((min(p, HARD_CAP) if w.hard else p, w))
    score, best = max(ranked, key=lambda sw: (sw[0], -sw[1].passage_index, -sw[1].start))
    reasons = list(best.hard)
    if score < threshold and not reasons:
        reasons.append(f"the closest evidence does not state it (support {score:.2f})")
    passage = passages[best.passage_index]
    return SupportVerdict(
        supported=score >= threshold, score=round(score, 6),
        passage_index=best.passage_index, evidence_start=best.start,
        evidence_end=best.end, evidence=passage[best.start : best.end],
        reasons=tuple(reasons))


def _no_verdict(reasons: tuple[str, ...]) -> SupportVerdict:
    return SupportVerdict(False, 0.0, -1, 0, 0, "", reasons)
