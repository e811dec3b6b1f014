"""Dated questions: when one story ran twice with different figures, does a question that
names a date, a bound or "the latest" get the version of that time? Behind
`rag eval --dated DIR` and `python -m bench.dated`.

Each anchor is an article of a MultiHop-RAG-style folder (`articles.jsonl`, and
`queries.jsonl` whose `evidence` lists the articles a query cites) that a query cites and
whose body states a number in digits. It gets an update, the way a running story is
re-published: the same outlet and title, 3-40 days later, one of its numbers changed
(`changed_value`, so the two versions disagree on one value and are otherwise the same
text). Both are indexed with every other article. The questions echo the changed
sentence, its number asked for ("... with how many capacity?"), so finding the story is
easy and what is measured is the choice between its two versions:

- `on_original` / `on_update`: "As <outlet> reported on <day>, ...?" or "On <day>, ...?",
  expecting the version published that day;
- `in_month`: "In <Month Year>, ...?", when the versions fall in different months;
- `before`: "Before <the update's day>, ...?", expecting the original;
- `latest`: "As of now, ...?" or "According to the latest reports, ...?", expecting the
  update, with the answer's `as_of` its day;
- `before_event` / `after_event`: "Before the Kestrel-3 review, ...?", expecting the
  original / the update. A short wire report published halfway between the two versions
  announces the event (`event_report`), under an invented name no article holds, so the
  event's day can only come from that report: what is measured is dating an event from
  the corpus and answering from the right side of it, not reading real event names.

An answer is right when it is not refused, its first citation is the expected version,
and (for `latest`) `as_of` is that version's day. Also reported: the right story (either
version first), and the expected version's value in the answer text. Anchors are split in
halves by a hash of their URL; `held_out` is the half nothing is tuned on. A period an
echoed sentence names ("last year") is read from the day the set runs, as a question
would be; MultiHop-RAG's articles are of 2023, so it fits none of them from 2025 on.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

from rag.errors import LoaderError
from rag.text.numbers import NumberMention, number_mentions
from rag.text.sentences import sentence_spans

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index.embeddings import Embedder
    from rag.schema import Answer

KINDS = ("on_original", "on_update", "in_month", "before", "latest", "before_event",
         "after_event")
HALVES = ("fit", "held_out")
ANCHORS, SEED = 120, 11  # what evals/results/dated.json is measured with
DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_ON = ("As {source} reported on {day}, {echo}", "On {day}, {echo}")
_LATEST = ("As of now, {echo}", "According to the latest reports, {echo}")
_LOWERED = frozenset("The A An It Its This That These Those He She They We In With After "
                     "But And According".split())


# --- the edit (shared with bench.conflicts) ---------------------------------------------


def digit_mentions(sentence: str) -> list[NumberMention]:
    """Numbers written in digits (the ones an edit can change in place)."""
    return [m for m in number_mentions(sentence)
            if DIGITS.fullmatch(sentence[m.start:m.end].split(" ")[0].lstrip("$£€"))]


def changed_value(surface: str, is_year: bool, rng: Random) -> str:
    """`surface` ("2,000", "$5 million", "40%") with its number changed, written the same
    way: a year moved by 1-3, another value scaled by 0.2-0.9 or 1.1-1.8 and rounded as
    the original is."""
    digits = DIGITS.search(surface)
    assert digits is not None
    text = digits.group()
    value = float(text.replace(",", ""))
    if is_year:
        new = value + rng.choice([-3, -2, -1, 1, 2, 3])
    else:
        factor = rng.choice([rng.uniform(0.2, 0.9), rng.uniform(1.1, 1.8)])
        new = value * factor
    decimals = len(text.split(".")[1]) if "." in text else 0
    if decimals == 0:
        # Round as the original is rounded: "2,000" becomes "2,400", not "2,391".
        zeros = len(text.replace(",", "")) - len(text.replace(",", "").rstrip("0"))
        step = 10 ** min(zeros, max(len(str(int(value))) - 1, 0))
        new = max(step, round(new / step) * step)
        if new == value:
            new = value + step
        written = f"{int(new):,}" if "," in text else str(int(new))
    else:
        new = round(new, decimals) if round(new, decimals) != value else value + 10 ** -decimals
        written = f"{new:.{decimals}f}"
    return surface[:digits.start()] + written + surface[digits.end():]


# --- the set ------------------------------------------------------------------------------


def half(url: str) -> str:
    return "fit" if hashlib.sha256(url.encode()).digest()[0] % 2 == 0 else "held_out"


def _day(when: datetime) -> str:
    return f"{when:%B} {when.day}, {when.year}"


@dataclass(frozen=True)
class Update:
    article: dict[str, Any]  # the update as indexed
    echo: str  # the changed sentence as a question, its number asked for
    old: str
    new: str


def make_update(article: dict[str, Any], rng: Random) -> Update | None:
    """The article re-published 3-40 days later with one number changed; None when its
    body states no number in digits or it has no date."""
    body = article["body"]
    numbered = [(s, e) for s, e in sentence_spans(body) if _counts(body[s:e])]
    published = article.get("published_at") or ""
    if not numbered or not published:
        return None
    start, end = rng.choice(numbered)
    sentence = body[start:end]
    mention = rng.choice(_counts(sentence))
    old = sentence[mention.start:mention.end]
    new = changed_value(old, mention.value.is_year, rng)
    changed = body[:start + mention.start] + new + body[start + mention.end:]
    when = datetime.fromisoformat(published) + timedelta(days=rng.randint(3, 40))
    update = {**article, "url": article["url"] + "#update", "body": changed,
              "published_at": when.isoformat()}
    wh = ("how much" if old[:1] in "$£€" else "what percentage" if "%" in old
          or "percent" in old else "how many")
    echo = sentence[:mention.start] + wh + sentence[mention.end:]
    echo = echo.rstrip(" .!?;:") + "?"
    # After a leading date the echo goes on in lower case, unless it opens with a name.
    if echo.split(" ", 1)[0] in _LOWERED:
        echo = echo[0].lower() + echo[1:]
    return Update(update, echo, old, new)


def _counts(sentence: str) -> list[NumberMention]:
    """Numbers in digits that count or measure something ("12 goals", "$5 million",
    "40%"), not part of a name ("Diablo 4") or a score ("9-5")."""
    def counts(m: NumberMention) -> bool:
        before, after = sentence[:m.start].split(), sentence[m.end:]
        surface = sentence[m.start:m.end]
        if after.startswith("-") or sentence[:m.start].endswith(("-", ":")):
            return False
        if before and before[-1][:1].isupper() and not before[-1].endswith((",", ".")):
            return False
        return surface[:1] in "$£€" or "%" in surface or bool(re.match(r" [a-z]", after))
    return [m for m in digit_mentions(sentence) if counts(m)]


def questions(article: dict[str, Any], update: Update, rng: Random
              ) -> list[tuple[str, str, str]]:
    """(kind, question, expected url) for one anchor."""
    first = datetime.fromisoformat(article["published_at"])
    second = datetime.fromisoformat(update.article["published_at"])
    source, echo = article["source"], update.echo
    original, updated = article["url"], update.article["url"]
    asked = [
        ("on_original", rng.choice(_ON).format(source=source, day=_day(first), echo=echo),
         original),
        ("on_update", rng.choice(_ON).format(source=source, day=_day(second), echo=echo),
         updated),
        ("before", f"Before {_day(second)}, {echo}", original),
        ("latest", rng.choice(_LATEST).format(echo=echo), updated),
    ]
    if (first.year, first.month) != (second.year, second.month):
        month, expected = rng.choice([(first, original), (second, updated)])
        asked.append(("in_month", f"In {month:%B} {month.year}, {echo}", expected))
    return asked


# Invented event names: a word no MultiHop-RAG article holds next to its number.
_CODENAMES = ("Kestrel", "Marlin", "Juniper", "Osprey", "Tamarack", "Heron", "Larkspur",
              "Bittern")


def event_report(article: dict[str, Any], update: Update, n: int
                 ) -> tuple[dict[str, Any], str]:
    """A short wire report of an invented event published halfway between the article and its
    update, and the event as a question names it ("the Kestrel-3 review")."""
    first = datetime.fromisoformat(article["published_at"])
    second = datetime.fromisoformat(update.article["published_at"])
    name = f"{_CODENAMES[n % len(_CODENAMES)]}-{n // len(_CODENAMES) + 1}"
    event = f"the {name} review"
    report = {"url": article["url"] + "#event", "title": f"{name} review opens",
              "source": "Wire desk", "published_at": (first + (second - first) / 2).isoformat(),
              "body": f"Officials opened {event} on Tuesday, a spokesperson said."}
    return report, event


@dataclass
class DatedSet:
    articles: list[dict[str, Any]]  # the folder's, as read
    updates: list[dict[str, Any]] = field(default_factory=list)
    # kind, question, expected (url), other (the other version's url), half
    asked: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # url -> the changed number as stated
    events: list[dict[str, Any]] = field(default_factory=list)  # `event_report`s, indexed too


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise LoaderError(f"no {path.name} in {path.parent}")
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def build(multihop: Path, anchors: int = ANCHORS, seed: int = SEED) -> DatedSet:
    """The dated set of a MultiHop-RAG-style folder, deterministic for a seed."""
    articles = _json_lines(multihop / "articles.jsonl")
    cited = {e["url"] for q in _json_lines(multihop / "queries.jsonl")
             for e in q.get("evidence") or q.get("evidence_list") or []}
    rng = Random(seed)
    pool = [a for a in articles if a["url"] in cited]
    rng.shuffle(pool)
    made_set = DatedSet(articles)
    anchored: list[tuple[dict[str, Any], Update]] = []
    for article in pool:
        if len(made_set.updates) == anchors:
            break
        made = make_update(article, rng)
        if made is None:
            continue
        made_set.updates.append(made.article)
        anchored.append((article, made))
        made_set.values[article["url"]] = made.old
        made_set.values[made.article["url"]] = made.new
        for kind, question, expected in questions(article, made, rng):
            other = made.article["url"] if expected == article["url"] else article["url"]
            made_set.asked.append({"kind": kind, "question": question, "expected": expected,
                                   "other": other, "half": half(article["url"])})
    # Events last, so the other kinds' questions and updates stay as they were.
    for n, (article, made) in enumerate(anchored):
        report, event = event_report(article, made, n)
        made_set.events.append(report)
        for kind, bound, expected, other in (
                ("before_event", "Before", article["url"], made.article["url"]),
                ("after_event", "After", made.article["url"], article["url"])):
            made_set.asked.append({"kind": kind, "question": f"{bound} {event}, {made.echo}",
                                   "expected": expected, "other": other,
                                   "half": half(article["url"])})
    return made_set


# --- the run ------------------------------------------------------------------------------


def score(answer: Answer, kind: str, expected: str, other: str, urls: dict[str, str],
          values: dict[str, str]) -> dict[str, bool]:
    lead = urls.get(answer.citations[0].doc_id, "") if answer.citations else ""
    right = not answer.refused and lead == expected
    if kind == "latest":
        day = next((c.published_at[:10] for c in answer.citations
                    if urls.get(c.doc_id) == expected), "")
        right = right and bool(day) and answer.as_of == day
    return {"right": right, "right_story": not answer.refused and lead in (expected, other),
            "value": values[expected] in answer.text}


def run(multihop: Path, anchors: int = ANCHORS, seed: int = SEED, *,
        settings: Settings | None = None, embedder: Embedder | None = None,
        progress: bool = False) -> dict[str, Any]:
    """Build the set, index its articles and updates in a fresh temporary data directory
    (an `Assistant` with `settings`, its home replaced, and `embedder`), ask every
    question and score it. Raises LoaderError when the folder cannot be read or
    indexed."""
    from tqdm import tqdm

    from rag.assistant import Assistant

    dated = build(multihop, anchors, seed)
    asked = dated.asked
    with tempfile.TemporaryDirectory(prefix="rag-dated-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        (folder / "articles.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n"
                    for r in dated.articles + dated.updates + dated.events),
            encoding="utf-8")
        assistant = Assistant(home=Path(tmp) / "home", settings=settings, embedder=embedder)
        try:
            ingest = assistant.ingest(folder)
            if not ingest.ok:
                raise LoaderError(f"ingest failed: {ingest.failed[:3]}")
            urls = {row["doc_id"]: row["url"] for row in assistant.store.document_rows()}
            for item in tqdm(asked, desc="eval dated", unit="q", file=sys.stderr,
                             disable=not progress, dynamic_ncols=True):
                answer = assistant.ask(item["question"])
                item.update(score(answer, item["kind"], item["expected"], item["other"],
                                  urls, dated.values))
        finally:
            assistant.close()
    return {"articles": len(dated.articles), "anchors": len(dated.updates),
            "questions": len(asked),
            "halves": {name: rates([a for a in asked if a["half"] == name]) for name in HALVES},
            "all": rates(asked),
            "wrong": [{k: a[k] for k in ("kind", "half", "question", "right_story")}
                      for a in asked if not a["right"]][:40]}


def rates(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def rate(rows: Sequence[dict[str, Any]], key: str) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0

    by_kind = {kind: {"n": len(rows), "right": rate(rows, "right"),
                      "right_story": rate(rows, "right_story")}
               for kind in KINDS if (rows := [i for i in items if i["kind"] == kind])}
    return {"n": len(items), "right": rate(items, "right"),
            "right_story": rate(items, "right_story"),
            "right_given_story": rate([i for i in items if i["right_story"]], "right"),
            "value_in_answer": rate(items, "value"), "by_kind": by_kind}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What `run`'s figures print as: the counts, then each of all / fit / held_out."""
    lines = [f"{result['questions']} dated questions on {result['anchors']} updated "
             f"articles (of {result['articles']})"]
    for name, figures in [("all", result["all"]), *result["halves"].items()]:
        kinds = ", ".join(f"{k} {v['right']}" for k, v in figures["by_kind"].items())
        lines.append(f"{name}: right {figures['right']} (right story "
                     f"{figures['right_story']}, right given the story "
                     f"{figures['right_given_story']}); {kinds}")
    return lines


__all__ = ["KINDS", "DatedSet", "Update", "build", "changed_value", "digit_mentions",
           "event_report", "make_update", "questions", "rates", "run", "score",
           "summary_lines"]
