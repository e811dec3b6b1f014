"""Sources that disagree: does `rag.verify.conflicts` flag two documents that state
different values for the same thing (a figure, a date, the person who holds a post), and
only those?

    python -m bench.conflicts --multihop ../shared/bench/multihop-rag \
        --json evals/results/conflicts.json          # measure
    python -m bench.conflicts --fit                    # refit rag/verify/conflicts.json

A labelled set is made from the MultiHop-RAG articles, deterministically (`--seed`), in
three parts, one per kind of value. The cited side is always a real sentence (the
anchor), the other side a short passage (a sentence with its neighbours) from "another
document". Numbers: each anchor states a number in digits.

- `changed` (conflict): the anchor as another outlet ran it, lightly edited (two words
  dropped, perhaps "according to reports" added), one of its numbers changed (a year by
  1-3, another value by 10-80 %, written the same way).
- `agreeing` (no conflict): the same edits with every value kept, a thousands separator
  perhaps written another way ("12,500" / "12500").
- `other_time` (no conflict): the number changed and also the year or month its sentence
  names: a figure for another time. Where the number was a date's day ("on Oct. 12,
  2023" made "on Oct. 4, 2020"), the edit gave the same event another date: such a pair
  is `date_moved`, a conflict of the dates' part (the texts drawn as before).
- `same_article` (no conflict): another sentence of the anchor's own article that states
  a number; an article is taken not to contradict itself, so these are the hard cases of
  one story counting several things.
- `nearest_elsewhere` (no conflict, assumed): the sentence with a number from another
  article that is closest to the anchor by embedding. Two outlets can truly disagree, so
  the label can be wrong; its errors are listed for reading.

Dates (`date_*`): each anchor states a calendar date (`rag.text.dates`: "October 17",
"24 September", "Oct. 12, 2023", "in March"). `date_changed` (conflict): the reprint with
the date's day moved by 1-5, and, for a date with a day, a second one with its month
replaced instead, written the same way; `date_agreeing`: every value kept, the date
perhaps written another way ("17 October", "Oct. 17"); `date_other_figure`: the month
and another figure of the sentence both changed, a reading for another time (only where
the sentence states a figure besides its date); `date_same_article` and
`date_nearest_elsewhere` as for numbers, among sentences that state a date.

Roles (`role_*`): each anchor names a person by a title (`rag.verify.roles`: "CEO
Jeffrey Hirsch", "Israeli Prime Minister Benjamin Netanyahu"). `role_changed`
(conflict): the reprint with another person's name (an invented one, another surname);
`role_agreeing`: the name kept (sometimes with a middle initial added); `role_other`:
the title replaced by another one and the name too (two posts, two people, both named
rightly); `role_same_article` and `role_nearest_elsewhere` as for numbers. The number
pairs are drawn first, from the seed's stream as before, so adding the others left them
unchanged; the dates and roles draw from streams of their own.

Articles are split in two halves by a hash of their URL: each kind's thresholds are
fitted on `fit` (grid search, the best worse-of-precision-and-recall on that kind's
pairs, judged with every kind flagging; twice round the kinds) and every figure is
reported for both halves, overall and per kind (`by_set`); `held_out` is the half the
thresholds are not fitted on.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import re
from collections.abc import Callable, Sequence
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
from rag.text.dates import DateMention, date_mentions
from rag.text.lexicon import MONTH_NAMES, lower_case_words
from rag.text.numbers import NumberMention, number_mentions
from rag.text.sentences import sentence_spans
from rag.verify.conflicts import KINDS as SETS
from rag.verify.conflicts import (
    THRESHOLDS,
    Limits,
    Thresholds,
    candidates,
    similarities,
    thresholds,
)
from rag.verify.roles import RoleMention, lexicon, role_mentions

KINDS = ("changed", "agreeing", "other_time", "same_article", "nearest_elsewhere",
         "date_changed", "date_moved", "date_agreeing", "date_other_figure",
         "date_same_article",
         "date_nearest_elsewhere",
         "role_changed", "role_agreeing", "role_other", "role_same_article",
         "role_nearest_elsewhere")
_MONTHS = [m.capitalize() for m in MONTH_NAMES]
_TIME = re.compile(r"\b(?:(?:19|20)\d\d|" + "|".join(_MONTHS) + r")\b")
_WORDS = (8, 60)
# Names for another outlet's version of who holds a post: invented, so none is the
# person of another anchor.
_NAMES = ("Maria Keller", "David Okafor", "Laura Jensen", "Tomas Rivera", "Priya Natarajan",
          "Michael Brandt", "Elena Sokolova", "James Whitaker", "Sofia Marchetti",
          "Daniel Osei", "Hannah Lindqvist", "Robert Castillo")
_OTHER_TITLES = ("chairman", "president", "spokesperson", "director", "founder",
                 "chief financial officer", "general manager", "coach")


@dataclass
class Pair:
    kind: str
    half: str
    anchor: str
    other: str  # the other document's passage
    conflict: bool
    scored: list[tuple[str, float, float]] | None = None  # (kind, context overlap, cosine)

    @property
    def set(self) -> str:
        """The kind of value the pair was made for: number, date or role."""
        prefix = self.kind.split("_", 1)[0]
        return prefix if prefix in ("date", "role") else "number"


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


def _edited(sentence: str, start: int, end: int, value: str, rng: Random,
            names: bool = False) -> str:
    """The sentence as a reprint: `sentence[start:end]` written as `value`, a word
    dropped on each side of it, sometimes a source added (with `names`, a name opening
    the sentence keeps its capital)."""
    before, after = sentence[:start].split(" "), sentence[end:].split(" ")
    for words in (before, after):  # one word from each side, where it has a few
        droppable = [i for i in range(1, len(words) - 1)
                     if words[i].isalpha() and not number_mentions(words[i])]
        if len(droppable) > 3:
            del words[rng.choice(droppable)]
    text = " ".join(before) + value + " ".join(after)
    if rng.random() < 0.3 and text[:1].isupper():
        first = text.split(" ", 1)[0].strip(",.;:").lower()
        if names and first not in lower_case_words():
            text = "According to reports, " + text
        else:
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


def _moves_a_date(sentence: str, mention: NumberMention, timed: str) -> bool:
    """Whether `_other_time` changed a date's own day (and its month or year): then the
    sentence states another date for the same thing, a conflict, not a figure for
    another time. "24 September" made "42 August" states no date, so stays a figure."""
    dates = [d for d in date_mentions(sentence) if d.covers(mention.start, mention.end)]
    return bool(dates) and bool(date_mentions(timed)) and not any(
        d.agrees(o) for d in dates for o in date_mentions(timed))


def _passage(sentences: list[str], index: int, middle: str) -> str:
    """`middle` with the sentences around `index`, as a retrieved passage would be."""
    around = [*sentences[max(0, index - 1):index], middle, *sentences[index + 1:index + 2]]
    return " ".join(around)


def _fits(sentence: str) -> bool:
    return _WORDS[0] <= len(sentence.split()) <= _WORDS[1]


def build(articles: Sequence[dict[str, Any]], anchors: int, seed: int) -> list[Pair]:
    """The labelled pairs of every kind: the number pairs first (from the seed's own
    stream, as they were drawn before the dates and roles were added), then the date and
    role pairs (each from a stream of its own)."""
    rng = Random(seed)
    pairs: list[Pair] = []
    for half in ("fit", "held_out"):
        chosen = [a for a in articles if _half(a) == half]
        pool = []  # (article index, sentence index, sentence)
        for ai, article in enumerate(chosen):
            sentences = _sentences(article["body"])
            for si, sentence in enumerate(sentences):
                if _fits(sentence) and digit_mentions(sentence):
                    pool.append((ai, si, sentence))
        rng.shuffle(pool)
        for ai, si, sentence in pool[:anchors]:
            sentences = _sentences(chosen[ai]["body"])
            mention = rng.choice(digit_mentions(sentence))
            surface = sentence[mention.start:mention.end]
            changed = changed_value(surface, mention.value.is_year, rng)
            pairs.append(Pair("changed", half, sentence, _passage(
                sentences, si, _edited(sentence, mention.start, mention.end, changed, rng)),
                True))
            timed = _other_time(sentence, mention, rng)
            if timed is not None:
                # A day moved with its month or year is another date for the same thing.
                moved = _moves_a_date(sentence, mention, timed)
                pairs.append(Pair("date_moved" if moved else "other_time", half, sentence,
                                  _passage(sentences, si, timed), moved))
            same = _agreeing_value(surface, rng)
            pairs.append(Pair("agreeing", half, sentence, _passage(
                sentences, si, _edited(sentence, mention.start, mention.end, same, rng)),
                False))
            others = [(j, s) for j, s in enumerate(sentences)
                      if abs(j - si) > 1 and _fits(s) and number_mentions(s)]
            if others:
                j, other = rng.choice(others)
                pairs.append(Pair("same_article", half, sentence,
                                  _passage(sentences, j, other), False))
        pairs.extend(_nearest_elsewhere(pool[:anchors], pool, chosen, half))
    for name, made in (("date", _date_pairs), ("role", _role_pairs)):
        stream = Random(f"{seed}-{name}")
        for half in ("fit", "held_out"):
            chosen = [a for a in articles if _half(a) == half]
            pairs.extend(made(chosen, half, anchors, stream))
    return pairs


Reader = Callable[[str], Sequence[Any]]


def _anchored(chosen: Sequence[dict[str, Any]], half: str, anchors: int, rng: Random,
              reader: Reader, kind: str, make: Callable[..., list[Pair]]) -> list[Pair]:
    """Pairs for the sentences `reader` finds a value in: `make`'s own, then another
    sentence of the same article and the closest of another article that state one."""
    pool = [(ai, si, s) for ai, article in enumerate(chosen)
            for si, s in enumerate(_sentences(article["body"])) if _fits(s) and reader(s)]
    rng.shuffle(pool)
    pairs: list[Pair] = []
    for ai, si, sentence in pool[:anchors]:
        sentences = _sentences(chosen[ai]["body"])
        pairs += make(sentence, sentences, si, half, rng)
        others = [(j, s) for j, s in enumerate(sentences)
                  if abs(j - si) > 1 and _fits(s) and reader(s)]
        if others:
            j, other = rng.choice(others)
            pairs.append(Pair(f"{kind}_same_article", half, sentence,
                              _passage(sentences, j, other), False))
    nearest = _nearest_elsewhere(pool[:anchors], pool, chosen, half)
    return pairs + [Pair(f"{kind}_nearest_elsewhere", p.half, p.anchor, p.other, False)
                    for p in nearest]


# --- dates ----------------------------------------------------------------------------------

_DAY = re.compile(r"\b(\d{1,2})(st|nd|rd|th)?\b")
_MONTH_WORD = re.compile(r"[A-Z][a-z]+")


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _days(month: int, year: int | None) -> int:
    return calendar.monthrange(year or 2023, month)[1]


# The months news cuts short before a day, as the AP writes them; the others in full.
_SHORT = {1: "Jan", 2: "Feb", 8: "Aug", 9: "Sept", 10: "Oct", 11: "Nov", 12: "Dec"}


def _month_written(month: int, like: str) -> str:
    """Month `month` written as `like` is: in full, or cut short ("Oct", "Sept")."""
    name = _MONTHS[month - 1]
    if like.lower() in MONTH_NAMES:
        return name
    return _SHORT.get(month, name)


def _moved_day(date: DateMention, rng: Random) -> str:
    assert date.day is not None
    last = _days(date.month, date.year)
    day = rng.choice([d for d in range(date.day - 5, date.day + 6)
                      if d != date.day and 1 <= d <= last])
    surface = date.surface
    found = next(m for m in _DAY.finditer(surface) if int(m.group(1)) == date.day)
    suffix = _ordinal(day) if found.group(2) else ""
    return surface[:found.start()] + str(day) + suffix + surface[found.end():]


def _moved_month(date: DateMention, rng: Random) -> str:
    months = [m for m in range(1, 13) if m != date.month
              and (date.day is None or date.day <= _days(m, date.year))]
    month = rng.choice(months)
    surface = date.surface
    word = next(m for m in _MONTH_WORD.finditer(surface)
                if m.group().lower()[:3] == MONTH_NAMES[date.month - 1][:3])
    written = _month_written(month, word.group())
    rest = surface[word.end():]
    if written.lower() in MONTH_NAMES and rest.startswith("."):
        rest = rest[1:]  # "Oct. 12" becomes "April 12"
    return surface[:word.start()] + written + rest


def _rewritten(date: DateMention, rng: Random) -> str:
    """The same date, perhaps written another way: "17 October" for "October 17", "Oct."
    for "October" and back."""
    if date.day is None or rng.random() < 0.5:
        return date.surface
    name = _MONTHS[date.month - 1]
    year = f" {date.year}" if date.year else ""
    forms = [f"{name} {date.day}" + (f",{year}" if year else ""), f"{date.day} {name}{year}",
             f"{_SHORT.get(date.month, name)}. {date.day}" + (f",{year}" if year else "")]
    return rng.choice([f for f in forms if f != date.surface])


def _date_pairs(chosen: Sequence[dict[str, Any]], half: str, anchors: int,
                rng: Random) -> list[Pair]:
    def make(sentence: str, sentences: list[str], si: int, half: str,
             rng: Random) -> list[Pair]:
        date = rng.choice(date_mentions(sentence))
        out = []
        moves = [_moved_day, _moved_month] if date.day is not None else [_moved_month]
        for move in moves:
            edited = _edited(sentence, date.start, date.end, move(date, rng), rng)
            out.append(Pair("date_changed", half, sentence, _passage(sentences, si, edited),
                            True))
        same = _edited(sentence, date.start, date.end, _rewritten(date, rng), rng)
        out.append(Pair("date_agreeing", half, sentence, _passage(sentences, si, same), False))
        figures = [m for m in digit_mentions(sentence)
                   if not any(d.covers(m.start, m.end) for d in date_mentions(sentence))]
        if figures:
            figure = rng.choice(figures)
            spans = sorted([(date.start, date.end, _moved_month(date, rng)),
                            (figure.start, figure.end,
                             changed_value(sentence[figure.start:figure.end],
                                           figure.value.is_year, rng))], reverse=True)
            other = sentence
            for start, end, text in spans:
                other = other[:start] + text + other[end:]
            out.append(Pair("date_other_figure", half, sentence,
                            _passage(sentences, si, other), False))
        return out

    return _anchored(chosen, half, anchors, rng, date_mentions, "date", make)


# --- roles ----------------------------------------------------------------------------------


def _other_name(role: RoleMention, rng: Random) -> str:
    return rng.choice([n for n in _NAMES if n.split()[-1].lower() != role.name_words[-1]])


def _with_initial(name: str, rng: Random) -> str:
    """The same person, perhaps with a middle initial: "Jane A. Roe"."""
    words = name.split(" ")
    if len(words) != 2 or rng.random() < 0.7:
        return name
    return f"{words[0]} {rng.choice('ABCDEFGHJKLMRST')}. {words[1]}"


def _title_written(title: str, like: str) -> str:
    """`title` capitalised as `like` is ("Prime Minister", "Head coach"; "CEO" as a word
    in lower case)."""
    if like.istitle() and not like.isupper():
        return title.title()
    return title[0].upper() + title[1:] if like[:1].isupper() and not like.isupper() \
        else title


def _role_pairs(chosen: Sequence[dict[str, Any]], half: str, anchors: int,
                rng: Random) -> list[Pair]:
    def make(sentence: str, sentences: list[str], si: int, half: str,
             rng: Random) -> list[Pair]:
        role = rng.choice(role_mentions(sentence))
        start, end = min(role.start, role.title_start), max(role.end, role.title_end)
        span = sentence[start:end]

        def named(text: str, name: str) -> str:
            at = role.start - start
            return text[:at] + name + text[at + len(role.name):]

        out = []
        edited = _edited(sentence, start, end, named(span, _other_name(role, rng)), rng,
                         names=True)
        out.append(Pair("role_changed", half, sentence, _passage(sentences, si, edited), True))
        same = _edited(sentence, start, end, named(span, _with_initial(role.name, rng)), rng,
                       names=True)
        out.append(Pair("role_agreeing", half, sentence, _passage(sentences, si, same), False))
        roles = dict((form, key) for form, key in lexicon().forms)
        titles = [t for t in _OTHER_TITLES if roles[tuple(t.split())] != role.role]
        title = _title_written(rng.choice(titles),
                               sentence[role.title_start:role.title_end])
        at, to = role.title_start - start, role.title_end - start
        other = named(span, _other_name(role, rng))
        if role.title_start > role.start:  # the name first: the title's offsets moved
            shift = len(other) - len(span)
            at, to = at + shift, to + shift
        other = other[:at] + title + other[to:]
        out.append(Pair("role_other", half, sentence,
                        _passage(sentences, si, sentence[:start] + other + sentence[end:]),
                        False))
        return out

    return _anchored(chosen, half, anchors, rng, role_mentions, "role", make)


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


# --- scoring --------------------------------------------------------------------------------


def score(pairs: Sequence[Pair]) -> None:
    """Every candidate pair of values of each labelled pair, with its kind, its context
    overlap and the cosine of the two sentences: the thresholds are then a cut on these."""
    embedder = _embedder()
    for pair in pairs:
        passage = Passage(doc_id="other", text=pair.other, start=0, end=len(pair.other),
                          score=1.0)
        found = candidates(pair.anchor, "cited", [passage])
        sims = similarities(pair.anchor, found, embedder.embed) if found else []
        pair.scored = [(c.kind, c.overlap, s) for c, s in zip(found, sims, strict=True)]


def flagged(pair: Pair, limits: Limits) -> bool:
    return any(o >= limits[k].min_context_overlap and s >= limits[k].min_similarity
               for k, o, s in pair.scored or [])


def _counts(pairs: Sequence[Pair], limits: Limits) -> dict[str, Any]:
    tp = sum(flagged(p, limits) and p.conflict for p in pairs)
    fp = sum(flagged(p, limits) and not p.conflict for p in pairs)
    fn = sum(not flagged(p, limits) and p.conflict for p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(pairs), "conflicts": sum(p.conflict for p in pairs),
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def figures(pairs: Sequence[Pair], limits: Limits) -> dict[str, Any]:
    """Precision and recall over `pairs` and over each kind's pairs (`by_set`), with every
    kind of conflict flagging; how many pairs of each kind were flagged."""
    by_kind = {kind: {"pairs": sum(p.kind == kind for p in pairs),
                      "flagged": sum(p.kind == kind and flagged(p, limits) for p in pairs)}
               for kind in KINDS}
    by_set = {name: _counts([p for p in pairs if p.set == name], limits) for name in SETS}
    return {**_counts(pairs, limits), "by_set": by_set, "by_kind": by_kind}


def _fit_one(pairs: Sequence[Pair], limits: dict[str, Thresholds], kind: str) -> Thresholds:
    """The grid point for `kind` whose worse of precision and recall on `pairs` is best,
    the other kinds held at `limits` (the target is a floor on each); among ties the
    strictest."""
    best: tuple[float, float, float] | None = None
    for overlap in np.arange(0.0, 1.0001, 0.05):
        for similarity in np.arange(0.3, 0.9501, 0.025):
            trial = Thresholds(round(float(overlap), 3), round(float(similarity), 3))
            scores = _counts(pairs, {**limits, kind: trial})
            key = (min(scores["precision"], scores["recall"]), trial.min_context_overlap,
                   trial.min_similarity)
            if best is None or key > best:
                best = key
    assert best is not None
    return Thresholds(best[1], best[2])


def fit(pairs: Sequence[Pair], start: Limits | None = None) -> dict[str, Thresholds]:
    """Each kind's thresholds fitted on its own pairs with every kind flagging (a date
    rule may flag a number's pair), the others held where they are; twice round."""
    limits = dict(start or thresholds())
    for _ in range(2):
        for kind in SETS:
            limits[kind] = _fit_one([p for p in pairs if p.set == kind], limits, kind)
    return limits


def _data_hash(pairs: Sequence[Pair]) -> str:
    rows = [[p.kind, p.half, p.anchor, p.other, p.conflict] for p in pairs]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def _shown(limits: Limits) -> dict[str, Any]:
    return {kind: {"min_context_overlap": t.min_context_overlap,
                   "min_similarity": t.min_similarity} for kind, t in limits.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conflicts",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--multihop", type=Path, default=SHARED / "multihop-rag")
    parser.add_argument("--anchors", type=int, default=150, help="per half and kind")
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
        fitted = fit(halves["fit"])
        write_json(THRESHOLDS, {
            **_shown(fitted),
            "made_by": "python -m bench.conflicts --fit",
            "data": shown_path(path), "seed": args.seed, "anchors_per_half": args.anchors,
            "pairs_sha256": _data_hash(pairs),
            "fit_half": figures(halves["fit"], fitted),
        })
        thresholds.cache_clear()
    limits = thresholds()
    result = {"meta": environment(), "data": shown_path(path), "seed": args.seed,
              "pairs_sha256": _data_hash(pairs),
              # The number part alone (the pairs `date_moved` took from it aside).
              "number_pairs_sha256": _data_hash([p for p in pairs if p.set == "number"]),
              "thresholds": _shown(limits),
              **{half: figures(rows, limits) for half, rows in halves.items()}}
    lines = ["thresholds: " + "; ".join(
        f"{kind} context overlap >= {t.min_context_overlap}, similarity >= "
        f"{t.min_similarity}" for kind, t in limits.items())]
    for half in halves:
        f = result[half]
        sets = ", ".join(f"{k} {v['precision']}/{v['recall']} ({v['conflicts']} of "
                         f"{v['pairs']})" for k, v in f["by_set"].items())
        kinds = ", ".join(f"{k} {v['flagged']}/{v['pairs']}" for k, v in f["by_kind"].items())
        lines.append(f"{half}: precision {f['precision']}, recall {f['recall']} "
                     f"({f['pairs']} pairs); precision/recall by kind: {sets}; "
                     f"flagged: {kinds}")
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
