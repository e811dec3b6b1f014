"""Ingest: files → documents → chunks → vectors → Chroma, incremental and crash-safe.

The orchestration: the manifest read and its orphan chunks swept, the files walked and
loaded (`rag.ingest.loaders`), each document compared with its manifest entry by content
hash, the new and changed ones chunked and written in batches (`rag.ingest.batches`,
whose write order keeps a crash anywhere harmless), the removals done last
(`rag.ingest.removals`). One writer at a time per data directory (`rag.ingest.lock`).

Each file succeeds or fails on its own: whatever goes wrong while reading, parsing or
chunking one file is recorded in the report against that file, and the rest go on.
Documents are only ever removed for a positive reason (their file is gone from the
folder, or their record from the file), never because a file failed to load.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import LoaderError
from rag.index.embeddings import Embedder
from rag.index.records import ManifestEntry, SentenceSink
from rag.index.store import Store
from rag.ingest.batches import Batch, BatchWriter, Pending, describe
from rag.ingest.chunking import chunk_document, content_hash
from rag.ingest.loaders import iter_files, load_file
from rag.ingest.removals import is_under, not_held, note_unreadable, resolved_path, swept
from rag.ingest.stories import Copies, Stories
from rag.schema import Document, IngestReport
from rag.text.instructions import find_instructions

Progress = Callable[[int, int, str], None]

# Chunks embedded and committed together. A killed ingest loses at most one batch of work
# (the chaos test's kills inside a write left up to 256 uncommitted chunks, one whole
# batch; nothing committed is touched, and the next run redoes them). Committing per file would lose
# less but costs too much: `python -m bench.ingest_batches` (evals/results/
# ingest_batches.json) measured 326 MultiHop-RAG files 2.23x slower committed one chunk at
# a time, 1.08x slower in batches of 64, against this size.
BATCH_CHUNKS = 256


class Ingestor:
    """`sentence_sink`, if given, receives each stored batch's sentence vectors, pooled
    from the same model pass as the chunk vectors (the retriever's side index wants them,
    and would otherwise run the model over every chunk again)."""

    def __init__(self, store: Store, embedder: Embedder, *, max_file_bytes: int,
                 sentence_sink: SentenceSink | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.writer = BatchWriter(store, embedder, sentence_sink)

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
        files = list(iter_files(path, on_error=lambda exc: note_unreadable(exc, unreadable, report),
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
        listed = {resolved_path(file) for file in files}

        def read_again(copies_of: ManifestEntry | None) -> None:
            """Queue the copies of a document whose text changes or goes: from now on
            they are documents of their own."""
            for copy in copies_of.copies if copies_of else ():
                if copy not in listed and os.path.isfile(copy):
                    listed.add(copy)
                    files.append(Path(copy))

        for entry in manifest.values():  # documents about to be swept: their file is gone
            if entry.copies and (entry.root == root or is_under(entry.path, root)) \
                    and not os.path.exists(entry.path):
                read_again(entry)
        batch = Batch()
        # `files` grows while it is walked: the copies of a document whose text changed
        # are read again in this run, as documents of their own.
        for number, file in enumerate(files, start=1):
            if progress:
                progress(number - 1, len(files), str(file))
            report.seen += 1
            resolved = resolved_path(file)
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
                report.failed.append((str(file), f"could not be read: {describe(exc)}"))
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
                for label in self.writer.flush(batch, report):
                    dropped |= dropped_from.pop(label)
        for label in self.writer.flush(batch, report):
            dropped |= dropped_from.pop(label)
        committed = set(manifest) | set(report.added) | set(report.updated)
        self.store.set_copies(copies.to_record(committed))
        report.copies.extend(copies.found)
        # A dropped record may have moved to a file that failed to load, or into a folder
        # that could not be read: it stays until that file is read.
        vanished = set() if unreadable else not_held(
            dropped, failed_to_load, manifest, max_bytes=self.max_file_bytes)
        if path.is_dir():
            vanished |= swept(manifest, root, present_paths, unreadable)
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

    def _plan(self, documents: list[Document], manifest: dict[str, ManifestEntry], root: str,
              copies: Copies, file: Path, stories: Stories
              ) -> tuple[list[Pending], list[str]]:
        """The documents of one file that need writing, and the ids of those that do not
        (unchanged, or copies of a document already indexed: `copies` keeps those)."""
        work: list[Pending] = []
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
                 ) -> Pending:
        try:
            chunks, sentences = chunk_document(document, self.embedder, doc_hash=digest)
        except Exception as exc:
            raise LoaderError(f"could not be chunked: {describe(exc)}") from exc
        if not chunks:
            raise LoaderError("no text to index")
        return Pending(document, digest, root, chunks, sentences, replaces,
                       find_instructions(document.text))

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every stored document's chunks (after a consistency error), in batches.
        Chunks are overwritten in place, never deleted first, so questions keep being
        answered during a reindex and an interrupted one leaves nothing worse behind."""
        started = time.perf_counter()
        report = IngestReport()
        manifest = self.store.manifest()
        doc_ids = sorted(manifest)
        stories = Stories(manifest)
        batch = Batch()
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
                self.writer.flush(batch, report)
        self.writer.flush(batch, report)
        self.store.sweep_orphans(force=True)
        if progress:
            progress(len(doc_ids), len(doc_ids), "")
        report.seconds = time.perf_counter() - started
        return report


def _broken_records(problems: list[str], loaded: int) -> str:
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                       if len(problems) > 5 else "")
    return (f"{len(problems)} broken record{'s' if len(problems) != 1 else ''} not indexed, "
            f"{loaded} indexed: {shown}")


def _instructions_warning(item: Pending) -> str:
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
