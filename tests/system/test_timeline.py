"""A timeline: dated, cited sentences about a subject, oldest first, one per story and
date, each date read from the sentence against its article's publication date
(`rag.answer.timeline`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rag import Assistant
from rag.answer.timeline import sentence_date, stated_dates
from tests.system.test_cli import rag

PUBLISHED = date(2024, 4, 19)  # a Friday


def resolved(sentence: str, published: date | None = PUBLISHED) -> list[tuple[str, str]]:
    return [(d.label, d.rule) for d in stated_dates(sentence, published)]


def test_dates_are_resolved_against_the_publication_date_with_their_rule() -> None:
    assert resolved("Moscow and Baku confirmed on April 17 the start of the withdrawal.") == \
        [("2024-04-17", "year from publication")]
    # A January article's "December 5" is the December before, not the one after.
    assert resolved("The talks began on December 5.", date(2024, 1, 10)) == \
        [("2023-12-05", "year from publication")]
    assert resolved("The minister said on Thursday that talks would resume.") == \
        [("2024-04-18", "weekday before publication")]
    assert resolved("The trial started Friday.") == [("2024-04-19", "weekday before publication")]
    assert resolved("Officials said yesterday the border was closed.") == \
        [("2024-04-18", "relative to publication")]
    assert resolved("They were deployed in November 2020.") == [("2020-11", "stated")]
    assert resolved("A source told Entertainment Tonight the pair were happy.") == []
    # A sentence's own capital is no programme's name.
    assert resolved("Yesterday, officials said the border was closed.") == \
        [("2024-04-18", "relative to publication")]
    assert resolved("“Tonight we celebrate,” the mayor said.") == \
        [("2024-04-19", "relative to publication")]
    assert resolved("She told the Today show she would run.") == []


def test_ranges_are_resolved_against_the_publication_date() -> None:
    assert resolved("Talks collapsed last week.") == \
        [("2024-04-08/2024-04-14", "week before publication")]
    assert resolved("Officials met earlier this week.") == \
        [("2024-04-15/2024-04-19", "week of publication")]
    assert resolved("Fans rallied last weekend.") == \
        [("2024-04-13/2024-04-14", "weekend before publication")]
    assert resolved("Prices rose last month.") == [("2024-03", "month before publication")]
    # This year so far: up to the publication day.
    assert resolved("Sales fell earlier this year.") == \
        [("2024-01-01/2024-04-19", "year of publication")]
    assert resolved("It was founded last year.") == [("2023", "year before publication")]
    assert resolved("The offensive last September ended it.") == \
        [("2023-09", "month before publication")]
    # The first date stated is the sentence's.
    assert resolved("On Thursday, earlier this week, they met.")[0] == \
        ("2024-04-18", "weekday before publication")
    assert resolved("The talks collapsed last week.", None) == []


def test_without_a_publication_date_only_full_dates_count() -> None:
    assert resolved("Talks began on April 17 and ended on Thursday.", None) == []
    assert resolved("Talks began on April 17, 2024.", None) == [("2024-04-17", "stated")]
    # The first date unresolvable, the sentence is undated: the later date is another
    # event's (the deployment, not the withdrawal).
    withdrawal = "The withdrawal began on April 17 of troops deployed since November 2020."
    assert resolved(withdrawal, None) == [("2020-11", "stated")]
    assert sentence_date(withdrawal, None) is None
    assert sentence_date("Troops deployed in November 2020 left on April 17.", None) == \
        stated_dates("Troops deployed in November 2020 left on April 17.", None)[0]


def _article(title: str, source: str, published_at: str, text: str) -> dict[str, str]:
    return {"title": title, "source": source, "published_at": published_at, "text": text}


ARTICLES = [
    _article("Ceasefire talks open", "Wire Daily", "2024-03-04",
             "Negotiators for the river port ceasefire met in Geneva on Monday for the first "
             "round of talks.\nThe talks were chaired by a Swiss envoy."),
    _article("Ceasefire signed", "Harbour Times", "2024-04-19",
             "The river port ceasefire was signed on Thursday after six weeks of talks.\n"
             "Both sides agreed to withdraw heavy weapons from the harbour."),
    # An earlier report that names its date in full, published later.
    _article("How the ceasefire collapsed", "Evening Post", "2024-05-20",
             "The river port ceasefire first broke down on March 1, 2024, when shelling "
             "resumed near the harbour."),
    _article("Undated note", "", "",
             "The river port ceasefire was discussed again by negotiators."),
]


def test_a_timeline_orders_dated_sentences_and_cites_them_exactly(
        tmp_path: Path, make_assistant: Callable[..., Assistant]) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(path)
    entries = assistant.timeline("river port ceasefire")
    dates = [e.date for e in entries]
    assert dates == sorted(dates)
    assert ("2024-03-01", "stated") in [(e.date, e.rule) for e in entries]
    assert ("2024-03-04", "weekday before publication") in [(e.date, e.rule) for e in entries]
    assert ("2024-04-18", "weekday before publication") in [(e.date, e.rule) for e in entries]
    # The undated article states no date: it has no place on a timeline.
    assert all(e.citation.source for e in entries)
    # One story and date, one entry.
    keys = [(e.citation.doc_id, e.date) for e in entries]
    assert len(keys) == len(set(keys))
    for e in entries:
        document = assistant.document(e.citation.doc_id)
        assert document.text[e.citation.start:e.citation.end] == e.citation.quote
        assert e.date_text in e.citation.quote
    assert entries[0].to_dict()["citation"]["quote"] == entries[0].citation.quote


def test_rag_timeline_prints_dates_and_json(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    home = tmp_path / "home"
    assert rag(home, "ingest", str(path)).returncode == 0
    shown = rag(home, "timeline", "river port ceasefire")
    assert shown.returncode == 0, shown.stderr
    assert "2024-03-01  (“March 1, 2024”, stated)" in shown.stdout
    assert "— Harbour Times, 2024-04-19, Ceasefire signed" in shown.stdout
    as_json = json.loads(rag(home, "timeline", "river port ceasefire", "--json").stdout)
    assert [e["date"] for e in as_json] == sorted(e["date"] for e in as_json)
    empty = rag(home, "timeline", "  ")
    assert empty.returncode == 2 and "empty" in empty.stderr
