"""One story, many copies: an edited reprint joins its original's story, retrieval shows
the story once, and the citation names every outlet that carried it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant
from rag.terminal import format_answer
from rag.text.minhash import SAME_STORY, numbers, same_numbers, signature, similarity
from tests.conftest import SEED

QUESTION = "Why did the peacekeepers leave?"


def reprint(text: str) -> str:
    """The seed article as another outlet ran it: a new headline, its last two lines cut,
    a word changed, a credit line added."""
    lines = text.rstrip("\n").split("\n")
    body = "\n".join(lines[:-2]).replace("early withdrawal", "early pull-out", 1)
    return ("---\ntitle: Russia pulls its peacekeepers out of Karabakh\nsource: Wire Daily\n"
            f"published_at: 2024-04-19\n---\n{body}\n\n(Reporting by wire staff.)\n")


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    seed = SEED.read_text(encoding="utf-8")
    (folder / "a-original.txt").write_text(seed, encoding="utf-8")
    (folder / "b-reprint.md").write_text(reprint(seed), encoding="utf-8")
    (folder / "c-other.txt").write_text(
        "Peacekeepers from several countries trained together in Cyprus on Friday. "
        "The exercise, held every spring, tested radio links between the contingents.\n",
        encoding="utf-8")
    return folder


def test_signatures_tell_a_reprint_from_another_article() -> None:
    seed = SEED.read_text(encoding="utf-8")
    one, copy = signature(seed), signature(reprint(seed))
    other = signature("An entirely different article about the Baltic coast and its "
                      "maps, catalogued by the Zephyr Institute since 2019.")
    assert similarity(one, copy[None, :])[0] > SAME_STORY + 0.3
    assert similarity(one, other[None, :])[0] < SAME_STORY / 2
    # Alike words, different numbers: two stories (flight 5530, flight 7164).
    assert not same_numbers(numbers("Flight 5530 was delayed."),
                            numbers("Flight 7164 was delayed."))
    assert same_numbers(numbers("About 2,000 troops left in 2024."), numbers("2000 left."))
    assert signature(seed).dtype == np.uint32 and (signature(seed) == one).all()


def test_a_reprint_is_one_story_shown_once_with_both_outlets(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    report = assistant.ingest(write_corpus(tmp_path / "corpus"))
    assert report.ok and len(report.added) == 3
    entries = {Path(e.path).name: e for e in assistant.store.manifest().values()}
    original, copy, other = (entries[n] for n in ("a-original.txt", "b-reprint.md",
                                                  "c-other.txt"))
    assert copy.story == original.story and original.story.startswith(original.doc_id)
    assert other.story.startswith(other.doc_id) and other.story != original.story

    passages = assistant.retrieve(QUESTION, k=10)
    stories = [p.story for p in passages]
    # Several passages of one document are kept; the reprint's never beside them.
    assert {p.doc_id for p in passages} == {original.doc_id, other.doc_id}
    assert set(stories) == {original.story, other.story}
    kept = next(p for p in passages if p.doc_id == original.doc_id)
    assert [m["doc_id"] for m in kept.also_in] == [copy.doc_id]

    answer = assistant.ask(QUESTION)
    cited = [c for c in answer.citations if c.doc_id == original.doc_id]
    assert cited and cited[0].carried_by() == "also in Wire Daily (2024-04-19)"
    assert "(also in Wire Daily (2024-04-19))" in format_answer(answer)
    assert answer.to_dict()["citations"][0]["also_in"][0]["source"] == "Wire Daily"

    # A re-index keeps the stories; deleting the original leaves the reprint answering
    # alone, and no citation names a document that is gone.
    assistant.reindex()
    assert assistant.store.manifest()[copy.doc_id].story == original.story
    assistant.delete(original.doc_id)
    after = assistant.retrieve(QUESTION, k=10)
    assert copy.doc_id in {p.doc_id for p in after}
    assert all(m["doc_id"] != original.doc_id for p in after for m in p.also_in)


def test_an_original_indexed_after_its_reprint_joins_the_reprints_story(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    together = make_assistant(tmp_path / "together")
    together.ingest(corpus)
    apart = make_assistant(tmp_path / "apart")
    # The reprint first, on its own; the original in a later run.
    apart.ingest(corpus / "b-reprint.md")
    apart.ingest(corpus / "a-original.txt")
    one = {Path(e.path).name: e.story.startswith(e.doc_id)
           for e in together.store.manifest().values()}
    two = {Path(e.path).name: e.story for e in apart.store.manifest().values()}
    assert one["a-original.txt"] and not one["b-reprint.md"]
    # Whichever came first names the story; both are in it either way.
    assert two["a-original.txt"] == two["b-reprint.md"]


def test_an_original_rewritten_beyond_recognition_leaves_its_reprints_story(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    assistant = make_assistant()
    assistant.ingest(corpus)
    (corpus / "a-original.txt").write_text(
        "The harbour master said 57 ships docked on Wednesday, a record for April.\n",
        encoding="utf-8")
    assistant.ingest(corpus)
    entries = {Path(e.path).name: e for e in assistant.store.manifest().values()}
    assert entries["a-original.txt"].story != entries["b-reprint.md"].story
    passages = assistant.retrieve("How many ships docked?", k=10)
    assert all(not p.also_in for p in passages if p.doc_id == entries["a-original.txt"].doc_id)


def test_rag_docs_lists_the_other_documents_of_a_story(tmp_path: Path) -> None:
    from tests.system.test_cli import rag

    home = tmp_path / "home"
    assert rag(home, "ingest", str(write_corpus(tmp_path / "corpus"))).returncode == 0
    lines = rag(home, "docs").stdout.splitlines()
    rows = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    reprint_row = next(i for i in rows if "Wire Daily" in lines[i])
    original_row = next(i for i in rows if "a-original.txt" in lines[i])
    assert "same story as" in lines[original_row + 1]
    assert "(Wire Daily)" in lines[original_row + 1]
    assert "same story as" in lines[reprint_row + 1] and "a-original.txt" in lines[reprint_row + 1]
    assert sum("same story as" in line for line in lines) == 2  # c-other is a story alone


def test_the_corpus_table_says_which_documents_are_one_story(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    from ui.handlers import Handlers

    assistant = make_assistant()
    assistant.ingest(write_corpus(tmp_path / "corpus"))
    table, *_ = Handlers(assistant, assistant.settings).corpus_views()
    titles = [row[0] for row in table.value["data"]]
    assert sum(t.endswith("(one story with 1 other document)") for t in titles) == 2
    assert any("c-other" in t and "story" not in t for t in titles)


def test_a_story_carried_by_many_outlets_takes_one_place(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed = SEED.read_text(encoding="utf-8")
    lines = seed.rstrip("\n").split("\n")
    (corpus / "original.txt").write_text(seed, encoding="utf-8")
    for n in range(12):  # each outlet cuts a different line
        body = "\n".join(line for i, line in enumerate(lines) if i != n % len(lines))
        (corpus / f"outlet-{n:02d}.md").write_text(
            f"---\nsource: Outlet {n:02d}\npublished_at: 2024-04-{n + 10}\n---\n{body}\n",
            encoding="utf-8")
    for n, topic in enumerate(("the harbour reopened after the storm",
                               "the peacekeepers' radio exercise in Cyprus ended")):
        (corpus / f"other-{n}.txt").write_text(f"Officials said {topic} on Friday.\n",
                                               encoding="utf-8")
    assistant = make_assistant()
    assert assistant.ingest(corpus).ok

    passages = assistant.retrieve(QUESTION, k=8)
    by_story: dict[str, set[str]] = {}
    for p in passages:
        by_story.setdefault(p.story, set()).add(p.doc_id)
    assert all(len(docs) == 1 for docs in by_story.values())  # one document per story
    # The story's place goes to its best-ranked passage, of whichever document; the other
    # twelve of its thirteen documents are named beside it.
    big = next(p for p in passages if len(p.also_in) == 12)
    sources = {m["source"] for m in big.also_in} | {big.source}
    assert sources == {"", *(f"Outlet {n:02d}" for n in range(12))}


def test_stories_without_copies_cost_no_lookup(
        make_assistant: Callable[..., Assistant], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "b-reprint.md").unlink()
    assistant = make_assistant()
    assistant.ingest(corpus)

    def no_lookup(stories: object) -> None:
        raise AssertionError("a story without copies was looked up")

    monkeypatch.setattr(assistant.store, "story_members", no_lookup)
    passages = assistant.retrieve(QUESTION, k=5)
    assert passages and not any(p.also_in or p.story_shared for p in passages)
