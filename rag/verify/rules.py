"""The rule-based support checker, kept as the learned verifier's baseline and its text
analysis: `rag.verify.checker` (the product's verifier) reads its content words, numbers
and names through `analyse`, and `python -m bench.claims --checker
rag.verify.rules:check_support` measures it beside the learned one.

No LLM and no network. The verdict combines lexical checks with a cosine similarity
from the bundled MiniLM embedder:

1. Every passage is split into sentences (`rag.text.sentences.sentence_spans`); among the
   windows of one to three consecutive sentences, the one that covers most of the
   claim's content words and numbers (then the shortest, then the first) is the evidence
   span for that passage.
2. Hard checks on that span catch the errors that still read well: a number, date,
   amount or percentage absent from the evidence ("2,000" = "2000" = "two thousand",
   "$1.4 billion" = "$1.4bn" but not "$1.4 million"); a capitalised name or a month the
   evidence never mentions; a word negated on one side only ("not", "never", "n't",
   "no", "without", "failed to"); two participants swapped around the same verb
   ("Armenia blamed Russia" against "Russia blamed Armenia", passive voice undone). Any
   of them caps the score at HARD_CAP.
3. Otherwise a logistic score of coverage, the number of uncovered content words and the
   claim-to-span cosine decides. The cosine is computed only when the lexical features
   leave the verdict open, so most checks never run the model.

The best passage wins. Sentence embeddings and sentence analyses are cached by text, so
checking several claims against the same retrieved passages pays for the claims only.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.index.embeddings import Embedder, MiniLMEmbedder, bundled_model_files
from rag.schema import SupportVerdict
from rag.text.analysis import Analysis, Evidence, analyse, covered_keys, number_problems
from rag.text.lexicon import MONTH_WORDS, WEEKDAYS
from rag.text.negation import NEGATION_SKIP
from rag.text.sentences import sentence_spans
from rag.text.tokens import IRREGULAR_PAST
from rag.text.words import Tok, word_set, words_match

__all__ = ["SupportVerdict", "check_claims", "check_support", "clear_caches", "features"]

# ---------------------------------------------------------------------------------------
# Calibrated constants. `python evals/support/measure.py --calibrate` fits them on the dev
# split of evals/support/pairs.jsonl only (the test split is never read): a logistic
# regression of the label on the soft features over the dev pairs where no hard check
# fires, then the threshold that maximises dev balanced accuracy over the whole pipeline.
# The rounded values are pasted here.
#
# On the dev split the uncovered-word count carries almost all of the signal: a one-word
# gap is a synonym, three or more are an added clause. The cosine weight came out small
# (claims that copy most of a sentence and add a clause embed close to it too), so the
# cosine only matters when two words are uncovered, and only then is it computed.
W_COVERAGE = 1.10
W_MISSING = -3.63
W_COSINE = 0.57
BIAS = 6.64
THRESHOLD = 0.68
# The cosine assumed when the lexical evidence decides alone (the dev mean); any value in
# [0, 1] gives the same verdict there, this one gives a score close to the full model's.
COSINE_PRIOR = 0.87
# ---------------------------------------------------------------------------------------
# A hard contradiction caps the score far below THRESHOLD whatever the soft features
# say: a verbatim copy of a sentence with one number changed has coverage near 1.
HARD_CAP = 0.05
MAX_WINDOW_SENTENCES = 3
# Longer windows must earn their place: an extra sentence is taken only when it covers
# claim words the shorter window lacks.
WINDOW_PENALTY = 0.02
MISSING_CAP = 6
EMBEDDING_CACHE_SIZE = 8192


def _name_problems(claim: Analysis, ev: Evidence, known_names: frozenset[str]) -> list[str]:
    reasons = []
    seen: set[str] = set()
    tokens = claim.tokens
    for i, t in enumerate(tokens):
        # Number words ("Big Ten", "Two-Day") are the number check's business.
        if not t.cap or t.kind != "word" or t.low in seen or i in claim.number_tokens:
            continue
        if t.initial and not _initial_is_name(tokens, i, claim, known_names):
            continue
        seen.add(t.low)
        if ev.has_word(t.stem, t.low):
            continue
        month = MONTH_WORDS.get(t.low)
        if month is not None or t.low in WEEKDAYS:
            reasons.append(f"date {t.text} not in evidence")
        else:
            reasons.append(f"name {t.text} not in evidence")
    return reasons


def _initial_is_name(
    tokens: Sequence[Tok], i: int, claim: Analysis, known_names: frozenset[str]
) -> bool:
    """Whether a sentence-initial capitalised word is a name rather than grammar."""
    t = tokens[i]
    if t.low in MONTH_WORDS or t.low in WEEKDAYS:
        return True
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is not None and nxt.cap and nxt.kind == "word" and nxt.clause == t.clause:
        return True
    return t.low in claim.caps or t.low in known_names or _is_rare_word(t.low)


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str] | None:
    """Whole words of the MiniLM wordpiece vocabulary: a list of common English words."""
    try:
        _, tokenizer_path = bundled_model_files()
        vocab = json.loads(tokenizer_path.read_text(encoding="utf-8"))["model"]["vocab"]
    except Exception:  # the check degrades to "not a name" rather than failing the verdict
        return None
    return frozenset(w for w in vocab if w.isalpha() and not w.startswith("##"))


def _is_rare_word(low: str) -> bool:
    # A word that the 30k-wordpiece vocabulary splits is almost always a name.
    vocab = _vocabulary()
    return vocab is not None and low not in vocab


def _negation_problems(claim: Analysis, ev: Evidence) -> list[str]:
    """A word negated an odd number of times on one side only ("not without" is positive).

    The word must also appear in a similar context on the other side (a neighbouring
    content word in common, when the cue has neighbours), so "without their coach" in the
    evidence does not clash with "coach Jim Harbaugh" in the claim.
    """
    c_count = Counter(h for h, _ in claim.neg_heads if h)
    e_count = Counter(h for h, _ in ev.neg_heads if h)
    for head, context in claim.neg_heads:
        if not head or c_count[head] % 2 == e_count.get(head, 0) % 2:
            continue
        if (head in ev.positive or head in e_count) and (not context or context & ev.words):
            word = _surface(claim, head)
            side = "claim" if c_count[head] % 2 else "evidence"
            return [f"negation mismatch: {side} negates '{word}'"]
    for head, context in ev.neg_heads:
        if (head and e_count[head] % 2 and head not in c_count and head in claim.positive
                and (not context or context & claim.words)):
            return [f"negation mismatch: evidence negates '{_surface(claim, head)}'"]
    return []


def _surface(analysis: Analysis, stem: str) -> str:
    for t in analysis.tokens:
        if t.stem == stem:
            return t.text
    return stem


_PASSIVE_AUX = word_set("is are was were be been being get got gets")
# How far (in tokens) a participant may sit from the verb: "Russia, for its part, has
# blamed" puts the subject five tokens before it.
_ROLE_REACH = 8
# Words that open a new clause: the names beyond them belong to another verb ("Nagorno-
# Karabakh where about 2,000 of them were deployed").
_SUBORDINATORS = word_set(
    "where which who whom whose when while whereas although though because since but if "
    "unless until after before that"
)
# Words that put a noun, not a verb, after them ("the start", "a limp display").
_DETERMINERS = word_set("the a an this that these those its his her their our my your of")
_VERB_BEFORE = word_set("to will would can could should may might must shall do does did")
def _verbish(tokens: Sequence[Tok], i: int) -> bool:
    """Whether the word at i is probably a verb; cheap cues instead of a tagger."""
    t = tokens[i]
    prev = next((tokens[k] for k in range(i - 1, -1, -1)
                 if tokens[k].kind != "neg" and tokens[k].low not in NEGATION_SKIP
                 and not tokens[k].low.endswith("ly")), None)
    if prev is not None and prev.low in _DETERMINERS:
        return False
    if t.low.endswith(("ed", "ing")) or t.low in IRREGULAR_PAST:
        return True
    if prev is not None and (prev.low in _VERB_BEFORE or prev.low in _PASSIVE_AUX):
        return True
    # "Blake lashes", "Pollstar projects": -s after a name; after anything else it is
    # more often a plural ("four carries").
    return t.low.endswith("s") and prev is not None and prev.cap


def _is_participant(t: Tok) -> bool:
    # Dates say when, not who.
    return t.cap and t.low not in MONTH_WORDS and t.low not in WEEKDAYS


_Slot = tuple[frozenset[str], str]
_NO_SLOT: _Slot = (frozenset(), "")


def _name_group(tokens: Sequence[Tok], i: int, step: int, clause: bool) -> _Slot:
    """The nearest run of capitalised words from token i in direction `step`, as stems,
    with the first function word between them ("to" in "fled to Turkey", "" for "fled
    Aleppo"), so that a destination is not compared with an object.

    A run may bridge one lower-case word ("Michigan coach Jim Harbaugh") or "of"/"and".
    The search stays in the word's clause and stops at a subordinating word. Without
    `clause`, a leftward search that finds nothing there looks past one parenthetical
    clause: the subject of "more than 100,000 Armenians, virtually the entire population
    of Nagorno-Karabakh, left" is the Armenians, that of "Russia, for its part, has
    blamed" is Russia, and that of "Messi, who had missed" is Messi. Objects are not
    looked for across a comma: in "After missing four games, Messi came off the bench"
    Messi is no object of "missing".
    """
    home = tokens[i].clause
    found = _scan(tokens, i, step, home)
    if found[0] or clause or step > 0:
        return found
    earlier = [j for j in range(i) if _same_sentence(tokens, j, i) and tokens[j].clause < home]
    if not earlier:
        return found
    clauses = sorted({tokens[j].clause for j in earlier})
    target = clauses[-2] if len(clauses) >= 2 else clauses[-1]
    last = max(j for j in earlier if tokens[j].clause == target)
    return _scan(tokens, last + 1, step, target)


def _same_sentence(tokens: Sequence[Tok], j: int, i: int) -> bool:
    """Whether token j (before i) is in the sentence of token i."""
    return not any(tokens[k].initial for k in range(j + 1, i + 1))


def _scan(tokens: Sequence[Tok], i: int, step: int, clause: int | None) -> _Slot:
    """The first run of names from token i + step, within `clause` when one is given."""
    n = len(tokens)
    link = ""

    def stop(j: int) -> bool:
        boundary = tokens[j] if step > 0 else tokens[j + 1] if j + 1 < n else None
        if boundary is not None and boundary.initial:
            return True
        if tokens[j].low in _SUBORDINATORS:
            return True
        return clause is not None and tokens[j].clause != clause

    j = i + step
    for _ in range(_ROLE_REACH):
        if not 0 <= j < n or stop(j):
            break
        if _is_participant(tokens[j]):
            group = set()
            while 0 <= j < n and not stop(j):
                if _is_participant(tokens[j]):
                    group.add(tokens[j].stem)
                    if step < 0 and tokens[j].initial:
                        break
                elif not (0 <= j + step < n and _is_participant(tokens[j + step])
                          and tokens[j - step].clause == tokens[j].clause == tokens[j + step].clause
                          and (tokens[j].kind == "word" or tokens[j].low in ("of", "and"))):
                    break
                j += step
            return frozenset(group), link
        if not link and tokens[j].kind == "stop" and tokens[j].low not in _DETERMINERS:
            link = tokens[j].low
        j += step
    return _NO_SLOT


def _roles(tokens: Sequence[Tok], i: int, clause: bool) -> tuple[_Slot, _Slot]:
    """(agent, patient) name groups around the word at i, undoing the passive voice:
    "X was blamed by Y" and "a claim dismissed by Y" make Y the agent, and in "X was set
    up" X is the patient and the agent is unknown."""
    left = _name_group(tokens, i, -1, clause)
    right = _name_group(tokens, i, +1, clause)
    t = tokens[i]
    participle = t.low.endswith("ed") or t.low in IRREGULAR_PAST
    after_aux = i > 0 and tokens[i - 1].low in _PASSIVE_AUX
    by_phrase = any(o.low == "by" for o in tokens[i + 1 : i + 5])
    if participle and i + 1 < len(tokens) and tokens[i + 1].low == "by":
        return right, left
    if after_aux and by_phrase:
        return right, left
    if after_aux and participle:
        return _NO_SLOT, left
    return left, right


def _overlap(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> bool:
    return any(words_match(x, y) for x in a for y in b)


def _within(a: frozenset[str], b: frozenset[str] | set[str]) -> bool:
    return all(any(words_match(x, y) for y in b) for x in a)


def _role_problems(claim: Analysis, ev: Evidence) -> list[str]:
    """The names around the same verb are exchanged between claim and evidence."""
    ctoks = claim.tokens
    for i, t in enumerate(ctoks):
        if t.kind != "word" or (t.cap and not t.initial) or not _verbish(ctoks, i):
            continue
        c_wide, c_near = _roles(ctoks, i, False), _roles(ctoks, i, True)
        # "Armenians moved to Armenia": when the two sides name the same thing, their
        # order says nothing.
        if not (c_wide[0][0] or c_wide[1][0]) or _overlap(c_wide[0][0], c_wide[1][0]):
            continue
        for a in ev.analyses:
            for k, e in enumerate(a.tokens):
                if e.stem != t.stem or e.kind != "word" or not _verbish(a.tokens, k):
                    continue
                if _crossed(c_wide, _roles(a.tokens, k, False)) or _exchanged(
                    c_near, _roles(a.tokens, k, True), claim.names, ev.names
                ):
                    return [f"role reversal around '{t.text}'"]
    return []


def _crossed(claim: tuple[_Slot, _Slot], evidence: tuple[_Slot, _Slot]) -> bool:
    """A participant of the claim sits on the other side of the verb in the evidence
    ("Armenia blamed Russia" against "Russia, for its part, has blamed Armenia")."""
    (c_agent, _), (c_patient, _) = claim
    (e_agent, _), (e_patient, _) = evidence
    return (
        (_overlap(c_agent, e_patient) and not _overlap(c_agent, e_agent))
        or (_overlap(c_patient, e_agent) and not _overlap(c_patient, e_patient))
    )


def _exchanged(
    claim: tuple[_Slot, _Slot],
    evidence: tuple[_Slot, _Slot],
    claim_names: frozenset[str],
    evidence_names: set[str],
) -> bool:
    """Within the verb's own clause, a slot holds different names on the two sides, linked
    to the verb the same way, and each text mentions the other's name elsewhere ("Fulham
    moved to fifth ... over Aston Villa" against "Aston Villa moved to fifth ... over
    Fulham")."""
    return any(
        c_slot and e_slot and c_link == e_link and not _overlap(c_slot, e_slot)
        and _within(c_slot, evidence_names) and _within(e_slot, claim_names)
        for (c_slot, c_link), (e_slot, e_link) in zip(claim, evidence, strict=True)
    )


# --- embeddings ---------------------------------------------------------------------------

_default_embedder: Embedder | None = None
_default_lock = threading.Lock()
_cache_lock = threading.Lock()
# Keyed by (embedder name, text): vectors of different models are not comparable.
_embedding_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


def _get_default_embedder() -> Embedder:
    global _default_embedder
    if _default_embedder is None:
        with _default_lock:
            if _default_embedder is None:
                _default_embedder = MiniLMEmbedder()
    return _default_embedder


def _embed_cached(embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
    """Unit vectors for texts, computing only those not in the shared LRU cache."""
    name = getattr(embedder, "name", type(embedder).__name__)
    out: dict[str, np.ndarray] = {}
    todo: list[str] = []
    with _cache_lock:
        for text in texts:
            vec = _embedding_cache.get((name, text))
            if vec is not None:
                _embedding_cache.move_to_end((name, text))
                out[text] = vec
            elif text not in out and text not in todo:
                todo.append(text)
    if todo:
        vectors = np.asarray(embedder.embed(todo), dtype=np.float32)
        with _cache_lock:
            for text, vec in zip(todo, vectors, strict=True):
                out[text] = vec
                _embedding_cache[(name, text)] = vec
            while len(_embedding_cache) > EMBEDDING_CACHE_SIZE:
                _embedding_cache.popitem(last=False)
    return [out[text] for text in texts]


def clear_caches() -> None:
    """Forget cached sentence embeddings and analyses (tests, memory pressure)."""
    with _cache_lock:
        _embedding_cache.clear()
    analyse.cache_clear()
    _passage_sentences.cache_clear()


# --- the checker --------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _passage_sentences(passage: str) -> tuple[tuple[int, int], ...]:
    spans = sentence_spans(passage)
    if not spans and passage.strip():
        start = len(passage) - len(passage.lstrip())
        spans = [(start, len(passage.rstrip()))]
    return tuple(spans)


@dataclass
class _Lexical:
    """What one passage says about a claim before any embedding is computed."""

    passage_index: int
    start: int
    end: int
    sentences: list[str]  # the evidence window, sentence by sentence
    coverage: float
    missing: list[str]
    hard: list[str]
    cosine: float | None = None

    def logit(self) -> float:
        return (W_COVERAGE * self.coverage + W_MISSING * min(len(self.missing), MISSING_CAP)
                + BIAS)

    def needs_cosine(self) -> bool:
        """Whether the verdict depends on the cosine, given that it lies in [0, 1]."""
        if self.hard or self.cosine is not None:
            return False
        z, cut = self.logit(), _logit(THRESHOLD)
        return min(z, z + W_COSINE) < cut <= max(z, z + W_COSINE)

    def score(self) -> float:
        cosine = COSINE_PRIOR if self.cosine is None else min(max(self.cosine, 0.0), 1.0)
        value = _sigmoid(self.logit() + W_COSINE * cosine)
        return min(value, HARD_CAP) if self.hard else value


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _lexical(claim: Analysis, passages: Sequence[str]) -> list[_Lexical]:
    out: list[_Lexical] = []
    texts = [[p[s:e] for s, e in _passage_sentences(p)] for p in passages]
    known_names = frozenset().union(*(analyse(t).caps for ts in texts for t in ts))
    for p_index, (passage, sentences) in enumerate(zip(passages, texts, strict=True)):
        if not sentences:
            continue
        spans = _passage_sentences(passage)
        analyses = [analyse(t) for t in sentences]
        i, j, coverage, missing = _best_window(claim, analyses)
        ev = Evidence.of(analyses[i:j])
        hard = (
            number_problems(claim, ev)
            + _name_problems(claim, ev, known_names)
            + _negation_problems(claim, ev)
            + _role_problems(claim, ev)
        )
        out.append(_Lexical(p_index, spans[i][0], spans[j - 1][1], sentences[i:j],
                            coverage, missing, hard))
    return out


def _best_window(claim: Analysis, sentences: list[Analysis]) -> tuple[int, int, float, list[str]]:
    """(first, end, coverage, uncovered words) of the window that covers the claim best;
    the shorter and then the earlier window on ties."""
    covered = [covered_keys(claim, s) for s in sentences]
    best: tuple[float, int, int, list[bool]] | None = None
    for i in range(len(sentences)):
        hits = [False] * len(claim.content)
        for j in range(i + 1, min(i + MAX_WINDOW_SENTENCES, len(sentences)) + 1):
            hits = [a or b for a, b in zip(hits, covered[j - 1], strict=True)]
            relevance = sum(hits) / len(hits) - WINDOW_PENALTY * (j - i - 1)
            if best is None or relevance > best[0] + 1e-9:
                best = (relevance, i, j, hits)
    assert best is not None
    _, i, j, hits = best
    missing = [w for w, hit in zip(claim.surfaces, hits, strict=True) if not hit]
    return i, j, sum(hits) / len(hits), missing


def _add_cosines(
    emb: Embedder, claims: Sequence[str], candidates: Sequence[Sequence[_Lexical]],
    everything: bool = False,
) -> None:
    """Fill in the cosine where the verdict depends on it, with one embedding batch."""
    todo = [(claim, c) for claim, cands in zip(claims, candidates, strict=True)
            for c in cands if everything or c.needs_cosine()]
    if not todo:
        return
    texts = list(dict.fromkeys(t for claim, c in todo for t in (claim, *c.sentences)))
    vectors = dict(zip(texts, _embed_cached(emb, texts), strict=True))
    for claim, c in todo:
        # The window's vector is the normalised sum of its sentences': windows reuse the
        # cached sentence vectors instead of being embedded on their own.
        total = np.sum([vectors[t] for t in c.sentences], axis=0)
        norm = float(np.linalg.norm(total))
        c.cosine = float(np.dot(total, vectors[claim]) / norm) if norm > 0 else 0.0


def _verdict(passages: Sequence[str], candidates: Sequence[_Lexical]) -> SupportVerdict:
    if not candidates:
        return _no_verdict(("no passages",))
    best = max(candidates, key=lambda c: (c.score(), -c.passage_index))
    score = best.score()
    reasons = list(best.hard)
    if score < THRESHOLD and not reasons:
        if best.missing:
            reasons.append(f"claim words not in evidence: {', '.join(best.missing[:4])}")
        reasons.append(f"coverage {best.coverage:.2f}" + (
            f", similarity {best.cosine:.2f}" if best.cosine is not None else ""))
    passage = passages[best.passage_index]
    return SupportVerdict(
        supported=score >= THRESHOLD,
        score=round(score, 6),
        passage_index=best.passage_index,
        evidence_start=best.start,
        evidence_end=best.end,
        evidence=passage[best.start : best.end],
        reasons=tuple(reasons),
    )


def _no_verdict(reasons: tuple[str, ...]) -> SupportVerdict:
    return SupportVerdict(False, 0.0, -1, 0, 0, "", reasons)


def features(
    claim: str, passage: str, *, embedder: Embedder | None = None
) -> dict[str, Any]:
    """The signals behind the verdict for one passage, cosine always computed (calibration)."""
    claim = claim.strip()
    analysis = analyse(claim)
    if not analysis.content:
        return {"coverage": 0.0, "missing": 0, "cosine": 0.0, "hard": ("no content",)}
    candidates = _lexical(analysis, [passage])
    if not candidates:
        return {"coverage": 0.0, "missing": 0, "cosine": 0.0, "hard": ("no passage",)}
    emb = embedder if embedder is not None else _get_default_embedder()
    _add_cosines(emb, [claim], [candidates], everything=True)
    c = candidates[0]
    return {"coverage": c.coverage, "missing": len(c.missing), "cosine": c.cosine,
            "hard": tuple(c.hard), "evidence": passage[c.start : c.end]}


def check_support(
    claim: str, passages: Sequence[str], *, embedder: Embedder | None = None
) -> SupportVerdict:
    """Whether `claim` is supported by one of `passages`, with the best evidence span.

    `evidence == passages[passage_index][evidence_start:evidence_end]` always holds;
    with no usable passage, `passage_index` is -1 and the evidence is empty.
    """
    return check_claims([claim], passages, embedder=embedder)[0]


def check_claims(
    claims: Sequence[str], passages: Sequence[str], *, embedder: Embedder | None = None
) -> list[SupportVerdict]:
    """`check_support` for many claims against the same passages, embedding in one batch."""
    passages = list(passages)
    stripped = [c.strip() for c in claims]
    analyses = [analyse(c) for c in stripped]
    candidates = [_lexical(a, passages) if a.content else [] for a in analyses]
    if any(c.needs_cosine() for cands in candidates for c in cands):
        emb = embedder if embedder is not None else _get_default_embedder()
        _add_cosines(emb, stripped, candidates)
    return [
        _verdict(passages, cands) if a.content
        else _no_verdict(("claim has no content words",))
        for a, cands in zip(analyses, candidates, strict=True)
    ]
