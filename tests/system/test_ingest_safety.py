"""Nothing already indexed is removed unless its file or record is positively gone: not
when a file fails, not when a folder cannot be read, not when the walk skips a path.
And no file, however small, can make the loader blow up or two records share an id."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from rag import Assistant
from rag.errors import LoaderError
from rag.index.store import Store
from rag.ingest.loaders import load_file
from rag.ingest.markdown import FRONT_MATTER_FIELD_CHARS

MakeAssistant = Callable[..., Assistant]
LIMIT = 1 << 20


def write_jsonl(path: Path, *records: dict[str, str]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_a_file_that_fails_to_store_removes_none_of_its_records(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    write_jsonl(corpus / "r.jsonl", {"body": "Article one."}, {"body": "Article two."})
    assistant = make_assistant()
    assistant.ingest(corpus)
    before = assistant.store.manifest()
    write_jsonl(corpus / "r.jsonl", {"body": "Article two."})

    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("chroma write failed")

    monkeypatch.setattr(Store, "put_chunks", refuse)
    report = assistant.ingest(corpus)
    assert report.removed == [] and "could not be stored" in report.failed[0][1]
    assert assistant.store.manifest() == before


def test_a_record_moved_to_a_file_that_fails_to_load_is_kept(
        make_assistant: MakeAssistant, tmp_path: Path) -> None:
    moving = {"url": "https://n.example/1", "body": "Moving article. Body."}
    staying = {"url": "https://n.example/2", "body": "Staying article. Body."}
    leaving = {"url": "https://n.example/3", "body": "Deleted article. Body."}
    write_jsonl(tmp_path / "x.jsonl", moving, staying, leaving)
    assistant = make_assistant()
    assistant.ingest(tmp_path)
    ids = {d["url"]: d["doc_id"] for d in assistant.documents()}
    write_jsonl(tmp_path / "x.jsonl", staying)
    # Every line of y.jsonl broken, the moved record's too: the file fails whole.
    (tmp_path / "y.jsonl").write_text(json.dumps(moving)[:-1] + "\n{broken\n",
                                      encoding="utf-8")
    report = assistant.ingest(tmp_path)
    assert report.failed[0][0].endswith("y.jsonl")
    # The record no failed file holds is still removed.
    assert report.removed == [ids[leaving["url"]]]
    assert set(assistant.store.manifest()) == {ids[moving["url"]], ids[staying["url"]]}


def test_a_folder_ingest_keeps_documents_under_hidden_paths(
        make_assistant: MakeAssistant, tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "a.txt").write_text("Public article. Text.", encoding="utf-8")
    for hidden in (".drafts", ".rag/uploads"):
        (tmp_path / hidden).mkdir(parents=True)
        (tmp_path / hidden / "x.md").write_text(f"Kept in {hidden}. Body.", encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(tmp_path / ".drafts")
    assistant.ingest(tmp_path / ".rag" / "uploads" / "x.md")
    report = assistant.ingest(tmp_path)
    assert report.removed == [] and len(report.added) == 1
    assert assistant.store.document_count() == 3


def deny_listing(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `folder` fail to list as one without read permission does (tests run as root,
    which chmod cannot stop)."""
    scandir = os.scandir

    def denied(path: Any = ".") -> Any:
        if os.fspath(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(folder))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)


def test_an_unreadable_folder_is_reported_and_its_documents_kept(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "top.txt").write_text("Top article. Text.", encoding="utf-8")
    (tmp_path / "sub" / "inner.txt").write_text("Inner article. Text.", encoding="utf-8")
    assistant = make_assistant(home=tmp_path / ".home")
    assistant.ingest(tmp_path)
    before = assistant.store.manifest()
    deny_listing(monkeypatch, tmp_path / "sub")
    report = assistant.ingest(tmp_path)
    assert report.removed == [] and len(report.unchanged) == 1
    assert report.failed == [(str(tmp_path / "sub"), "folder could not be read "
                              "(Permission denied); its documents are kept as they were")]
    assert report.indexed + len(report.failed) == report.seen
    assert assistant.store.manifest() == before


def front_matter(tmp_path: Path, yaml: str) -> Path:
    path = tmp_path / "a.md"
    path.write_text(f"---\n{yaml}\n---\nBody text.\n", encoding="utf-8")
    return path


def test_front_matter_aliases_are_refused(tmp_path: Path) -> None:
    # Seven levels of nine aliases each: 265 bytes that would expand to a 25M-char title.
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]"
              for previous, name in zip("abcdef", "bcdefg", strict=True)]
    with pytest.raises(LoaderError, match="anchors or aliases"):
        load_file(front_matter(tmp_path, "\n".join([*lines, "title: *g"])), max_bytes=LIMIT)
    with pytest.raises(LoaderError, match="anchors or aliases"):
        load_file(front_matter(tmp_path, "title: &t Harbour"), max_bytes=LIMIT)


def test_front_matter_fields_are_capped(tmp_path: Path) -> None:
    (document,) = load_file(front_matter(tmp_path, f"title: {'x' * 5000}\nauthor: A"),
                            max_bytes=LIMIT)
    assert document.title == "x" * FRONT_MATTER_FIELD_CHARS and document.author == "A"


def test_an_impossible_front_matter_date_is_a_loader_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="invalid value in YAML front matter"):
        load_file(front_matter(tmp_path, "date: 2024-13-45"), max_bytes=LIMIT)


def test_records_whose_fallback_id_is_taken_still_get_their_own(tmp_path: Path) -> None:
    # The third record's url repeats the first's, and its fallback (url#3) is the second's.
    write_jsonl(tmp_path / "r.jsonl", {"url": "http://a/u", "body": "First. Text."},
                {"url": "http://a/u#3", "body": "Second. Text."},
                {"url": "http://a/u", "body": "Third. Text."})
    documents = load_file(tmp_path / "r.jsonl", max_bytes=LIMIT)
    assert len({d.doc_id for d in documents}) == 3


def html_text(tmp_path: Path, html: str) -> str:
    (tmp_path / "a.html").write_text(html, encoding="utf-8")
    return load_file(tmp_path / "a.html", max_bytes=LIMIT)[0].text


def test_html_without_an_end_of_head_keeps_its_body(tmp_path: Path) -> None:
    text = html_text(tmp_path, "<html><head><title>T</title><body><p>Whole article.</p>")
    assert text == "Whole article."


def test_a_hidden_element_without_its_end_tag_hides_only_itself(tmp_path: Path) -> None:
    text = html_text(tmp_path, "<ul><li>One.<li hidden>Ad<ul><li>Ad too.</ul><li>Three."
                               "</ul><p>Rest of the article.")
    assert text == "One.\nThree.\nRest of the article."


def test_links_never_lead_outside_the_folder_and_each_skip_is_reported(
        make_assistant: MakeAssistant, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is 4711.", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "real").mkdir(parents=True)
    (corpus / "real" / "story.txt").write_text("The bridge reopened on Monday.",
                                               encoding="utf-8")
    (corpus / "leak.txt").symlink_to(outside / "secret.txt")  # `ln -s /etc/passwd x.txt`
    (corpus / "folder-out").symlink_to(outside, target_is_directory=True)
    (corpus / "folder-in").symlink_to(corpus / "real", target_is_directory=True)
    (corpus / "alias.txt").symlink_to(corpus / "real" / "story.txt")  # stays inside

    report = make_assistant().ingest(corpus)

    assert report.ok
    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert skipped == {
        "alias.txt": "a link to a file inside the folder; links are not followed",
        "folder-in": "a link to a folder inside the folder; links are not followed",
        "folder-out": "a link to a folder outside the folder; links are not followed",
        "leak.txt": "a link to a file outside the folder; links are not followed",
    }
    assert report.to_dict()["skipped"][0].keys() == {"path", "reason"}
    assert report.seen == 1  # the real story, once; nothing from outside
    # Named directly, a link is the user's choice and is read.
    assert make_assistant().ingest(corpus / "leak.txt").added


def print_nothing(*args: Any, **kwargs: Any) -> None:
    """Stands in for Gradio's progress bar."""


def test_an_upload_of_too_many_files_indexes_the_first_hundred_and_says_why(
        make_assistant: Any, tmp_path: Path) -> None:
    from ui.handlers import MAX_UPLOAD_FILES, Handlers

    files = []
    for i in range(MAX_UPLOAD_FILES + 3):
        path = tmp_path / f"note-{i:03d}.txt"
        path.write_text(f"Note {i} says the harbour of Town{i} opened in {1800 + i}.\n",
                        encoding="utf-8")
        files.append(str(path))
    assistant = make_assistant()
    handlers = Handlers(assistant, assistant.settings)
    results, *_ = handlers.ingest_files(files, None, None, progress=cast(Any, print_nothing))

    assert len(assistant.documents()) == MAX_UPLOAD_FILES
    assert "3 more files" in results and f"at most {MAX_UPLOAD_FILES} files" in results


def test_a_jsonl_file_with_broken_lines_indexes_the_good_ones_and_names_the_bad(
        make_assistant: Any, tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    good = [json.dumps({"url": f"https://example.org/{i}", "title": f"Story {i}",
                        "body": f"The harbour of Town{i} opened in {1800 + i}."})
            for i in range(50)]
    lines = [*good[:10], '{"body": broken', *good[10:30], "[1, 2]", *good[30:],
             '{"title": "no body"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assistant = make_assistant()
    report = assistant.ingest(path)

    assert report.failed == [] and len(report.added) == 50
    ((where, warning),) = report.warnings
    assert where == str(path)
    assert "3 broken records not indexed, 50 indexed" in warning
    assert "line 11: invalid JSON" in warning and "line 32: expected an object" in warning
    assert "line 53: no 'body'" in warning

    # A line that breaks later is not taken for a removed article: nothing indexed is lost.
    lines[0] = lines[0][:-5]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = assistant.ingest(path)
    assert report.removed == [] and len(assistant.documents()) == 50
