"""`Assistant`: the public entry point tying ingest, retrieval and answering together.

One instance is safe to share across threads: reads go to Chroma (thread-safe), the
embedder and answerer guard their caches, and writes are serialised by a lock here and
by the writer lock file across processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.embeddings import Embedder, get_embedder
from rag.extractive import REFUSAL, ExtractiveAnswerer
from rag.ingest import Ingestor, Progress, writer_lock
from rag.retrieval import DenseRetriever, check_k
from rag.schema import Answer, Document, IngestReport, Passage
from rag.store import Store
from rag.validation import validate_question


class Assistant:
    def __init__(self, home: str | Path | None = None, settings: Settings | None = None,
                 *, embedder: Embedder | None = None) -> None:
        settings = settings or Settings()
        if home is not None:
            settings = settings.with_(home=Path(home))
        self.settings = settings
        self.embedder = embedder or get_embedder(settings.embedder)
        self.store = Store(settings, embedder_name=self.embedder.name,
                           dimension=self.embedder.dimension)
        self.retriever = DenseRetriever(self.store, self.embedder)
        self.answerer = ExtractiveAnswerer(self.embedder)
        self._write_lock = threading.Lock()

    # -- corpus ---------------------------------------------------------------

    def ingest(self, path: str | Path, progress: Progress | None = None) -> IngestReport:
        with self._write_lock, writer_lock(self.settings.home):
            ingestor = Ingestor(self.store, self.embedder,
                                max_file_bytes=self.settings.max_file_bytes)
            return ingestor.ingest(Path(path), progress)

    def delete(self, doc_id: str) -> None:
        self.document(doc_id)
        with self._write_lock, writer_lock(self.settings.home):
            self.store.remove_document(doc_id)

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every chunk from the stored documents (after a consistency error)."""
        report = IngestReport()
        started = time.perf_counter()
        with self._write_lock, writer_lock(self.settings.home):
            stored = list(self.store.documents_with_text())
            ingestor = Ingestor(self.store, self.embedder,
                                max_file_bytes=self.settings.max_file_bytes)
            for number, (document, entry) in enumerate(stored):
                if progress:
                    progress(number, len(stored), document.path or document.doc_id)
                self.store.delete_chunks(document.doc_id)
                report.chunks += ingestor.write_document(document, entry.root)
                report.updated.append(document.doc_id)
                report.seen += 1
                report.indexed += 1
            self.store.sweep_orphans()
        report.seconds = time.perf_counter() - started
        return report

    def document(self, doc_id: str) -> Document:
        return self.store.document(doc_id)

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document's metadata and chunk count, newest first."""
        rows = [
            {**document.metadata, "doc_id": document.doc_id, "chunks": entry.chunks,
             "characters": len(document.text)}
            for document, entry in self.store.documents_with_text()
        ]
        return sorted(rows, key=lambda r: (r["published_at"], r["title"]), reverse=True)

    def stats(self) -> dict[str, Any]:
        return {
            "documents": self.store.document_count(),
            "chunks": self.store.chunk_count(),
            "home": str(self.settings.home.resolve()),
            "chroma": self.settings.chroma_url or str((self.settings.home / "chroma").resolve()),
            "collection": self.settings.collection,
            "embedding_model": self.embedder.name,
            "llm": self.settings.llm,
        }

    def check(self) -> None:
        """Raise `ConsistencyError` if committed documents lack their chunks."""
        self.store.check_consistency()

    # -- questions ----------------------------------------------------------

    def retrieve(self, question: str, *, k: int | None = None,
                 filters: Mapping[str, Any] | None = None) -> list[Passage]:
        question = validate_question(question)
        k = self.settings.top_k if k is None else k
        check_k(k)
        return self.retriever.retrieve(question, k, filters)

    def ask(self, question: str, *, k: int | None = None,
            filters: Mapping[str, Any] | None = None) -> Answer:
        started = time.perf_counter()
        passages = self.retrieve(question, k=k, filters=filters)
        retrieved = time.perf_counter()
        text, citations, refused = self.answerer.answer(question, passages)
        done = time.perf_counter()
        if refused:
            text = f"{REFUSAL} The closest passages are listed below." if passages else (
                f"{REFUSAL} Nothing is indexed that matches the question.")
        return Answer(
            question=question, text=text, refused=refused, citations=citations,
            passages=passages, mode="extractive",
            timings={"retrieve_ms": (retrieved - started) * 1000,
                     "answer_ms": (done - retrieved) * 1000,
                     "total_ms": (done - started) * 1000},
        )
