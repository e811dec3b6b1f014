"""Ingest: files → documents → chunks → vectors → Chroma, incremental and crash-safe.

Order of writes per document: new chunks (ids carry the content hash, so they sit
beside the old version), then the document entry (the commit point), then the old
version's chunks are deleted. A crash anywhere leaves either the old version or the
new one committed, plus orphan chunks that the next ingest sweeps. One writer at a
time per data directory, enforced by an advisory lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from rag.chunking import chunk_document, content_hash
from rag.embeddings import Embedder
from rag.errors import IngestLockedError, LoaderError
from rag.loaders import iter_files, load_file
from rag.schema import Chunk, Document, IngestReport
from rag.store import ManifestEntry, Store, chunk_metadata

Progress = Callable[[int, int, str], None]


@contextlib.contextmanager
def writer_lock(home: Path) -> Iterator[None]:
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
    def __init__(self, store: Store, embedder: Embedder, *, max_file_bytes: int) -> None:
        self.store = store
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes

    def ingest(self, path: Path, progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        path = path.expanduser()
        if not path.exists():
            report.seen = 1
            report.failed.append((str(path), "no such file or folder"))
            return report
        self.store.sweep_orphans()
        manifest = self.store.manifest()
        root = str(path.resolve())
        files = list(iter_files(path))
        present_paths: set[str] = set()
        batch = _Batch()
        for number, file in enumerate(files, start=1):
            if progress:
                progress(number - 1, len(files), str(file))
            report.seen += 1
            present_paths.add(str(file))
            try:
                documents = load_file(file, max_bytes=self.max_file_bytes)
            except LoaderError as exc:
                report.failed.append((str(file), str(exc)))
                continue
            self._plan_file(file, documents, manifest, report, batch)
            if batch.chunk_count >= BATCH_CHUNKS:
                self._flush(batch, root, report)
        self._flush(batch, root, report)
        if path.is_dir():
            for entry in manifest.values():
                if entry.root == root and entry.path not in present_paths:
                    self.store.remove_document(entry.doc_id)
                    report.removed.append(entry.doc_id)
        if progress:
            progress(len(files), len(files), "")
        report.seconds = time.perf_counter() - started
        return report

    def _plan_file(self, file: Path, documents: list[Document], manifest: dict[str, ManifestEntry],
                   report: IngestReport, batch: _Batch) -> None:
        ids_in_file = {d.doc_id for d in documents}
        work: list[_Pending] = []
        try:
            for document in documents:
                digest = content_hash(document)
                previous = manifest.get(document.doc_id)
                if previous is not None and previous.content_hash == digest:
                    report.unchanged.append(document.doc_id)
                    continue
                chunks, sentences = chunk_document(document, self.embedder, doc_hash=digest)
                work.append(_Pending(document, digest, chunks, sentences, previous is not None))
        except Exception as exc:  # one file's failure must not stop the others
            report.failed.append((str(file), f"could not be chunked: {exc}"))
            return
        batch.files.append((file, work))
        batch.chunk_count += sum(len(p.chunks) for p in work)
        # Records that vanished from a JSON/JSONL file since its last ingest.
        for entry in manifest.values():
            if entry.path == str(file) and entry.doc_id not in ids_in_file:
                self.store.remove_document(entry.doc_id)
                report.removed.append(entry.doc_id)

    def _flush(self, batch: _Batch, root: str, report: IngestReport) -> None:
        """Embed a batch of files' chunks together (fewer, fuller model calls), then
        store and commit each file's documents."""
        if not batch.files:
            return
        pending = [p for _, work in batch.files for p in work]
        try:
            vectors = self.embedder.embed([c.text for p in pending for c in p.chunks])
        except Exception as exc:
            for file, _ in batch.files:
                report.failed.append((str(file), f"could not be embedded: {exc}"))
            batch.clear()
            return
        offset = 0
        for file, work in batch.files:
            try:
                for item in work:
                    count = len(item.chunks)
                    self._write(item, vectors[offset : offset + count], root)
                    offset += count
                    (report.updated if item.replaces else report.added).append(item.document.doc_id)
                    report.chunks += count
            except Exception as exc:  # one file's failure must not stop the others
                report.failed.append((str(file), f"could not be stored: {exc}"))
                offset = _skip_rest(work, item, offset)
                continue
            report.indexed += 1
        batch.clear()

    def _write(self, item: _Pending, vectors: np.ndarray, root: str) -> None:
        metadatas = [chunk_metadata(item.document, c, content_hash=item.digest,
                                    sentences=item.sentences) for c in item.chunks]
        self.store.put_chunks(item.chunks, vectors, metadatas)
        self.store.commit_document(item.document, content_hash=item.digest, root=root,
                                   chunks=len(item.chunks))
        self.store.delete_chunks(item.document.doc_id, except_hash=item.digest)

    def write_document(self, document: Document, root: str) -> int:
        """Index one document now (used by reindex)."""
        digest = content_hash(document)
        chunks, sentences = chunk_document(document, self.embedder, doc_hash=digest)
        vectors = self.embedder.embed([c.text for c in chunks])
        self._write(_Pending(document, digest, chunks, sentences, True), vectors, root)
        return len(chunks)


BATCH_CHUNKS = 256


@dataclass
class _Pending:
    document: Document
    digest: str
    chunks: list[Chunk]
    sentences: list[tuple[int, int]]
    replaces: bool


@dataclass
class _Batch:
    files: list[tuple[Path, list[_Pending]]] = field(default_factory=list)
    chunk_count: int = 0

    def clear(self) -> None:
        self.files.clear()
        self.chunk_count = 0


def _skip_rest(work: list[_Pending], failed: _Pending, offset: int) -> int:
    """Offset past the vectors of `failed` and the items after it in `work`."""
    index = work.index(failed)
    return offset + sum(len(p.chunks) for p in work[index:])
