"""What users and articles write that the answerer must take as written: footnote markers in
an article, polite or imperative questions, numbers without thousands separators, names
outside ASCII, Persian and emoji joiners, and a generated marker too long to be a number."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rag import Assistant
from rag.answer.citations import parse_markers
from rag.answer.fillers import gaps
from rag.answer.slots import read_question
from rag.errors import InvalidQuestionError
from rag.validation import validate_question

MakeAssistant = Callable[..., Assistant]


def test_article_footnote_markers_stay_out_of_the_answer_text(make_assistant: MakeAssistant,
                                                              tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bridge.md").write_text(
        "---\ntitle: Harbour bridge opens\nsource: Test Wire\n---\n"
        "The Harbour Bridge cost $4,500,000 to build, officials said.[2] It opened to traffic "
        "on March 3, 2024.[3]\nThe mayor cut the ribbon because the governor was ill.\n",
        encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(corpus)
    answer = assistant.ask("When did the Harbour Bridge open to traffic?")
    assert not answer.refused
    shown = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert shown == {c.marker for c in answer.citations}
    assert "March 3, 2024" in answer.text
    for citation in answer.citations:
        assert assistant.document(citation.doc_id).text[citation.start:citation.end] \
            == citation.quote
    assert any("[2]" in c.quote for c in answer.citations)  # the quote stays verbatim


@pytest.mark.parametrize("question", [
    "Please tell me why the peacekeepers left.",
    "Summarize why the peacekeepers left.",
    "Give the reason the peacekeepers left.",
    "Why did the peacekeepers leave? Thanks!",
    "Why were the 2000 Russian peacekeepers deployed?",
    "Where did the 100000 Armenians go?",
])
def test_politeness_and_unseparated_numbers_are_not_missing_names(
        seed_assistant: Assistant, question: str) -> None:
    answer = seed_assistant.ask(question)
    assert not answer.refused, answer.reason


def test_a_number_must_match_all_its_digits(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("Where did the 1000000 Armenians go?")
    assert answer.refused and answer.reason == "no passage mentions 1000000"


@pytest.mark.parametrize(("question", "sentence"), [
    ("Who opened the café?", "The café was opened by Jürgen Müller in 2019."),
    ("Who joined the bakery?", "The bakery was joined by Ayşe Yılmaz last year."),
    ("Who led the team?", "The team was led by Łukasz Żak."),
    ("Where did the baker move?", "The baker moved to Örebro in 2020."),
])
def test_names_outside_ascii_fill_who_and_where(question: str, sentence: str) -> None:
    assert gaps(read_question(question), sentence) == []


def test_a_marker_too_long_for_a_number_cites_nothing() -> None:
    drafts = parse_markers("About 2,000 peacekeepers were deployed [" + "1" * 4301 + "].", 3)
    assert [(d.text, d.markers) for d in drafts] == [
        ("About 2,000 peacekeepers were deployed.", ())]


@pytest.mark.parametrize("question", ["چرا نیروهای حافظ صلح روسی\u200cها رفتند؟",
                                      "Why did the peacekeepers leave? 👩\u200d💻"])
def test_joiners_are_not_control_characters(question: str) -> None:
    assert validate_question(question) == question


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\x1b", "\u2066"])
def test_other_control_characters_are_still_refused(char: str) -> None:
    with pytest.raises(InvalidQuestionError):
        validate_question(f"Why did{char} the peacekeepers leave?")


@pytest.mark.parametrize("question", [
    "What is Armenia's foreign minister's name?",
    "Name Armenia's foreign minister.",
    "Who leads the EU?",
    "Who heads the EU?",
])
def test_a_role_the_article_never_fills_is_refused(seed_assistant: Assistant,
                                                   question: str) -> None:
    # The article names the EU's *lead spokesperson*, a rank, and no foreign minister.
    assert seed_assistant.ask(question).refused


@pytest.mark.parametrize("question", [
    "What is the EU spokesperson's name?",
    "Name the EU's lead spokesperson.",
])
def test_a_name_asked_for_by_its_role_is_answered(seed_assistant: Assistant,
                                                  question: str) -> None:
    answer = seed_assistant.ask(question)
    assert not answer.refused and "Peter Stano" in answer.text


def test_a_name_outside_ascii_must_be_in_the_sources(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("Why did the peacekeepers leave Örebro?")
    assert answer.refused and "Örebro" in (answer.reason or "")


def test_a_pasted_byte_order_mark_is_dropped_not_refused() -> None:
    assert validate_question("\ufeffWhy did the peacekeepers leave?") == \
        "Why did the peacekeepers leave?"
    with pytest.raises(InvalidQuestionError, match="U\\+202E"):
        validate_question("Why did the \u202epeacekeepers leave?")
