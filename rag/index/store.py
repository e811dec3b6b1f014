"""Chroma, used for everything that must be shared: chunk vectors and the documents.

Two collections per index: `<name>` holds chunks (vector, text, offsets, metadata)
in cosine space, and `<name>-documents` holds each document's full text and its
manifest entry (content hash, chunk count, the folder it was ingested from). Keeping
the documents in Chroma too means several workers sharing one Chroma server
(`RAG_CHROMA_URL`) see one consistent corpus, with nothing else to share. The
metadata of both is built and read in `rag.index.records`; the client is made in
`rag.index.chroma_client`.

A document's entry is written only after its chunks are stored; it is the commit
point of an ingest. Chunks whose document entry is missing or carries another
content hash are orphans: readers ignore them, the next writer sweeps them.

With the on-disk store, every process loads the vector index into memory; a write
bumps a token file next to it so that long-lived readers in other processes reload
(`rag.index.generation`, `Store._refresh`). A Chroma server needs none of that.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import ConsistencyError, DocumentNotFoundError, StoreError
from rag.index.chroma_client import (
    chroma_errors,
    forget_cached_client,
    http_session,
    make_client,
    open_collections,
    opening,
    pages,
    pages_by_id,
)
from rag.index.generation import Generation
from rag.index.records import (
    CHUNK_TEXT,
    COPIES,
    STORY,
    STORY_SHARED,
    WRITTEN_AT,
    ManifestEntry,
    StoredChunk,
    StoryMark,
    document_rows,
    entry_metadata,
    manifest_entry,
    stored_chunk,
    stored_document,
)
from rag.schema import Chunk, Document

# Chunks land before their document's entry commits them; on a Chroma server, writers
# with other data directories hold no lock of ours, so an orphan younger than
# ORPHAN_GRACE_S may be another worker's ingest in progress, and the sweep leaves it for
# a later one (readers ignore orphans meanwhile).
ORPHAN_GRACE_S = 15 * 60


class Store:
    def __init__(self, settings: Settings, *, embedder_name: str, dimension: int) -> None:
        self.settings = settings
        self._embedder_name = embedder_name
        self._dimension = dimension
        self._write_lock = threading.Lock()
        self._reopen_lock = threading.Lock()
        self._generation = Generation(settings)
        with opening(settings):
            self._open()

    def _open(self) -> None:
        client = make_client(self.settings)
        chunks, documents, batch = open_collections(
            client, self.settings.collection, self._embedder_name, self._dimension)
        self._client, self.chunks, self.documents, self._batch = client, chunks, documents, batch

    def close(self) -> None:
        """Close the connections to a Chroma server. (An on-disk store has nothing to close
        that is its own: chromadb shares one client per path within a process.)"""
        session = http_session(self._client) if self.settings.chroma_url else None
        if session is not None:
            session.close()

    # -- seeing other processes' writes (rag.index.generation) -------------------

    def sync(self) -> None:
        """Reload what other processes wrote, if anything (cheap when nothing changed)."""
        self._refresh()

    def generation(self) -> str:
        """A token that changes with every write to this on-disk store, by any process
        (a few microseconds to read); "" for a Chroma server, where it is not tracked.
        Derived indexes (the BM25 side index) compare it to know when to rebuild."""
        return self._generation.read()

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """One write: under the write lock, Chroma's failures as `StoreError`, and the
        generation bumped even after a failure, since a part of it may have landed."""
        with self._write_lock:
            try:
                with chroma_errors(what):
                    yield
            finally:
                self._generation.bump()

    def _refresh(self) -> None:
        if self._generation.path is None:
            return
        token = self._generation.read()
        if token == self._generation.seen:
            return
        with self._reopen_lock:
            if token == self._generation.seen:
                return
            forget_cached_client(self.settings)
            self._open()
            self._generation.seen = token

    # -- manifest ---------------------------------------------------------

    def manifest(self) -> dict[str, ManifestEntry]:
        return {doc_id: manifest_entry(doc_id, meta) for doc_id, meta in self._document_metadata()}

    def document_rows(self) -> list[dict[str, Any]]:
        """Every document's metadata and chunk count, without reading its text."""
        return document_rows(self._document_metadata())

    def _document_metadata(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for ids, metadatas in pages(self.documents, include=["metadatas"]):
            yield from zip(ids, metadatas, strict=True)

    def live_hashes(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each committed document among `doc_ids`."""
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with chroma_errors("reading document versions"):
            result = self.documents.get(ids=ids, include=["metadatas"])
        return {i: str(m["content_hash"]) for i, m in zip(result["ids"], result["metadatas"],
                                                          strict=True)}

    def mark_story_shared(self, doc_ids: Sequence[str]) -> None:
        """Mark the chunks of documents whose story a copy has just joined."""
        if not doc_ids:
            return
        with chroma_errors("listing chunks of shared stories"):
            ids = self.chunks.get(where={"doc_id": {"$in": list(doc_ids)}}, include=[])["ids"]
        if not ids:
            return
        with self._writing("marking shared stories"):
            for begin in range(0, len(ids), self._batch):
                part = ids[begin : begin + self._batch]
                # update() changes only the keys given; the rest of each chunk stays.
                self.chunks.update(ids=part, metadatas=[{STORY_SHARED: True}] * len(part))

    def story_members(self, stories: Iterable[str]) -> dict[str, list[dict[str, str]]]:
        """Per story, every committed document of it (id, title, outlet, date), in id
        order: the outlets that carried one story."""
        wanted = sorted(set(stories))
        if not wanted:
            return {}
        with chroma_errors("reading stories"):
            result = self.documents.get(where={STORY: {"$in": wanted}}, include=["metadatas"])
        out: dict[str, list[dict[str, str]]] = {}
        for doc_id, meta in sorted(zip(result["ids"], result["metadatas"], strict=True)):
            out.setdefault(str(meta[STORY]), []).append(
                {"doc_id": doc_id, **{k: str(meta.get(k, "")) for k in
                                      ("title", "source", "published_at", "path")}})
        return out

    def chunk_ids(self) -> list[str]:
        """Every chunk id; ids only, so checking an index's freshness stays cheap."""
        return [i for ids, _ in pages(self.chunks, include=[]) for i in ids]

    def document_count(self) -> int:
        with chroma_errors("counting documents"):
            return int(self.documents.count())

    def chunk_count(self) -> int:
        with chroma_errors("counting chunks"):
            return int(self.chunks.count())

    # -- writes -------------------------------------------------------------

    def put_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray,
                   metadatas: Sequence[dict[str, Any]]) -> None:
        written = int(time.time())
        with self._writing("writing chunks"):
            for begin in range(0, len(chunks), self._batch):
                part = slice(begin, begin + self._batch)
                self.chunks.upsert(
                    ids=[c.chunk_id for c in chunks[part]],
                    embeddings=vectors[part],
                    metadatas=[{**meta, CHUNK_TEXT: c.text, WRITTEN_AT: written}
                               for c, meta in zip(chunks[part], metadatas[part], strict=True)],
                )

    def commit_documents(self, entries: Sequence[tuple[Document, str, str, int]],
                         stories: Mapping[str, StoryMark] | None = None) -> None:
        """Write (document, content hash, root, chunk count) entries, with each document's
        (story, MinHash signature) from `stories`. Each entry is the commit point of its
        document's version, so its chunks must already be stored."""
        ids = [document.doc_id for document, *_ in entries]
        texts = [document.text for document, *_ in entries]
        metadatas = [entry_metadata(document, digest, root, chunks,
                                    (stories or {}).get(document.doc_id))
                     for document, digest, root, chunks in entries]
        with self._writing("writing document entries"):
            for begin in range(0, len(ids), self._batch):
                part = slice(begin, begin + self._batch)
                # Chroma needs a vector per record; the documents collection is never searched.
                self.documents.upsert(ids=ids[part], embeddings=[[1.0]] * len(ids[part]),
                                      documents=texts[part], metadatas=metadatas[part])

    def set_copies(self, copies: Mapping[str, Sequence[str]]) -> None:
        """Record, per document id, the other files that hold exactly its text."""
        ids = sorted(copies)
        if not ids:
            return
        with self._writing("recording copies of documents"):
            for begin in range(0, len(ids), self._batch):
                part = ids[begin : begin + self._batch]
                # update() changes only the keys given; the rest of each entry stays.
                self.documents.update(ids=part, metadatas=[
                    {COPIES: json.dumps(sorted(copies[i])) if copies[i] else ""}
                    for i in part])

    def delete_chunks_except(self, keep: Mapping[str, Collection[str]]) -> int:
        """Delete every chunk of the documents in `keep` whose id is not listed for its
        document (older versions, and extra chunks a chunker change left behind)."""
        wanted = {chunk_id for ids in keep.values() for chunk_id in ids}
        doc_ids = sorted(keep)
        stale: list[str] = []
        for begin in range(0, len(doc_ids), 500):
            where = {"doc_id": {"$in": doc_ids[begin : begin + 500]}}
            with chroma_errors("listing a document's chunks"):
                stored = self.chunks.get(where=where, include=[])["ids"]
            # Chunk ids start with their document id, so one set serves every document.
            stale += [i for i in stored if i not in wanted]
        if stale:
            self._delete_chunk_ids(stale)
        return len(stale)

    def _delete_chunk_ids(self, ids: Sequence[str]) -> None:
        with self._writing("deleting chunks"):
            for begin in range(0, len(ids), self._batch):
                self.chunks.delete(ids=list(ids[begin : begin + self._batch]))

    def remove_document(self, doc_id: str) -> None:
        self.remove_documents([doc_id])

    def remove_documents(self, doc_ids: Sequence[str]) -> None:
        # Entries first: once they are gone the chunks are orphans nobody reads.
        ids = list(doc_ids)
        with self._writing("removing documents"):
            for begin in range(0, len(ids), 500):
                part = ids[begin : begin + 500]
                self.documents.delete(ids=part)
                self.chunks.delete(where={"doc_id": {"$in": part}})

    def sweep_orphans(self, *, force: bool = False,
                      manifest: dict[str, ManifestEntry] | None = None) -> int:
        """Delete chunks that belong to no committed document version; returns how many.
        On a Chroma server, only those written more than `ORPHAN_GRACE_S` ago.

        Unless forced, the scan of every chunk's metadata is skipped when the collection
        holds exactly the chunks the manifest lists, which is the case after any ingest
        that was not interrupted: a repeated ingest of an unchanged folder stays cheap."""
        manifest = self.manifest() if manifest is None else manifest
        if not force and self.chunk_count() == sum(e.chunks for e in manifest.values()):
            return 0
        live = {e.doc_id: e.content_hash for e in manifest.values()}
        # Chunks written before this bound are old enough to be nobody's ingest in progress.
        settled = time.time() - ORPHAN_GRACE_S if self.settings.chroma_url else float("inf")
        orphans = [
            chunk_id
            for ids, metadatas in pages(self.chunks, include=["metadatas"])
            for chunk_id, meta in zip(ids, metadatas, strict=True)
            if live.get(str(meta.get("doc_id"))) != meta.get("content_hash")
            and float(meta.get(WRITTEN_AT, 0)) < settled
        ]
        if orphans:
            self._delete_chunk_ids(orphans)
        return len(orphans)

    def reset(self) -> None:
        with self._writing("emptying the store"):
            for collection in (self.chunks, self.documents):
                ids = [i for page, _ in pages(collection, include=[]) for i in page]
                for begin in range(0, len(ids), self._batch):
                    collection.delete(ids=ids[begin : begin + self._batch])

    # -- reads --------------------------------------------------------------

    def check_consistency(self) -> None:
        """Raise `ConsistencyError` if committed documents lack chunks.

        Comparing counts is enough when they agree or fall short. More chunks than the
        manifest lists means orphans of an interrupted write, which readers ignore; they
        could still hide a document's missing chunks, so only then is every chunk counted
        against its document."""
        manifest = self.manifest()
        expected = sum(e.chunks for e in manifest.values())
        actual = self.chunk_count()
        if actual == expected:
            return
        if actual < expected:
            raise ConsistencyError(
                f"the index is inconsistent: the manifest lists {expected} chunks for "
                f"{len(manifest)} documents but the collection holds {actual}; run "
                "`rag reindex` to rebuild the chunks from the stored documents"
            )
        held: Counter[tuple[str, str]] = Counter(
            (str(meta.get("doc_id")), str(meta.get("content_hash")))
            for _, metadatas in pages(self.chunks, include=["metadatas"])
            for meta in metadatas
        )
        short = sorted(e.doc_id for e in manifest.values()
                       if held[(e.doc_id, e.content_hash)] < e.chunks)
        if short:
            raise ConsistencyError(
                f"the index is inconsistent: {len(short)} of {len(manifest)} documents are "
                f"missing chunks (first: {short[0]}); run `rag reindex` to rebuild the chunks "
                "from the stored documents"
            )

    def document(self, doc_id: str) -> Document:
        with chroma_errors("reading a document"):
            result = self.documents.get(ids=[doc_id], include=["metadatas", "documents"])
        if not result["ids"]:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        return stored_document(doc_id, result["documents"][0], result["metadatas"][0])

    def documents_with_text(self, doc_ids: Sequence[str] | None = None
                            ) -> Iterable[tuple[Document, ManifestEntry]]:
        """Every stored document, or those among `doc_ids` (fetched by id, so the pages
        stay right while the caller rewrites the documents it is given)."""
        if doc_ids is None:
            found = pages(self.documents, include=["metadatas", "documents"])
        else:
            found = pages_by_id(self.documents, doc_ids, include=["metadatas", "documents"])
        for ids, metadatas, texts in found:
            for doc_id, meta, text in zip(ids, metadatas, texts, strict=True):
                yield stored_document(doc_id, text, meta), manifest_entry(doc_id, meta)

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
              ) -> list[StoredChunk]:
        if n <= 0:
            return []
        self._refresh()
        try:
            result = self.chunks.query(
                query_embeddings=[vector], n_results=n, where=where or None,
                include=["distances", "documents", "metadatas"],
            )
        except Exception as exc:
            raise StoreError(f"vector search failed: {exc}") from exc
        # A chunk deleted by another process after this one loaded its index comes back
        # without text or metadata (if its write never reached us); it is simply gone.
        found = (stored_chunk(i, t, float(d), m)
                 for i, t, d, m in zip(result["ids"][0], result["documents"][0],
                                       result["distances"][0], result["metadatas"][0],
                                       strict=True))
        return [chunk for chunk in found if chunk is not None]

    def nearest(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
                ) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) of the `n` nearest chunks, without their text or
        metadata (cheaper when only a few of them will be read)."""
        if n <= 0:
            return []
        self._refresh()
        try:
            result = self.chunks.query(query_embeddings=[vector], n_results=n,
                                       where=where or None, include=["distances"])
        except Exception as exc:
            raise StoreError(f"vector search failed: {exc}") from exc
        return [(i, float(d)) for i, d in zip(result["ids"][0], result["distances"][0],
                                               strict=True)]

    def get_chunks(self, ids: Sequence[str], where: dict[str, Any] | None = None
                   ) -> list[StoredChunk]:
        """The chunks among `ids` that exist (and match `where`), in the order asked."""
        if not ids:
            return []
        with chroma_errors("reading chunks"):
            result = self.chunks.get(ids=list(ids), where=where or None,
                                     include=["documents", "metadatas"])
        found = {i: stored_chunk(i, t, 0.0, m) for i, t, m in zip(
            result["ids"], result["documents"], result["metadatas"], strict=True)}
        return [chunk for chunk in map(found.get, ids) if chunk is not None]

    def all_chunks(self, where: dict[str, Any] | None = None) -> Iterable[StoredChunk]:
        for ids, metadatas, texts in pages(self.chunks, include=["metadatas", "documents"],
                                           where=where):
            for chunk_id, meta, text in zip(ids, metadatas, texts, strict=True):
                chunk = stored_chunk(chunk_id, text, 0.0, meta)
                if chunk is not None:
                    yield chunk
