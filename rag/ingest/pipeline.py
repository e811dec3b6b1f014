"""Ingest: files → documents → chunks → vectors → Chroma, incremental and crash-safe.

Writes go in batches of a few hundred chunks, in this order: the new chunks (their ids
carry the content hash, so they sit beside the old version's), then the documents'
entries (each one the commit point of its document), then the chunks of the versions
they replace are deleted. A crash anywhere leaves each document either at its old
version or at its new one, plus orphan chunks that readers ignore and the next ingest
sweeps. One writer at a time per data directory, enforced by an advisory lock.

Each file succeeds or fails on its own: whatever goes wrong while reading, parsing or
chunking one file is recorded in the report against that file, and the rest go on.
Documents are only ever removed for a positive reason (their file is gone from the
folder, or their record from the file), never because a file failed to load.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from rag.errors import IngestLockedError, LoaderError
from rag.index.embeddings import Embedder
from rag.index.store import (
    ManifestEntry,
    SentenceSink,
    Store,
    StoryMark,
    chunk_metadata,
    sentences_in_chunk,
)
from rag.ingest.chunking import chunk_document, content_hash
from rag.ingest.loaders import iter_files, load_file
from rag.ingest.stories import Copies, Stories
from rag.schema import Chunk, Document, IngestReport
from rag.text.instructions import Instruction, find_instructions

Progress = Callable[[int, int, str], None]

# Chunks embedded and committed together. A killed ingest loses at most one batch of work
# (the chaos test's kills inside a write left up to 256 uncommitted chunks, one whole
# batch; nothing committed is touched, and the next run redoes them). Committing per file would lose
# less but costs too much: `python -m bench.ingest_batches` (evals/results/
# ingest_batches.json) measured 326 MultiHop-RAG files 2.23x slower committed one chunk at
# a time, 1.08x slower in batches of 64, against this size.
BATCH_CHUNKS = 256


@contextlib.contextmanager
def writer_lock(home: Path) -> Iterator[None]:
    """One writer per data directory, across processes. The kernel drops an flock when
    its holder dies, so a killed ingest never leaves a stale lock behind."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "ingest.lock"
    handle: TextIO = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IngestLockedError(
                f"another ingest is writing to {home} (held by {holder}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


class Ingestor:
    """`sentence_sink`, if given, receives each stored batch's sentence vectors, pooled
    from the same model pass as the chunk vectors (the retriever's side index wants them,
    and would otherwise run the model over every chunk again)."""

    def __init__(self, store: Store, embedder: Embedder, *, max_file_bytes: int,
                 sentence_sink: SentenceSink | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.sentence_sink = sentence_sink

    def ingest(self, path: Path, progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        path = path.expanduser()
        if not path.exists():
            report.seen = 1
            report.failed.append((str(path), "no such file or folder"))
            return report
        manifest = self.store.manifest()
        # Sweeping reads the manifest too; the one just read is still current.
        self.store.sweep_orphans(manifest=manifest)
        by_path: dict[str, list[ManifestEntry]] = {}
        for entry in manifest.values():
            by_path.setdefault(entry.path, []).append(entry)
        root = str(path.resolve())
        unreadable: list[str] = []
        files = list(iter_files(path, on_error=lambda exc: _unreadable(exc, unreadable, report),
                                on_skip=lambda link, why: report.skipped.append((str(link), why))))
        present_paths: set[str] = set()
        # Which file holds each document id this run: a document is never removed once a
        # file has claimed it, and two files cannot silently overwrite one another.
        claimed: dict[str, str] = {}
        # Records that vanished from a JSON/JSONL file, by file: only removed once that
        # file's new version is stored.
        dropped_from: dict[str, set[str]] = {}
        dropped: set[str] = set()
        failed_to_load: list[Path] = []
        copies = Copies(manifest)
        stories = Stories(manifest)
        listed = {_resolved(file) for file in files}

        def read_again(copies_of: ManifestEntry | None) -> None:
            """Queue the copies of a document whose text changes or goes: from now on
            they are documents of their own."""
            for copy in copies_of.copies if copies_of else ():
                if copy not in listed and os.path.isfile(copy):
                    listed.add(copy)
                    files.append(Path(copy))

        for entry in manifest.values():  # documents about to be swept: their file is gone
            if entry.copies and (entry.root == root or _is_under(entry.path, root)) \
                    and not os.path.exists(entry.path):
                read_again(entry)
        batch = _Batch()
        # `files` grows while it is walked: the copies of a document whose text changed
        # are read again in this run, as documents of their own.
        for number, file in enumerate(files, start=1):
            if progress:
                progress(number - 1, len(files), str(file))
            report.seen += 1
            resolved = _resolved(file)
            present_paths.add(resolved)
            problems: list[str] = []
            try:
                documents = load_file(file, max_bytes=self.max_file_bytes, problems=problems)
                _claim(documents, file, claimed)
                work, unchanged = self._plan(documents, manifest, root, copies, file, stories)
            except LoaderError as exc:
                report.failed.append((str(file), str(exc)))
                failed_to_load.append(file)
                continue
            except Exception as exc:  # one file's failure must not stop the others
                report.failed.append((str(file), f"could not be read: {_describe(exc)}"))
                failed_to_load.append(file)
                continue
            report.unchanged.extend(unchanged)
            for item in work:
                read_again(manifest.get(item.document.doc_id))
            report.warnings.extend((str(file), _instructions_warning(item))
                                   for item in work if item.instructions)
            if problems:
                report.warnings.append((str(file), _broken_records(problems, len(documents))))
            ids_in_file = {d.doc_id for d in documents} - copies.ids_of(str(file))
            # A broken record may be one that was indexed before: with any broken, none
            # of the file's stored records is removed (their ids are unreadable now).
            dropped_from[str(file)] = set() if problems else {
                entry.doc_id for entry in by_path.get(resolved, [])
                if entry.doc_id not in ids_in_file}
            batch.files.append((str(file), work))
            batch.chunk_count += sum(len(p.chunks) for p in work)
            if batch.chunk_count >= BATCH_CHUNKS:
                for label in self._flush(batch, report):
                    dropped |= dropped_from.pop(label)
        for label in self._flush(batch, report):
            dropped |= dropped_from.pop(label)
        committed = set(manifest) | set(report.added) | set(report.updated)
        self.store.set_copies(copies.to_record(committed))
        report.copies.extend(copies.found)
        # A dropped record may have moved to a file that failed to load, or into a folder
        # that could not be read: it stays until that file is read.
        vanished = set() if unreadable else self._not_held(dropped, failed_to_load, manifest)
        if path.is_dir():
            vanished |= _swept(manifest, root, present_paths, unreadable)
        # Removals come last, after every new version is committed, so a record that
        # moved to another file is never absent from the index at any moment.
        gone = sorted(vanished - claimed.keys())
        if gone:
            self.store.remove_documents(gone)
            report.removed.extend(gone)
        if progress:
            progress(len(files), len(files), "")
        report.seconds = time.perf_counter() - started
        return report

    def _not_held(self, dropped: set[str], failed_to_load: list[Path],
                  manifest: dict[str, ManifestEntry]) -> set[str]:
        """The dropped records that none of the files that failed to load may hold. Only a
        record with a url keeps its id in another file, so only its url can be there."""
        if not dropped or not failed_to_load:
            return dropped
        texts = [_raw_text(file, self.max_file_bytes) for file in failed_to_load]
        if None in texts:
            return set()
        return {doc_id for doc_id in dropped if not manifest[doc_id].url
                or not any(_mentions(text, manifest[doc_id].url) for text in texts if text)}

    def _plan(self, documents: list[Document], manifest: dict[str, ManifestEntry], root: str,
              copies: Copies, file: Path, stories: Stories
              ) -> tuple[list[_Pending], list[str]]:
        """The documents of one file that need writing, and the ids of those that do not
        (unchanged, or copies of a document already indexed: `copies` keeps those)."""
        work: list[_Pending] = []
        unchanged: list[str] = []
        for document in documents:
            digest = content_hash(document)
            previous = manifest.get(document.doc_id)
            if previous is None and copies.is_copy(document, str(file)):
                continue
            if previous is not None and previous.content_hash == digest:
                unchanged.append(document.doc_id)
                continue
            item = self._prepare(document, digest, root, replaces=previous is not None)
            item.story = stories.assign(document, digest)
            work.append(item)
            copies.planned(document)
        return work, unchanged

    def _prepare(self, document: Document, digest: str, root: str, *, replaces: bool
                 ) -> _Pending:
        try:
            chunks, sentences = chunk_document(document, self.embedder, doc_hash=digest)
        except Exception as exc:
            raise LoaderError(f"could not be chunked: {_describe(exc)}") from exc
        if not chunks:
            raise LoaderError("no text to index")
        return _Pending(document, digest, root, chunks, sentences, replaces,
                        find_instructions(document.text))

    def _flush(self, batch: _Batch, report: IngestReport) -> list[str]:
        """Embed a batch of files' chunks together (fewer, fuller model calls), then store
        them all in three writes: chunks, document entries (the commit), stale chunks out.
        One disk-synced write per document would cost more than the embedding. Returns
        the files now indexed at their new version."""
        if not batch.files:
            return []
        pending = [p for _, work in batch.files for p in work]
        try:
            sentences = self._embed(pending)
        except Exception as exc:
            indexed: list[str] = []
            for label, work in batch.files:
                if work:
                    report.failed.append((label, f"could not be embedded: {_describe(exc)}"))
                else:  # nothing of it needed embedding: it is indexed as it was
                    report.indexed += 1
                    indexed.append(label)
            batch.clear()
            return indexed
        stored: list[tuple[str, list[_Pending]]] = []
        try:
            self._store(pending)
            stored = list(batch.files)
        except Exception:
            # Find out which file the store refuses: the others must still get in.
            for label, work in batch.files:
                try:
                    self._store(work)
                except Exception as exc:
                    report.failed.append((label, f"could not be stored: {_describe(exc)}"))
                    continue
                stored.append((label, work))
        for _, work in stored:
            for item in work:
                (report.updated if item.replaces else report.added).append(item.document.doc_id)
                report.chunks += len(item.chunks)
            report.indexed += 1
        if self.sentence_sink is not None:
            kept = {c.chunk_id for _, work in stored for item in work for c in item.chunks}
            self.sentence_sink({i: v for i, v in sentences.items() if i in kept})
        batch.clear()
        return [label for label, _ in stored]

    def _embed(self, pending: list[_Pending]) -> dict[str, np.ndarray]:
        """Set each document's chunk vectors; with a sentence sink, also return each chunk's
        sentence vectors from the same model pass (its own vector if it has one sentence)."""
        chunks = [(item, c) for item in pending for c in item.chunks]
        texts = [c.text for _, c in chunks]
        sentences: dict[str, np.ndarray] = {}
        if self.sentence_sink is None:
            vectors = self.embedder.embed(texts)
        else:
            spans = [sentences_in_chunk(c.text, c.start, item.sentences) for item, c in chunks]
            spans = [inside if len(inside) > 1 else [] for inside in spans]
            vectors, parts = self.embedder.embed_spans(texts, spans)
            # A chunk of one sentence is its own sentence vector.
            sentences = {c.chunk_id: part if inside else vectors[n][None, :]
                         for n, ((_, c), inside, part)
                         in enumerate(zip(chunks, spans, parts, strict=True))}
        offset = 0
        for item in pending:
            item.vectors = vectors[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
        return sentences

    def _store(self, items: list[_Pending]) -> None:
        if not items:
            return
        chunks = [c for item in items for c in item.chunks]
        vectors = np.concatenate([item.vectors for item in items if item.vectors is not None])
        metadatas = [chunk_metadata(item.document, c, content_hash=item.digest,
                                    sentences=item.sentences,
                                    instructions=[(i.start, i.end) for i in item.instructions],
                                    story=item.story.story if item.story else "",
                                    story_shared=bool(item.story and item.story.shared))
                     for item in items for c in item.chunks]
        self.store.put_chunks(chunks, vectors, metadatas)
        self.store.commit_documents([(item.document, item.digest, item.root, len(item.chunks))
                                     for item in items],
                                    {item.document.doc_id: item.story
                                     for item in items if item.story})
        self.store.mark_story_shared(sorted(
            {d for item in items if item.story for d in item.story.newly_shared}))
        self.store.delete_chunks_except(
            {item.document.doc_id: [c.chunk_id for c in item.chunks] for item in items})

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every stored document's chunks (after a consistency error), in batches.
        Chunks are overwritten in place, never deleted first, so questions keep being
        answered during a reindex and an interrupted one leaves nothing worse behind."""
        started = time.perf_counter()
        report = IngestReport()
        manifest = self.store.manifest()
        doc_ids = sorted(manifest)
        stories = Stories(manifest)
        batch = _Batch()
        for number, (document, entry) in enumerate(self.store.documents_with_text(doc_ids)):
            label = document.path or document.doc_id
            if progress:
                progress(number, len(doc_ids), label)
            report.seen += 1
            try:
                item = self._prepare(document, content_hash(document), entry.root,
                                     replaces=True)
                item.story = stories.assign(document, item.digest, keep=entry.story)
            except LoaderError as exc:
                report.failed.append((label, str(exc)))
                continue
            batch.files.append((label, [item]))
            batch.chunk_count += len(item.chunks)
            if batch.chunk_count >= BATCH_CHUNKS:
                self._flush(batch, report)
        self._flush(batch, report)
        self.store.sweep_orphans(force=True)
        if progress:
            progress(len(doc_ids), len(doc_ids), "")
        report.seconds = time.perf_counter() - started
        return report


@dataclass
class _Pending:
    document: Document
    digest: str
    root: str
    chunks: list[Chunk]
    sentences: list[tuple[int, int]]
    replaces: bool
    # Text addressed to a model (rag.text.instructions), found once, here.
    instructions: list[Instruction] = field(default_factory=list)
    story: StoryMark | None = None  # its story (`Stories`)
    vectors: np.ndarray | None = None


@dataclass
class _Batch:
    # (file path, or document label in a reindex; its documents to write)
    files: list[tuple[str, list[_Pending]]] = field(default_factory=list)
    chunk_count: int = 0

    def clear(self) -> None:
        self.files.clear()
        self.chunk_count = 0


def _broken_records(problems: list[str], loaded: int) -> str:
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                       if len(problems) > 5 else "")
    return (f"{len(problems)} broken record{'s' if len(problems) != 1 else ''} not indexed, "
            f"{loaded} indexed: {shown}")


def _instructions_warning(item: _Pending) -> str:
    found, document = item.instructions, item.document
    count = "a passage" if len(found) == 1 else f"{len(found)} passages"
    return (f"{count} addressed to an AI model rather than to readers "
            f"(“{found[0].snippet(document.text)}”); answers will not use "
            f"{'it' if len(found) == 1 else 'them'} as evidence")


def _claim(documents: list[Document], file: Path, claimed: dict[str, str]) -> None:
    for document in documents:
        other = claimed.get(document.doc_id)
        if other is not None and other != str(file):
            what = f"url {document.url}" if document.url else f"id {document.doc_id}"
            raise LoaderError(
                f"holds the same article ({what}) as {other}, which was indexed first; "
                "remove one of the copies"
            )
    for document in documents:
        claimed[document.doc_id] = str(file)


def _unreadable(exc: OSError, folders: list[str], report: IngestReport) -> None:
    folder = _resolved(Path(exc.filename))
    folders.append(folder)
    report.seen += 1
    report.failed.append((folder, f"folder could not be read ({exc.strerror or exc}); "
                                  "its documents are kept as they were"))


def _swept(manifest: dict[str, ManifestEntry], root: str, present_paths: set[str],
           unreadable: list[str]) -> set[str]:
    """The documents whose file is gone from the folder at `root`: not listed by this
    walk although it could have been, and no longer on disk."""
    return {entry.doc_id for entry in manifest.values()
            if entry.path not in present_paths
            and (entry.root == root or _is_under(entry.path, root))
            and _listable(entry.path, root, unreadable)
            and not os.path.exists(entry.path)}


def _listable(path: str, root: str, unreadable: list[str]) -> bool:
    if not _is_under(path, root):
        return True  # a file outside reached through a link: only its absence tells
    # Hidden paths (an upload area, drafts ingested on their own) are never walked.
    hidden = any(part.startswith(".") for part in Path(path).relative_to(root).parts)
    return not hidden and not any(path == folder or _is_under(path, folder)
                                  for folder in unreadable)


def _raw_text(file: Path, max_bytes: int) -> str | None:
    """A file's text as it is, broken or not; None if it cannot be read whole."""
    try:
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace") if len(data) <= max_bytes else None


def _mentions(text: str, url: str) -> bool:
    # JSON may escape a url's non-ASCII characters, and its slashes.
    escaped = json.dumps(url)[1:-1]
    return any(form in text for form in (url, escaped, escaped.replace("/", "\\/")))


def _resolved(file: Path) -> str:
    try:
        return str(file.resolve())
    except OSError:
        return str(file.absolute())


def _is_under(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
