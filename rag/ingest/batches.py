"""Writing batches of documents, crash-safe: their chunks embedded together, then stored
in three writes, in this order: the new chunks (their ids carry the content hash, so
they sit beside the old version's), then the documents' entries (each one the commit
point of its document), then the chunks of the versions they replace are deleted. A
crash anywhere leaves each document either at its old version or at its new one, plus
orphan chunks that readers ignore and the next ingest sweeps. The batches are filled by
`rag.ingest.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag.index.embeddings import Embedder
from rag.index.records import SentenceSink, StoryMark, chunk_metadata, sentences_in_chunk
from rag.index.store import Store
from rag.schema import Chunk, Document, IngestReport
from rag.text.instructions import Instruction


@dataclass
class Pending:
    """A document about to be written: its chunks, and what their metadata will carry."""

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
class Batch:
    """Documents of several files, written together (`BatchWriter.flush`)."""

    # (file path, or document label in a reindex; its documents to write)
    files: list[tuple[str, list[Pending]]] = field(default_factory=list)
    chunk_count: int = 0

    def clear(self) -> None:
        self.files.clear()
        self.chunk_count = 0


class BatchWriter:
    """Embeds and stores an `Ingestor`'s batches; `sentence_sink` as for the `Ingestor`."""

    def __init__(self, store: Store, embedder: Embedder, sentence_sink: SentenceSink | None
                 ) -> None:
        self.store = store
        self.embedder = embedder
        self.sentence_sink = sentence_sink

    def flush(self, batch: Batch, report: IngestReport) -> list[str]:
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
                    report.failed.append((label, f"could not be embedded: {describe(exc)}"))
                else:  # nothing of it needed embedding: it is indexed as it was
                    report.indexed += 1
                    indexed.append(label)
            batch.clear()
            return indexed
        stored: list[tuple[str, list[Pending]]] = []
        try:
            self._store(pending)
            stored = list(batch.files)
        except Exception:
            # Find out which file the store refuses: the others must still get in.
            for label, work in batch.files:
                try:
                    self._store(work)
                except Exception as exc:
                    report.failed.append((label, f"could not be stored: {describe(exc)}"))
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

    def _embed(self, pending: list[Pending]) -> dict[str, np.ndarray]:
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

    def _store(self, items: list[Pending]) -> None:
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


def describe(exc: BaseException) -> str:
    """An exception as a report line names it: its type, and its message if it has one."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
