"""Dated questions: when one story ran twice with different figures, does a question that
names a date, a bound or "the latest" get the version of that time?

    python -m bench.dated --multihop ../shared/bench/multihop-rag \
        --json evals/results/dated.json

Each anchor is a MultiHop-RAG article cited by a development query whose body states a
number in digits. It gets an update, the way a running story is re-published: the same
outlet and title, 3-40 days later, one of its numbers changed (`bench.conflicts`'s edit,
so the two versions disagree on one value and are otherwise the same text). Both are
indexed with every other article. The questions echo the changed sentence, its number
asked for ("... with how many capacity?"), so finding the story is easy and what is
measured is the choice between its two versions:

- `on_original` / `on_update`: "As <outlet> reported on <day>, ...?" or "On <day>, ...?",
  expecting the version published that day;
- `in_month`: "In <Month Year>, ...?", when the versions fall in different months;
- `before`: "Before <the update's day>, ...?", expecting the original;
- `latest`: "As of now, ...?" or "According to the latest reports, ...?", expecting the
  update, with the answer's `as_of` its day.

An answer is right when it is not refused, its first citation is the expected version,
and (for `latest`) `as_of` is that version's day. Also reported: the right story (either
version first), and the expected version's value in the answer text. Anchors are split in
halves by a hash of their URL; `held_out` is the half nothing is tuned on. A period an
echoed sentence names ("last year") is read from the day the bench runs, as a question
would be; the articles are of 2023, so it fits none of them from 2025 on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from bench._common import environment, report, shown_path
from bench.conflicts import changed_value, digit_mentions
from bench.retrieval import load_queries
from rag import Answer, Assistant
from rag.index.embeddings import get_embedder
from rag.text.numbers import NumberMention
from rag.text.sentences import sentence_spans

KINDS = ("on_original", "on_update", "in_month", "before", "latest")
_ON = ("As {source} reported on {day}, {echo}", "On {day}, {echo}")
_LATEST = ("As of now, {echo}", "According to the latest reports, {echo}")
_LOWERED = frozenset("The A An It Its This That These Those He She They We In With After "
                     "But And According".split())


def _half(url: str) -> str:
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


def _score(answer: Answer, kind: str, expected: str, other: str, urls: dict[str, str],
           values: dict[str, str]) -> dict[str, bool]:
    lead = urls.get(answer.citations[0].doc_id, "") if answer.citations else ""
    right = not answer.refused and lead == expected
    if kind == "latest":
        day = next((c.published_at[:10] for c in answer.citations
                    if urls.get(c.doc_id) == expected), "")
        right = right and bool(day) and answer.as_of == day
    return {"right": right, "right_story": not answer.refused and lead in (expected, other),
            "value": values[expected] in answer.text}


def run(multihop: Path, anchors: int, seed: int) -> dict[str, Any]:
    articles = [json.loads(line) for line in
                (multihop / "articles.jsonl").read_text("utf-8").splitlines() if line]
    cited = {e["url"] for q in load_queries(multihop / "queries.jsonl")
             for e in q.get("evidence") or []}
    rng = Random(seed)
    pool = [a for a in articles if a["url"] in cited]
    rng.shuffle(pool)
    updates: list[dict[str, Any]] = []
    asked: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    for article in pool:
        if len(updates) == anchors:
            break
        made = make_update(article, rng)
        if made is None:
            continue
        updates.append(made.article)
        values[article["url"]], values[made.article["url"]] = made.old, made.new
        for kind, question, expected in questions(article, made, rng):
            other = made.article["url"] if expected == article["url"] else article["url"]
            asked.append({"kind": kind, "question": question, "expected": expected,
                          "other": other, "half": _half(article["url"])})
    with tempfile.TemporaryDirectory(prefix="rag-dated-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        (folder / "articles.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in articles + updates),
            encoding="utf-8")
        assistant = Assistant(home=Path(tmp) / "home", embedder=get_embedder("minilm"))
        ingest = assistant.ingest(folder)
        if not ingest.ok:
            raise SystemExit(f"ingest failed: {ingest.failed[:3]}")
        urls = {row["doc_id"]: row["url"] for row in assistant.store.document_rows()}
        for item in asked:
            answer = assistant.ask(item["question"])
            item.update(_score(answer, item["kind"], item["expected"], item["other"], urls,
                               values))
        assistant.close()
    return {"articles": len(articles), "anchors": len(updates), "questions": len(asked),
            "halves": {half: _rates([a for a in asked if a["half"] == half])
                       for half in ("fit", "held_out")},
            "all": _rates(asked),
            "wrong": [{k: a[k] for k in ("kind", "half", "question", "right_story")}
                      for a in asked if not a["right"]][:40]}


def _rates(items: list[dict[str, Any]]) -> dict[str, Any]:
    def rate(rows: list[dict[str, Any]], key: str) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0

    by_kind = {kind: {"n": len(rows), "right": rate(rows, "right"),
                      "right_story": rate(rows, "right_story")}
               for kind in KINDS if (rows := [i for i in items if i["kind"] == kind])}
    return {"n": len(items), "right": rate(items, "right"),
            "right_story": rate(items, "right_story"),
            "right_given_story": rate([i for i in items if i["right_story"]], "right"),
            "value_in_answer": rate(items, "value"), "by_kind": by_kind}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dated",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--multihop", type=Path, default=Path("../shared/bench/multihop-rag"))
    parser.add_argument("--anchors", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    result = {"meta": environment(), "data": shown_path(args.multihop),
              **run(args.multihop, args.anchors, args.seed)}
    lines = [f"{result['questions']} dated questions on {result['anchors']} updated "
             f"articles (of {result['articles']})"]
    for name, rates in [("all", result["all"]), *result["halves"].items()]:
        kinds = ", ".join(f"{k} {v['right']}" for k, v in rates["by_kind"].items())
        lines.append(f"{name}: right {rates['right']} (right story {rates['right_story']}, "
                     f"right given the story {rates['right_given_story']}); {kinds}")
    return report(result, args.json, lines)


if __name__ == "__main__":
    raise SystemExit(main())
