"""Follow-up questions: when a question leans on the previous turn, how it is rewritten,
and that the previous answer's passages are only reused as the store holds them now."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rag import Assistant
from rag.answer.followup import is_follow_up, offline_rewrite
from rag.config import MAX_QUESTION_CHARS


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


DAM = {"url": "https://alpha.example/dam", "title": "Kessel Dam", "source": "Alpha News",
       "published_at": "2024-03-01",
       "body": "The Kessel Dam opened in March. About 2,000 workers built the Kessel Dam "
               "over six years. The dam supplies power to the valley."}
BRIDGE = {"url": "https://beta.example/bridge", "title": "Lorn Bridge", "source": "Beta Times",
          "published_at": "2024-03-02",
          "body": "The Lorn Bridge opened in April. About 300 workers built the Lorn Bridge "
                  "in two years. The bridge carries trains to the coast."}


def assert_quotes_exact(assistant: Assistant, answer: object) -> None:
    for citation in answer.citations:  # type: ignore[attr-defined]
        text = assistant.document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.quote


@pytest.mark.parametrize(("question", "leans"), [
    ("and who decided that?", True),
    ("What did they say?", True),
    ("Why did it happen?", True),
    ("And what did Tim Cook say about that?", True),
    ("How many Armenians left their homes?", False),
    ("Who paid for it in Örebro?", False),
    ("Why did the peacekeepers leave?", False),
])
def test_a_question_leans_on_the_last_turn_only_when_it_names_nothing(question: str,
                                                                      leans: bool) -> None:
    assert is_follow_up(question) is leans


def test_a_chain_of_follow_ups_never_outgrows_the_question_limit() -> None:
    messages = [{"role": "user", "content": "Why did the peacekeepers leave?"}]
    for _ in range(200):
        rewritten = offline_rewrite("and then what?", messages)
        assert len(rewritten) <= MAX_QUESTION_CHARS
        messages.append({"role": "user", "content": rewritten})
    assert rewritten.startswith("and then what? (and then what? (")


def test_follow_up_quotes_the_article_as_it_is_now(make_assistant: Callable[..., Assistant],
                                                   tmp_path: Path) -> None:
    assistant = make_assistant()
    source = write_jsonl(tmp_path / "src" / "dam.jsonl", [DAM])
    assistant.ingest(source)
    first = assistant.ask("How many workers built the Kessel Dam?")
    assert "2,000" in first.text
    write_jsonl(source, [{**DAM, "body": "CORRECTION: an earlier version of this story "
                                         "misstated the workforce. The Kessel Dam opened in "
                                         "March. About 1,600 labourers were employed on the "
                                         "project. The dam supplies power to the valley."}])
    assistant.ingest(source)
    answer = assistant.chat("And how many workers built it?", [first])
    assert "2,000" not in answer.text
    assert_quotes_exact(assistant, answer)


def test_follow_up_keeps_to_the_filters_and_forgets_deleted_articles(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    assistant.ingest(write_jsonl(tmp_path / "src" / "a.jsonl", [DAM, BRIDGE]))
    first = assistant.ask("How many workers built the Kessel Dam?")
    dam = {c.doc_id for c in first.citations}
    assert dam
    filtered = assistant.chat("And how many workers built it?", [first],
                              filters={"source": ["Beta Times"]})
    assert not dam & {p.doc_id for p in filtered.passages}
    assert_quotes_exact(assistant, filtered)
    for doc_id in dam:
        assistant.delete(doc_id)
    after = assistant.chat("And how many workers built it?", [first])
    assert not dam & {p.doc_id for p in after.passages}
    assert_quotes_exact(assistant, after)
