"""Time in news: a plain-text article's dateline is its publication date, and an answer
about how things stand now says which date it speaks for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag import Assistant
from rag.cli import format_answer
from rag.retrieve.query_analysis import asks_current_state
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
