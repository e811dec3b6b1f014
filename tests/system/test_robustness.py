"""Nothing lost: broken files fail alone, killed ingests resume to the clean result, the
index notices when it has been damaged and `reindex` repairs it."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rag.ingest.pipeline
from rag import Assistant, ConsistencyError, LoaderError
from rag.index.embeddings import MiniLMEmbedder
from rag.index.records import chunk_metadata
from rag.ingest.chunking import chunk_document, content_hash
from rag.ingest.documents import INVISIBLE_CHARS
from rag.ingest.loaders import load_file
from rag.ingest.pipeline import Ingestor
from rag.schema import Chunk, Document
from tests import chaos
from tests.conftest import SEED

MakeAssistant = Callable[..., Assistant]


def assert_consistent(assistant: Assistant) -> None:
    """Every committed document has exactly its chunks, each an exact slice of its text;
    no chunk belongs to anything else."""
    store = assistant.store
    manifest = store.manifest()
    texts = {d.doc_id: d.text for d, _ in store.documents_with_text()}
    per_doc: Counter[str] = Counter()
    for chunk in store.all_chunks():
        doc_id = str(chunk.metadata["doc_id"])
        assert doc_id in manifest, f"orphan chunk {chunk.chunk_id}"
        assert chunk.metadata["content_hash"] == manifest[doc_id].content_hash, chunk.chunk_id
        start, end = int(chunk.metadata["start"]), int(chunk.metadata["end"])
        assert texts[doc_id][start:end] == chunk.text
        per_doc[doc_id] += 1
    for doc_id, entry in manifest.items():
        assert per_doc[doc_id] == entry.chunks, doc_id
    store.check_consistency()


def write_md(path: Path, body: str, **meta: str) -> None:
    front = "".join(f"{k}: {v}\n" for k, v in meta.items())
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")


# -- per-file isolation ---------------------------------------------------------------


def test_200_files_with_20_broken_ones(make_assistant: MakeAssistant, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    broken = chaos.build_corpus(corpus, 200, seed=11, broken=20)
    expected_docs = set()
    for path in corpus.iterdir():
        if path.name not in broken:
            expected_docs |= {d.doc_id for d in load_file(path, max_bytes=chaos.MAX_FILE_BYTES)}
    assistant = make_assistant(max_file_bytes=chaos.MAX_FILE_BYTES)

    report = assistant.ingest(corpus)

    assert (report.seen, report.indexed, len(report.failed)) == (200, 180, 20)
    assert report.indexed + len(report.failed) == report.seen
    reasons = {Path(path).name: reason for path, reason in report.failed}
    assert set(reasons) == set(broken)
    for name, word in broken.items():
        assert word.lower() in reasons[name].lower(), (name, reasons[name])
    assert set(assistant.store.manifest()) == expected_docs
    assert set(report.added) == expected_docs
    assert_consistent(assistant)
    # The broken ones fail the same way again; nothing that was indexed is touched.
    again = assistant.ingest(corpus)
    assert again.added == again.updated == again.removed == []
    assert len(again.unchanged) == len(expected_docs) and len(again.failed) == 20


def test_unexpected_error_in_one_file_does_not_stop_the_rest(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chaos.build_corpus(tmp_path / "c", 10, seed=2)
    real = rag.ingest.pipeline.load_file

    def flaky(path: Path, *, max_bytes: int, problems: list[str] | None = None) -> Any:
        if path.name.startswith("0003"):
            raise RuntimeError("disk on fire")
        return real(path, max_bytes=max_bytes, problems=problems)

    monkeypatch.setattr(rag.ingest.pipeline, "load_file", flaky)
    report = make_assistant().ingest(tmp_path / "c")
    assert report.indexed == 9 and len(report.failed) == 1
    path, reason = report.failed[0]
    assert Path(path).name.startswith("0003") and "RuntimeError: disk on fire" in reason


def test_store_refusing_one_file_fails_only_that_file(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chaos.build_corpus(tmp_path / "c", 10, seed=2)
    assistant = make_assistant()
    bad_doc = load_file(tmp_path / "c" / "0002.html", max_bytes=10**6)[0].doc_id
    real = assistant.store.put_chunks

    def refuse(chunks: list[Chunk], *args: Any) -> None:
        if any(c.doc_id == bad_doc for c in chunks):
            raise ValueError("record too large")
        real(chunks, *args)

    monkeypatch.setattr(assistant.store, "put_chunks", refuse)
    report = assistant.ingest(tmp_path / "c")
    assert report.indexed == 9 and report.indexed + len(report.failed) == report.seen
    assert [Path(p).name for p, _ in report.failed] == ["0002.html"]
    assert "could not be stored: ValueError: record too large" in report.failed[0][1]
    assert bad_doc not in assistant.store.manifest()
    assert_consistent(assistant)


def test_embedding_failure_fails_the_batch_and_the_next_ingest_recovers(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "c"
    chaos.build_corpus(corpus, 3, seed=2)
    assistant = make_assistant()
    assistant.ingest(corpus)
    before = assistant.store.manifest()
    for number in range(3, 6):
        chaos.write_article(corpus, number, chaos.article(random.Random(number), number),
                            "txt")
    real, real_spans = assistant.embedder.embed, assistant.embedder.embed_spans

    def broken(texts: list[str]) -> Any:
        if len(texts) > 1:
            raise MemoryError("out of memory")
        return real(texts)

    def broken_spans(texts: list[str], spans: Any) -> Any:
        if len(texts) > 1:
            raise MemoryError("out of memory")
        return real_spans(texts, spans)

    # Ingest embeds with `embed_spans` when the retriever wants sentence vectors.
    monkeypatch.setattr(assistant.embedder, "embed", broken)
    monkeypatch.setattr(assistant.embedder, "embed_spans", broken_spans)
    report = assistant.ingest(corpus)
    # The three new files fail; the three unchanged ones needed no embedding and stand.
    assert (report.seen, report.indexed, len(report.failed)) == (6, 3, 3)
    assert all("could not be embedded: MemoryError" in r for _, r in report.failed)
    assert assistant.store.manifest() == before
    monkeypatch.undo()
    assert len(assistant.ingest(corpus).added) == 3
    assert_consistent(assistant)


def test_a_broken_new_version_keeps_the_old_one(make_assistant: MakeAssistant,
                                                tmp_path: Path) -> None:
    write_md(tmp_path / "a.md", "The harbour master said 42 ships docked on Tuesday.\n",
             title="Harbour")
    assistant = make_assistant()
    assistant.ingest(tmp_path)
    (tmp_path / "a.md").write_bytes(b"---\ntitle: [broken\n---\nhalf-written")
    report = assistant.ingest(tmp_path)
    assert report.removed == [] and len(report.failed) == 1
    assert "42" in assistant.ask("How many ships docked at the harbour?").text


def test_same_folder_by_relative_and_absolute_path_changes_nothing(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chaos.build_corpus(tmp_path / "corpus", 8, seed=4)
    assistant = make_assistant()
    monkeypatch.chdir(tmp_path)
    first = assistant.ingest(Path("corpus"))
    second = assistant.ingest(tmp_path / "corpus")
    third = assistant.ingest(Path("./corpus/../corpus"))
    assert len(first.added) == len(second.unchanged) == len(third.unchanged) > 0
    assert second.removed == second.updated == third.removed == []


def test_same_article_in_two_files_fails_the_second_visibly(make_assistant: MakeAssistant,
                                                             tmp_path: Path) -> None:
    record = {"url": "https://news.example/1", "title": "T", "body": "Forty ships docked."}
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({**record, "body": "Fifty ships."}),
                                     encoding="utf-8")
    assistant = make_assistant()
    report = assistant.ingest(tmp_path)
    assert report.indexed == 1 and len(report.failed) == 1
    assert report.failed[0][0].endswith("b.json")
    assert "same article (url https://news.example/1)" in report.failed[0][1]
    assert "a.jsonl" in report.failed[0][1]
    again = assistant.ingest(tmp_path)
    assert again.updated == again.removed == [] and len(again.unchanged) == 1


def test_a_record_moved_to_another_file_is_never_lost(make_assistant: MakeAssistant,
                                                      tmp_path: Path) -> None:
    rows = [{"url": f"https://news.example/{i}", "body": f"Story {i} about {i * 7} ships."}
            for i in range(3)]
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                      encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(tmp_path)
    ids = set(assistant.store.manifest())
    # Record 2 moves from b.jsonl to a.jsonl, which is read first.
    (tmp_path / "a.jsonl").write_text(json.dumps(rows[2]) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]),
                                      encoding="utf-8")
    report = assistant.ingest(tmp_path)
    assert report.removed == [] and report.failed == []
    assert set(assistant.store.manifest()) == ids
    assert_consistent(assistant)


def test_vanished_files_and_records_are_removed(make_assistant: MakeAssistant,
                                                tmp_path: Path) -> None:
    chaos.build_corpus(tmp_path / "c", 10, seed=5)
    assistant = make_assistant()
    assistant.ingest(tmp_path / "c")
    before = assistant.store.manifest()
    (tmp_path / "c" / "0000.txt").unlink()
    jsonl = tmp_path / "c" / "0004.jsonl"
    jsonl.write_text("".join(jsonl.read_text(encoding="utf-8").splitlines(True)[:2]),
                     encoding="utf-8")
    # Ingesting one file never removes the folder's other documents.
    assert assistant.ingest(tmp_path / "c" / "0001.md").removed == []
    report = assistant.ingest(tmp_path / "c")
    assert len(report.removed) == 2 and len(assistant.store.manifest()) == len(before) - 2
    assert_consistent(assistant)


# -- crash safety ---------------------------------------------------------------------


def test_killed_ingests_resume_to_the_clean_result(tmp_path: Path) -> None:
    """The short version of `python -m tests.chaos`: three SIGKILLs inside bursts of writes,
    two into a first ingest and one into an update of an older version of the corpus."""
    setup = chaos.prepare(tmp_path, 24, seed=3, broken=2, timing=False, in_process=True)
    assert not setup.reference.problems()
    rng = random.Random(3)
    for number, from_older, kills in ((1, False, 2), (2, True, 1)):
        result = chaos.chaos_run(number, setup, from_older=from_older, work=tmp_path, rng=rng,
                                 kills=kills, writes_only=True, observe=False, in_process=True)
        assert len(result.kills) == kills, "the ingest finished before it could be killed"
        assert result.identical, result.differences


def test_old_chunks_answer_until_the_new_version_is_committed(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = {"title": "Harbour news", "source": "Port Gazette"}
    write_md(tmp_path / "a.md", "The harbour master said 42 ships docked on Tuesday.\n", **meta)
    assistant = make_assistant()
    assistant.ingest(tmp_path)
    write_md(tmp_path / "a.md", "The harbour master said 57 ships docked on Wednesday.\n", **meta)
    store = assistant.store
    question = "How many ships docked at the harbour?"
    seen: list[str] = []

    def stored_texts() -> str:
        return " ".join(c.text for c in store.all_chunks())

    real_commit, real_delete = store.commit_documents, store.delete_chunks_except

    def commit(entries: Any, *stories: Any) -> None:
        # New chunks are stored, the entry still names the old version.
        assert "42 ships" in stored_texts() and "57 ships" in stored_texts()
        answer = assistant.ask(question)
        assert "42" in answer.text and "57" not in answer.text
        assert all("57" not in p.text for p in answer.passages)
        seen.append("before commit")
        real_commit(entries, *stories)

    def delete(keep: Any) -> int:
        # Committed; the old chunks are still stored but no longer answer.
        assert "42 ships" in stored_texts()
        answer = assistant.ask(question)
        assert "57" in answer.text and all("42" not in p.text for p in answer.passages)
        seen.append("before delete")
        return real_delete(keep)

    monkeypatch.setattr(store, "commit_documents", commit)
    monkeypatch.setattr(store, "delete_chunks_except", delete)
    report = assistant.ingest(tmp_path)
    assert seen == ["before commit", "before delete"] and len(report.updated) == 1
    assert "42 ships" not in stored_texts()
    assert_consistent(assistant)


# -- consistency check and reindex ----------------------------------------------------


def test_chunks_deleted_behind_its_back_are_detected_and_reindex_repairs(
        make_assistant: MakeAssistant, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    chaos.build_corpus(corpus, 12, seed=6)
    shutil.copy(SEED, corpus / "seed.txt")
    assistant = make_assistant()
    assistant.ingest(corpus)
    assistant.check()
    expected = assistant.ask("Why did the peacekeepers leave?")
    victims = [c.chunk_id for c in assistant.store.all_chunks()][:3]
    assistant.store.chunks.delete(ids=victims)

    with pytest.raises(ConsistencyError, match="rag reindex"):
        assistant.check()
    # A reader opening the same data directory afresh sees the damage too.
    with pytest.raises(ConsistencyError, match=r"missing|holds"):
        make_assistant().check()

    report = assistant.reindex()
    assert report.indexed == report.seen == assistant.store.document_count()
    assistant.check()
    assert_consistent(assistant)
    assert {c.chunk_id for c in assistant.store.all_chunks()} >= set(victims)
    assert assistant.ask("Why did the peacekeepers leave?").text == expected.text


def test_missing_chunks_hidden_by_orphans_are_still_detected(make_assistant: MakeAssistant,
                                                             tmp_path: Path) -> None:
    chaos.build_corpus(tmp_path / "c", 6, seed=7)
    assistant = make_assistant()
    assistant.ingest(tmp_path / "c")
    store = assistant.store
    document, _ = next(iter(store.documents_with_text()))
    orphan_doc = document.__class__(doc_id=document.doc_id, text=document.text + " Later.")
    chunks, sentences = chunk_document(orphan_doc, assistant.embedder)
    digest = content_hash(orphan_doc)
    # Orphans alone (an interrupted update) are harmless and pass the check.
    store.put_chunks(chunks, assistant.embedder.embed([c.text for c in chunks]),
                     [chunk_metadata(orphan_doc, c, content_hash=digest, sentences=sentences)
                      for c in chunks])
    store.check_consistency()
    # One real chunk gone, with as many orphans or more: the counts alone would pass.
    victim = next(c.chunk_id for c in store.all_chunks()
                  if c.metadata["content_hash"] != digest)
    store.chunks.delete(ids=[victim])
    assert store.chunk_count() >= sum(e.chunks for e in store.manifest().values())
    with pytest.raises(ConsistencyError, match=r"missing chunks.*rag reindex"):
        store.check_consistency()
    assistant.reindex()
    assert_consistent(assistant)


def test_chunks_stored_the_old_way_still_read(make_assistant: MakeAssistant,
                                             tmp_path: Path) -> None:
    """Stores written before chunk texts moved into the metadata (text as the Chroma
    record's document) read the same."""
    chaos.build_corpus(tmp_path / "c", 3, seed=12)
    assistant = make_assistant()
    assistant.ingest(tmp_path / "c")
    store = assistant.store
    before = {c.chunk_id: c for c in store.all_chunks()}
    got = store.chunks.get(include=["metadatas", "embeddings"])
    assert all(meta["text"] for meta in got["metadatas"])
    texts = [meta.pop("text") for meta in got["metadatas"]]
    store.chunks.delete(ids=got["ids"])
    store.chunks.add(ids=got["ids"], embeddings=got["embeddings"], documents=texts,
                     metadatas=got["metadatas"])
    assert {c.chunk_id: c for c in store.all_chunks()} == before
    assert {c.chunk_id: c for c in store.get_chunks(list(before))} == before
    question = next(iter(before.values())).text
    assert store.query(assistant.embedder.embed_query(question), 1)[0].text == question
    assert_consistent(assistant)


def test_ingestor_reindex_keeps_answering_and_rebuilds(make_assistant: MakeAssistant,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "c"
    chaos.build_corpus(corpus, 8, seed=8)
    shutil.copy(SEED, corpus / "seed.txt")
    assistant = make_assistant()
    assistant.ingest(corpus)
    store = assistant.store
    store.chunks.delete(ids=[c.chunk_id for c in store.all_chunks()][:2])
    answers: list[str] = []
    real_put = store.put_chunks

    def put(*args: Any) -> None:
        answers.append(assistant.ask("Why did the peacekeepers leave?").text)
        real_put(*args)

    monkeypatch.setattr(store, "put_chunks", put)
    ingestor = Ingestor(store, assistant.embedder, max_file_bytes=10**6)
    report = ingestor.reindex()
    assert report.indexed == report.seen == store.document_count() and not report.failed
    assert answers and all("100,000" in a for a in answers)
    assert_consistent(assistant)


def test_repeated_ingest_of_an_unchanged_folder_writes_nothing(
        make_assistant: MakeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chaos.build_corpus(tmp_path / "c", 10, seed=9)
    assistant = make_assistant()
    assistant.ingest(tmp_path / "c")
    generation = assistant.store.generation()
    assert generation
    calls: list[str] = []
    for name in ("put_chunks", "commit_documents", "delete_chunks_except", "remove_documents"):
        monkeypatch.setattr(assistant.store, name,
                            lambda *a, _name=name, **k: calls.append(_name))
    monkeypatch.setattr(assistant.store.chunks, "get", lambda *a, **k: calls.append("scan"))
    report = assistant.ingest(tmp_path / "c")
    assert calls == [] and report.indexed == 10
    # Nothing written, so readers elsewhere have nothing to reload.
    assert assistant.store.generation() == generation
    monkeypatch.undo()
    assistant.delete(next(iter(assistant.store.manifest())))
    assert assistant.store.generation() != generation


# -- properties of loading and chunking -----------------------------------------------

# Arbitrary text, with the invisible characters attackers use mixed in generously.
INVISIBLE_SAMPLES = ["\u200b", "\u200d", "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad",
                     "\U000e0041", "\U000e0100", "\x1b", "\x07", "\u061c", "\u180e"]
unicode_text = st.lists(
    st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(INVISIBLE_SAMPLES),
              st.sampled_from(["\n", "\r\n", "\u2028", "\x85", " ", "Mr. Smith left. "])),
    min_size=1, max_size=20,
).map("".join)


def expected_text(text: str) -> str | None:
    clean = INVISIBLE_CHARS.sub("", text)
    return clean if clean.strip() else None


@settings(max_examples=150, deadline=None)
@given(text=unicode_text)
def test_txt_round_trips_exactly_minus_invisible(tmp_path_factory: pytest.TempPathFactory,
                                                 text: str) -> None:
    path = tmp_path_factory.mktemp("txt") / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    _assert_loads_exactly(path, text)


def _assert_loads_exactly(path: Path, body: str) -> Document | None:
    """The file at `path` loads with `body` as its text, minus invisible characters, or is
    refused when `body` cannot be kept exactly; the loaded document, if any."""
    expected = expected_text(body)
    if expected is None or "\x00" in body:
        with pytest.raises(LoaderError):
            load_file(path, max_bytes=10**6)
        return None
    (document,) = load_file(path, max_bytes=10**6)
    assert document.text == expected
    return document


@settings(max_examples=150, deadline=None)
@given(body=unicode_text, title=st.text(max_size=30))
def test_markdown_round_trips_exactly_minus_invisible(tmp_path_factory: pytest.TempPathFactory,
                                                      body: str, title: str) -> None:
    front = yaml.safe_dump({"title": title, "source": "S"}, allow_unicode=True)
    path = tmp_path_factory.mktemp("md") / "a.md"
    path.write_bytes(f"---\n{front}---\n{body}".encode())
    document = _assert_loads_exactly(path, body)
    if document is None:
        return
    # The title is what YAML reads from the front matter (which folds line breaks such as
    # U+0085 into spaces), minus invisible characters.
    written = str(yaml.safe_load(front)["title"])
    assert document.title == INVISIBLE_CHARS.sub("", written).strip()


@settings(max_examples=150, deadline=None)
@given(bodies=st.lists(unicode_text, min_size=1, max_size=4), ascii_only=st.booleans())
def test_jsonl_round_trips_exactly_minus_invisible(tmp_path_factory: pytest.TempPathFactory,
                                                   bodies: list[str], ascii_only: bool) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "a.jsonl"
    lines = [json.dumps({"title": f"t{i}", "body": b}, ensure_ascii=ascii_only)
             for i, b in enumerate(bodies)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = [expected_text(b) for b in bodies]
    if any(e is None for e in expected):
        with pytest.raises(LoaderError):
            load_file(path, max_bytes=10**6)
        return
    documents = load_file(path, max_bytes=10**6)
    assert [d.text for d in documents] == expected
    assert len({d.doc_id for d in documents}) == len(bodies)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=unicode_text)
def test_loaded_text_chunks_into_exact_clean_slices(tmp_path_factory: pytest.TempPathFactory,
                                                    embedder: MiniLMEmbedder, text: str) -> None:
    path = tmp_path_factory.mktemp("chunk") / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    try:
        (document,) = load_file(path, max_bytes=10**6)
    except LoaderError:
        return
    chunks, sentences = chunk_document(document, embedder, max_tokens=48)
    assert chunks
    digest = content_hash(document)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert not INVISIBLE_CHARS.search(chunk.text)
        meta = chunk_metadata(document, chunk, content_hash=digest, sentences=sentences)
        for start, end in json.loads(meta["sentences"]):
            assert chunk.start <= start < end <= chunk.end
    for start, end in sentences:
        assert document.text[start:end].strip() == document.text[start:end]
