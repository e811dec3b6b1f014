"""The offline core end to end: ingest into a real Chroma, answer with exact citations."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from rag import (
    Answer,
    Assistant,
    DocumentNotFoundError,
    IngestLockedError,
    InvalidArgumentError,
    InvalidQuestionError,
    StoreError,
)
from rag.ingest.lock import writer_lock
from tests.conftest import SEED


def assert_citations_exact(assistant: Assistant, answer: Answer) -> None:
    for citation in answer.citations:
        document = assistant.document(citation.doc_id)
        assert document.text[citation.start : citation.end] == citation.quote
    for passage in answer.passages:
        document = assistant.document(passage.doc_id)
        assert document.text[passage.start : passage.end] == passage.text


def test_demo_question_is_answered_with_exact_citations(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("Why did the peacekeepers leave?")
    assert not answer.refused
    assert answer.mode == "extractive"
    assert "100,000" in answer.text
    assert answer.citations
    assert_citations_exact(seed_assistant, answer)
    markers = [c.marker for c in answer.citations]
    assert markers == list(range(1, len(markers) + 1))
    for marker in markers:
        assert f"[{marker}]" in answer.text


def test_unanswerable_question_is_refused_with_closest_passages(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("What did China say about the withdrawal?")
    assert answer.refused
    assert answer.text.startswith("The sources don't say")
    assert answer.citations == []
    assert answer.passages


def test_document_and_stats(seed_assistant: Assistant) -> None:
    stats = seed_assistant.stats()
    assert stats["documents"] == 1
    assert stats["chunks"] >= 3
    (row,) = seed_assistant.documents()
    document = seed_assistant.document(row["doc_id"])
    assert document.text == SEED.read_text(encoding="utf-8")
    assert document.title == "" and document.source == ""
    with pytest.raises(DocumentNotFoundError):
        seed_assistant.document("nope")


def test_answer_to_dict_round_trips_citations(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("How many Armenians left Nagorno-Karabakh?")
    data = answer.to_dict()
    assert data["refused"] is False
    assert data["citations"][0]["quote"] == answer.citations[0].quote
    assert {"retrieve_ms", "answer_ms", "total_ms"} <= set(data["timings"])


@pytest.mark.parametrize("question", ["", "   \n", "x" * 2001, "why\x00 did", "bad\x1b[31m",
                                      "a" * 1990 + "!", "?!", "x"])
def test_invalid_questions_raise_typed_error(seed_assistant: Assistant, question: str) -> None:
    with pytest.raises(InvalidQuestionError):
        seed_assistant.ask(question)


@pytest.mark.parametrize("k", [0, -1, 51, 2.5, True])
def test_k_out_of_bounds(seed_assistant: Assistant, k: object) -> None:
    with pytest.raises(InvalidArgumentError):
        seed_assistant.ask("Why did the peacekeepers leave?", k=k)  # type: ignore[arg-type]


def test_unknown_filter_is_refused(seed_assistant: Assistant) -> None:
    with pytest.raises(InvalidArgumentError):
        seed_assistant.retrieve("peacekeepers", filters={"author": "x"})


def test_incremental_reingest_edit_and_delete(make_assistant, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / "seed.txt")
    (corpus / "other.md").write_text(
        "---\ntitle: Harbour news\nsource: Port Gazette\npublished_at: 2024-05-02\n---\n"
        "The harbour master said 42 ships docked on Tuesday.\n", encoding="utf-8")
    assistant = make_assistant()
    first = assistant.ingest(corpus)
    assert len(first.added) == 2 and first.failed == [] and first.seen == 2

    again = assistant.ingest(corpus)
    assert again.added == [] and again.updated == [] and len(again.unchanged) == 2
    assert again.chunks == 0  # nothing embedded

    (corpus / "other.md").write_text(
        "---\ntitle: Harbour news\nsource: Port Gazette\npublished_at: 2024-05-02\n---\n"
        "The harbour master said 57 ships docked on Wednesday.\n", encoding="utf-8")
    edited = assistant.ingest(corpus)
    assert len(edited.updated) == 1 and len(edited.unchanged) == 1
    answer = assistant.ask("How many ships docked?")
    assert "57" in answer.text and "42" not in answer.text
    chunk_texts = [c.text for c in assistant.store.all_chunks()]
    assert not any("42 ships" in t for t in chunk_texts)

    (corpus / "other.md").unlink()
    removed = assistant.ingest(corpus)
    assert len(removed.removed) == 1
    assert assistant.stats()["documents"] == 1
    assert not any("ships" in c.text for c in assistant.store.all_chunks())


def test_markdown_metadata_reaches_citations(make_assistant, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\ntitle: Harbour news\nsource: Port Gazette\npublished_at: 2024-05-02\n"
        "url: https://example.org/h\n---\nThe harbour master said 42 ships docked on Tuesday.\n",
        encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(tmp_path / "a.md")
    answer = assistant.ask("How many ships docked at the harbour?")
    assert not answer.refused
    citation = answer.citations[0]
    assert (citation.title, citation.source, citation.url) == (
        "Harbour news", "Port Gazette", "https://example.org/h")
    assert citation.published_at.startswith("2024-05-02")


def test_a_headline_names_its_article_and_is_not_quoted_as_an_answer(
        make_assistant, tmp_path: Path) -> None:
    from rag.terminal import format_answer

    (tmp_path / "story.txt").write_text(
        "Peacekeepers leave Karabakh after Azerbaijan takes control\n\n"
        "Russian peacekeepers left Karabakh in April because Azerbaijan had taken "
        "control of the region.\nThey had been deployed in 2020.\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text(
        "The Karabakh ceasefire of 2020 was signed by Armenia, Azerbaijan and Russia.\n",
        encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(tmp_path)
    answer = assistant.ask("Why did the peacekeepers leave Karabakh?")

    assert not answer.refused
    assert all(not c.quote.startswith("Peacekeepers leave") for c in answer.citations)
    assert answer.citations[0].title == "Peacekeepers leave Karabakh after Azerbaijan takes control"
    names = assistant.source_names(answer)
    assert set(names.values()) <= {"Peacekeepers leave Karabakh after Azerbaijan takes control",
                                   "notes.txt"}
    shown = format_answer(answer, names=names)
    assert "untitled article" not in shown
    assert "Peacekeepers leave Karabakh after Azerbaijan takes control" in shown


def test_second_writer_fails_fast(make_assistant, tmp_path: Path) -> None:
    assistant = make_assistant()
    with writer_lock(assistant.settings.home), pytest.raises(IngestLockedError):
        assistant.ingest(SEED)


def test_missing_path_is_reported_not_raised(make_assistant, tmp_path: Path) -> None:
    report = make_assistant().ingest(tmp_path / "nowhere")
    assert report.failed and report.seen == 1


def test_document_listing_is_read_once_per_change(make_assistant, tmp_path: Path) -> None:
    assistant = make_assistant()
    other = make_assistant()  # another process's view of the same data directory
    reads: list[int] = []
    read_rows = assistant.store.document_rows

    def counted_rows() -> list[dict[str, object]]:
        reads.append(1)
        return read_rows()

    assistant.store.document_rows = counted_rows
    (tmp_path / "a.md").write_text("---\ntitle: First\n---\nThe first article.\n",
                                   encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: Second\n---\nThe second article.\n",
                                   encoding="utf-8")
    assistant.ingest(tmp_path / "a.md")
    assert [d["title"] for d in assistant.documents()] == ["First"]
    assistant.documents()[0]["title"] = "changed by a caller"
    assert [d["title"] for d in assistant.documents()] == ["First"]
    assert len(reads) == 1
    other.ingest(tmp_path / "b.md")
    assert sorted(d["title"] for d in assistant.documents()) == ["First", "Second"]
    assistant.delete(next(d["doc_id"] for d in assistant.documents() if d["title"] == "First"))
    assert [d["title"] for d in assistant.documents()] == ["Second"]
    assert len(reads) == 3


class _ReadOnlyCollection:
    """A collection whose writes fail as Chroma's on a read-only database do."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def delete(self, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    upsert = delete


def test_a_failing_chroma_write_is_a_store_error_and_loses_nothing(make_assistant) -> None:
    assistant = make_assistant()
    assistant.ingest(SEED)
    (row,) = assistant.documents()
    assistant.store.documents = _ReadOnlyCollection(assistant.store.documents)
    with pytest.raises(StoreError, match="removing documents failed: OperationalError"):
        assistant.delete(row["doc_id"])
    assistant.store.chunks = _ReadOnlyCollection(assistant.store.chunks)
    with pytest.raises(StoreError, match="emptying the store failed"):
        assistant.store.reset()
    assert assistant.document(row["doc_id"]).text == SEED.read_text(encoding="utf-8")
    assert not assistant.ask("Why did the peacekeepers leave?").refused


def test_nothing_found_says_whether_the_index_or_the_filters_are_why(
        make_assistant, tmp_path) -> None:
    empty = make_assistant(home=tmp_path / "empty")
    answer = empty.ask("Why did the peacekeepers leave?")
    assert answer.refused and "Nothing is indexed yet" in answer.text
    assert "rag ingest" in answer.text

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\nsource: Reuters\npublished_at: 2024-03-01\n---\n"
                                 "The bridge reopened on Monday after repairs.", encoding="utf-8")
    (corpus / "b.txt").write_text("The ferry resumed service on Tuesday.", encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(corpus)

    wrong_case = assistant.ask("When did the bridge reopen?", filters={"source": "reuters"})
    assert wrong_case.refused and not wrong_case.passages
    assert "No indexed document matches these filters" in wrong_case.text
    assert "did you mean 'Reuters'?" in wrong_case.text
    assert "Outlets in the corpus: Reuters." in wrong_case.text
    assert wrong_case.reason and wrong_case.reason in wrong_case.text

    dated = assistant.ask("When did the bridge reopen?",
                          filters={"published_after": "2025-01-01"})
    assert "Publication dates run from 2024-03-01 to 2024-03-01; 1 undated" in dated.text
    assert "Nothing is indexed" not in dated.text

    plain = make_assistant(home=tmp_path / "plain")
    plain.ingest(corpus / "b.txt")
    unnamed = plain.ask("When did the ferry resume?", filters={"source": ["AP"]})
    assert "No document names its outlet" in unnamed.text


def test_the_same_article_twice_is_one_document_listing_both_files(
        make_assistant, tmp_path: Path) -> None:
    text = ("Port closure ends\n\nThe Port of Valdmere reopened on Monday after a six-week "
            "dockworkers' strike.\nShips had queued off the coast.\n")
    first, second = tmp_path / "wire", tmp_path / "saved"
    first.mkdir()
    second.mkdir()
    (first / "port.txt").write_text(text, encoding="utf-8")
    (second / "port-copy.txt").write_text(text, encoding="utf-8")
    (second / "other.txt").write_text("The council met on Tuesday.\n", encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(first)
    report = assistant.ingest(second)

    (original,) = [d for d in assistant.documents() if d["path"].endswith("port.txt")]
    assert report.copies == [(str((second / "port-copy.txt").resolve()), original["doc_id"])]
    assert len(assistant.documents()) == 2
    assert original["copies"] == [str((second / "port-copy.txt").resolve())]
    answer = assistant.ask("Why was the Port of Valdmere closed?")
    assert [c.doc_id for c in answer.citations] == [original["doc_id"]]
    # Unchanged on a second run: nothing written, the copy still known.
    again = assistant.ingest(second)
    assert again.added == [] and again.copies == report.copies

    # The original changes: the copy now holds text of its own and is indexed as such.
    (first / "port.txt").write_text(text.replace("Monday", "Tuesday"), encoding="utf-8")
    edited = assistant.ingest(first)
    assert len(edited.updated) == 1 and len(edited.added) == 1
    rows = {Path(d["path"]).name: d for d in assistant.documents()}
    assert set(rows) == {"port.txt", "port-copy.txt", "other.txt"}
    assert rows["port.txt"]["copies"] == []


def test_a_copy_takes_over_when_the_original_file_is_gone(make_assistant,
                                                          tmp_path: Path) -> None:
    text = "The Port of Valdmere reopened on Monday after a dockworkers' strike.\n"
    first, second = tmp_path / "wire", tmp_path / "saved"
    first.mkdir()
    second.mkdir()
    (first / "a.txt").write_text(text, encoding="utf-8")
    (first / "b.txt").write_text(text, encoding="utf-8")  # a copy in the same run
    (second / "c.txt").write_text(text, encoding="utf-8")
    assistant = make_assistant()
    assert len(assistant.ingest(first).copies) == 1
    assert len(assistant.ingest(second).copies) == 1
    (row,) = assistant.documents()
    assert sorted(Path(p).name for p in row["copies"]) == ["b.txt", "c.txt"]

    (first / "a.txt").unlink()
    report = assistant.ingest(first)
    (row,) = assistant.documents()
    assert Path(row["path"]).name == "b.txt" and [Path(p).name for p in row["copies"]] == \
        ["c.txt"]
    assert report.removed and not assistant.ask("Why did the port reopen?").refused
