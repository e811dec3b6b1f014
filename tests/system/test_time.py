"""Time in news: a plain-text article's dateline is its publication date, and an answer
about how things stand now says which date it speaks for."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rag import Assistant
from rag.index.records import published_ts
from rag.retrieve.question_time import asks_current_state, find_events, find_periods, find_times
from rag.terminal import format_answer
from ui.render import answer_markdown


def harbour_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "monday.txt").write_text(
        "Harbour reopens\nPORTSMOUTH, April 15, 2024 - The harbour reopened to ships on "
        "Monday after the storm, the harbour master said.\n", encoding="utf-8")
    (folder / "thursday.txt").write_text(
        "Harbour busy again\nPORTSMOUTH, April 18, 2024 - The harbour master said 57 ships "
        "docked at the harbour on Thursday, a record for April.\n", encoding="utf-8")
    return folder


def test_current_state_questions_are_told_apart() -> None:
    assert asks_current_state("What is the latest on the harbour?")
    assert asks_current_state("Are the ships still docking there?")
    assert asks_current_state("How many ships have docked so far?")
    assert not asks_current_state("How many ships docked on Thursday?")
    assert not asks_current_state("Who is the stillwater harbour master?")  # whole words


def test_datelines_date_the_articles_and_a_now_question_says_as_of_when(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    assert assistant.ingest(harbour_corpus(tmp_path / "corpus")).ok
    dates = {row["path"].rsplit("/", 1)[-1]: row["published_at"]
             for row in assistant.documents()}
    assert dates == {"monday.txt": "2024-04-15", "thursday.txt": "2024-04-18"}
    # The dates from the text filter like metadata dates.
    later = assistant.retrieve("harbour ships", k=5, filters={"published_after": "2024-04-16"})
    assert {p.published_at for p in later} == {"2024-04-18"}

    now = assistant.ask("What is the latest on ships at the harbour?")
    assert not now.refused and now.citations
    newest = max(c.published_at[:10] for c in now.citations)
    assert now.as_of == newest and now.to_dict()["as_of"] == newest
    assert f"(As of {newest}, the date of the newest cited source.)" in format_answer(now)
    assert f"*As of {newest}, the date of the newest cited source.*" in answer_markdown(now)

    then = assistant.ask("How many ships docked at the harbour on Thursday?")
    assert then.as_of == "" and "As of" not in format_answer(then)


def _report(published_at: str, ships: str) -> dict[str, str]:
    return {"title": "Harbour traffic", "source": "Harbour Times", "published_at": published_at,
            "text": f"The harbour master said {ships} ships had docked at the river port since "
                    "the storm.\nDredging of the outer channel is due to finish in May."}


def test_a_report_re_run_with_a_new_figure_is_answered_from_the_time_asked(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    """One story published twice with its figure changed: the date, bound or "now" in the
    question picks the version, and the date words need not appear in its text."""
    path = tmp_path / "harbour.jsonl"
    rows = [_report("2024-04-05T09:00:00+00:00", "57"), _report("2024-04-15T09:00:00+00:00", "64"),
            {"title": "Fishing quotas", "source": "Coast News",
             "published_at": "2024-04-20T09:00:00+00:00",
             "text": "The fishing fleet stayed in port while quotas were negotiated."}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assistant = make_assistant()
    assert assistant.ingest(path).ok
    question = "how many ships had docked at the river port since the storm?"

    def lead(asked: str) -> tuple[str, str]:
        answer = assistant.ask(asked)
        assert not answer.refused, answer.reason
        return answer.citations[0].published_at[:10], answer.text

    day, text = lead(f"On April 5, 2024, {question}")
    assert day == "2024-04-05" and "57 ships" in text.split("[1]")[0]
    day, text = lead(f"As the Harbour Times reported on April 15, 2024, {question}")
    assert day == "2024-04-15" and "64 ships" in text.split("[1]")[0]
    day, _ = lead(f"Before April 15, 2024, {question}")
    assert day == "2024-04-05"
    now = assistant.ask(f"As of now, {question}")
    assert now.citations[0].published_at[:10] == "2024-04-15" and now.as_of == "2024-04-15"


def test_the_dated_bench_changes_one_count_and_asks_for_each_version() -> None:
    from random import Random

    from bench.dated import make_update, questions
    from rag.retrieve.question_time import find_dates

    article = {"url": "https://example.org/a", "title": "Harbour", "source": "Harbour Times",
               "published_at": "2024-04-05T09:00:00+00:00",
               "body": "Diablo 4 fans waited. The harbour master said 57 ships had docked."}
    update = make_update(article, Random(3))
    assert update is not None and update.old == "57" and update.new != "57"
    assert update.article["body"] == article["body"].replace("57", update.new)
    assert update.article["published_at"] > article["published_at"]
    assert update.echo == "the harbour master said how many ships had docked?"
    asked = questions(article, update, Random(3))
    assert {kind for kind, _, _ in asked} >= {"on_original", "on_update", "before", "latest"}
    for kind, question, expected in asked:
        assert update.echo in question
        assert bool(find_dates(question)) == (kind != "latest")
        if kind in ("on_update", "latest"):
            assert expected == update.article["url"]
        elif kind in ("on_original", "before"):
            assert expected == article["url"]


def test_a_question_about_last_week_is_answered_from_last_weeks_report(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    """Periods in a question are counted back from today."""
    today = datetime.now(UTC).date()
    last_week = today - timedelta(days=today.weekday() + 5)  # last week's Wednesday
    months_ago = today - timedelta(days=70)
    path = tmp_path / "harbour.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (
        _report(f"{months_ago.isoformat()}T09:00:00+00:00", "57"),
        _report(f"{last_week.isoformat()}T09:00:00+00:00", "64"))), encoding="utf-8")
    assistant = make_assistant()
    assert assistant.ingest(path).ok
    answer = assistant.ask("Last week, how many ships had docked at the river port since "
                           "the storm?")
    assert not answer.refused, answer.reason
    assert answer.citations[0].published_at[:10] == last_week.isoformat()
    assert "64 ships" in answer.text.split("[1]")[0]


def test_periods_in_a_question_count_back_from_today() -> None:
    friday = date(2024, 4, 19)
    (week,) = find_periods("What happened last week?", friday)
    assert (week.first, week.last) == (date(2024, 4, 8), date(2024, 4, 14))
    assert week.score(published_ts("2024-04-10")) == 1.0
    assert week.score(published_ts("2024-04-15")) == 0.5  # a day outside: time zones
    assert week.score(published_ts("2024-04-17")) == 0.0
    (september,) = find_periods("What did they say last September?", friday)
    assert (september.first, september.last) == (date(2023, 9, 1), date(2023, 9, 30))
    (so_far,) = find_periods("How many ships docked this month?", friday)
    assert (so_far.first, so_far.last) == (date(2024, 4, 1), friday)
    assert find_periods("Who hosts Last Week Tonight?", friday) == []
    assert [m.text for m in find_times("Since March 3, 2024 and last week?", friday)] == \
        ["March 3, 2024", "last week"]


def test_a_bound_set_by_an_event_is_dated_from_the_corpus(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    """"Before the port strike" names no date: the strike's first report dates it, and
    the version of the story from that side of it answers."""
    rows = [_report("2024-04-05T09:00:00+00:00", "57"),
            {"title": "Dock workers walk out", "source": "Coast News",
             "published_at": "2024-04-10T09:00:00+00:00",
             "text": "Dock workers began a port strike on Wednesday over pay, the union said."},
            _report("2024-04-15T09:00:00+00:00", "64")]
    path = tmp_path / "harbour.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assistant = make_assistant()
    assert assistant.ingest(path).ok
    asked = "how many ships had docked at the river port?"
    for bound, day, ships in (("Before the port strike", "2024-04-05", "57 ships"),
                              ("After the port strike", "2024-04-15", "64 ships")):
        answer = assistant.ask(f"{bound}, {asked}")
        assert not answer.refused, answer.reason
        assert answer.citations[0].published_at[:10] == day
        assert ships in answer.text.split("[1]")[0]
    # An event the corpus never reports sets no bound (nothing is guessed).
    events = find_events("Before the harbour fire, how many ships docked?")
    assert [(e.text, e.relation) for e in events] == [("the harbour fire", "before")]
    plain = assistant.retrieve(f"Before the harbour fire, {asked}", k=3)
    assert all(p.time_fit is None for p in plain)


def test_events_are_read_only_where_a_noun_phrase_follows_the_bound() -> None:
    def read(question: str) -> list[tuple[str, str]]:
        return [(e.text, e.relation) for e in find_events(question)]

    assert read("What did Baku say before the ceasefire?") == [("the ceasefire", "before")]
    assert read("How many left after Azerbaijan's offensive?") == [
        ("Azerbaijan's offensive", "after")]
    assert read("What changed since the merger of the banks, according to Reuters?") == [
        ("the merger of the banks", "after")]
    assert read("What happened after he resigned?") == []
    assert read("Before November 11, who led?") == []  # a date, not an event
    assert read("Who guarded the road after the 2020 war?") == []  # its year dates it
    assert read("Did The Verge report it before The Roar did?") == []  # outlets
