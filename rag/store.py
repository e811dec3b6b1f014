"""Chroma, used for everything that must be shared: chunk vectors and the documents.

Two collections per index: `<name>` holds chunks (vector, text, offsets, metadata)
in cosine space, and `<name>-documents` holds each document's full text and its
manifest entry (content hash, chunk count, the folder it was ingested from). Keeping
the documents in Chroma too means several workers sharing one Chroma server
(`RAG_CHROMA_URL`) see one consistent corpus, with nothing else to share.

A document's entry is written only after its chunks are stored; it is the commit
point of an ingest. Chunks whose document entry is missing or carries another
content hash are orphans: readers ignore them, the next writer sweeps them.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.config import Settings
from rag.errors import ConfigError, ConsistencyError, DocumentNotFoundError, StoreError
from rag.schema import Chunk, Document

_DOC_FIELDS = ("title", "source", "author", "published_at", "url", "category", "path")


@dataclass(frozen=True)
class ManifestEntry:
    doc_id: str
    content_hash: str
    path: str
    root: str
    chunks: int


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    distance: float
    metadata: dict[str, Any]


def published_ts(value: str) -> int | None:
    """Seconds since the epoch for an ISO date or datetime, or None if it is not one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def make_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(f"RAG_CHROMA_URL is not a URL: {settings.chroma_url!r}")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
    settings.home.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.home / "chroma"), settings=chroma_settings)


class Store:
    def __init__(self, settings: Settings, *, embedder_name: str, dimension: int) -> None:
        self.settings = settings
        self._client = make_client(settings)
        self._write_lock = threading.Lock()
        meta = {"embedder": embedder_name, "dimension": dimension}
        try:
            self.chunks = self._client.get_or_create_collection(
                settings.collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=meta,
                embedding_function=None,
            )
            self.documents = self._client.get_or_create_collection(
                f"{settings.collection}-documents", embedding_function=None
            )
            self._batch = int(self._client.get_max_batch_size())
        except Exception as exc:
            raise StoreError(f"cannot open the vector store: {exc}") from exc
        stored = self.chunks.metadata or {}
        if stored.get("embedder") not in (None, embedder_name):
            raise ConfigError(
                f"collection {settings.collection!r} was built with {stored['embedder']!r}, "
                f"not {embedder_name!r}: use another collection or re-ingest into an empty one"
            )

    # -- manifest ---------------------------------------------------------

    def manifest(self) -> dict[str, ManifestEntry]:
        entries: dict[str, ManifestEntry] = {}
        for ids, metadatas in self._pages(self.documents, include=["metadatas"]):
            for doc_id, meta in zip(ids, metadatas, strict=True):
                entries[doc_id] = ManifestEntry(
                    doc_id, str(meta["content_hash"]), str(meta.get("path", "")),
                    str(meta.get("root", "")), int(meta.get("chunks", 0)),
                )
        return entries

    def live_hashes(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each committed document among `doc_ids`."""
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        result = self.documents.get(ids=ids, include=["metadatas"])
        return {i: str(m["content_hash"]) for i, m in zip(result["ids"], result["metadatas"],
                                                          strict=True)}

    def document_count(self) -> int:
        return int(self.documents.count())

    def chunk_count(self) -> int:
        return int(self.chunks.count())

    # -- writes -------------------------------------------------------------

    def put_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray,
                   metadatas: Sequence[dict[str, Any]]) -> None:
        with self._write_lock:
            for begin in range(0, len(chunks), self._batch):
                part = slice(begin, begin + self._batch)
                self.chunks.upsert(
                    ids=[c.chunk_id for c in chunks[part]],
                    embeddings=vectors[part],
                    documents=[c.text for c in chunks[part]],
                    metadatas=list(metadatas[part]),
                )

    def commit_document(self, document: Document, *, content_hash: str, root: str,
                        chunks: int) -> None:
        self.commit_documents([(document, content_hash, root, chunks)])

    def commit_documents(self, entries: Sequence[tuple[Document, str, str, int]]) -> None:
        """Write (document, content hash, root, chunk count) entries. Each entry is the
        commit point of its document's version, so its chunks must already be stored."""
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for document, digest, root, chunks in entries:
            meta: dict[str, Any] = {name: getattr(document, name) for name in _DOC_FIELDS}
            meta.update(content_hash=digest, root=root, chunks=chunks)
            ts = published_ts(document.published_at)
            if ts is not None:
                meta["published_ts"] = ts
            ids.append(document.doc_id)
            texts.append(document.text)
            metadatas.append(meta)
        with self._write_lock:
            for begin in range(0, len(ids), self._batch):
                part = slice(begin, begin + self._batch)
                # Chroma needs a vector per record; the documents collection is never searched.
                self.documents.upsert(ids=ids[part], embeddings=[[1.0]] * len(ids[part]),
                                      documents=texts[part], metadatas=metadatas[part])

    def delete_chunks_except(self, keep: Mapping[str, Collection[str]]) -> int:
        """Delete every chunk of the documents in `keep` whose id is not listed for its
        document (older versions, and extra chunks a chunker change left behind)."""
        wanted = {chunk_id for ids in keep.values() for chunk_id in ids}
        doc_ids = sorted(keep)
        stale: list[str] = []
        for begin in range(0, len(doc_ids), 500):
            where = {"doc_id": {"$in": doc_ids[begin : begin + 500]}}
            stored = self.chunks.get(where=where, include=[])["ids"]
            # Chunk ids start with their document id, so one set serves every document.
            stale += [i for i in stored if i not in wanted]
        with self._write_lock:
            for begin in range(0, len(stale), self._batch):
                self.chunks.delete(ids=stale[begin : begin + self._batch])
        return len(stale)

    def delete_chunks(self, doc_id: str, *, except_hash: str | None = None) -> None:
        where: dict[str, Any] = {"doc_id": doc_id}
        if except_hash is not None:
            where = {"$and": [{"doc_id": doc_id}, {"content_hash": {"$ne": except_hash}}]}
        with self._write_lock:
            self.chunks.delete(where=where)

    def remove_document(self, doc_id: str) -> None:
        self.remove_documents([doc_id])

    def remove_documents(self, doc_ids: Sequence[str]) -> None:
        # Entries first: once they are gone the chunks are orphans nobody reads.
        ids = list(doc_ids)
        with self._write_lock:
            for begin in range(0, len(ids), 500):
                part = ids[begin : begin + 500]
                self.documents.delete(ids=part)
                self.chunks.delete(where={"doc_id": {"$in": part}})

    def sweep_orphans(self, *, force: bool = False) -> int:
        """Delete chunks that belong to no committed document version; returns how many.

        Unless forced, the scan of every chunk's metadata is skipped when the collection
        holds exactly the chunks the manifest lists, which is the case after any ingest
        that was not interrupted: a repeated ingest of an unchanged folder stays cheap."""
        manifest = self.manifest()
        if not force and self.chunk_count() == sum(e.chunks for e in manifest.values()):
            return 0
        live = {e.doc_id: e.content_hash for e in manifest.values()}
        orphans = [
            chunk_id
            for ids, metadatas in self._pages(self.chunks, include=["metadatas"])
            for chunk_id, meta in zip(ids, metadatas, strict=True)
            if live.get(str(meta.get("doc_id"))) != meta.get("content_hash")
        ]
        with self._write_lock:
            for begin in range(0, len(orphans), self._batch):
                self.chunks.delete(ids=orphans[begin : begin + self._batch])
        return len(orphans)

    def reset(self) -> None:
        with self._write_lock:
            for collection in (self.chunks, self.documents):
                ids = [i for page, _ in self._pages(collection, include=[]) for i in page]
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
            for _, metadatas in self._pages(self.chunks, include=["metadatas"])
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
        result = self.documents.get(ids=[doc_id], include=["metadatas", "documents"])
        if not result["ids"]:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        meta = result["metadatas"][0]
        return Document(doc_id=doc_id, text=result["documents"][0],
                        **{name: str(meta.get(name, "")) for name in _DOC_FIELDS})

    def documents_with_text(self, doc_ids: Sequence[str] | None = None
                            ) -> Iterable[tuple[Document, ManifestEntry]]:
        """Every stored document, or those among `doc_ids` (fetched by id, so the pages
        stay right while the caller rewrites the documents it is given)."""
        if doc_ids is None:
            pages = self._pages(self.documents, include=["metadatas", "documents"])
        else:
            pages = self._pages_by_id(self.documents, doc_ids,
                                      include=["metadatas", "documents"])
        for ids, metadatas, texts in pages:
            for doc_id, meta, text in zip(ids, metadatas, texts, strict=True):
                document = Document(doc_id=doc_id, text=text,
                                    **{name: str(meta.get(name, "")) for name in _DOC_FIELDS})
                entry = ManifestEntry(doc_id, str(meta["content_hash"]), str(meta.get("path", "")),
                                      str(meta.get("root", "")), int(meta.get("chunks", 0)))
                yield document, entry

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
              ) -> list[StoredChunk]:
        if n <= 0:
            return []
        try:
            result = self.chunks.query(
                query_embeddings=[vector], n_results=n, where=where or None,
                include=["distances", "documents", "metadatas"],
            )
        except Exception as exc:
            raise StoreError(f"vector search failed: {exc}") from exc
        return [
            StoredChunk(i, t, float(d), dict(m))
            for i, t, d, m in zip(result["ids"][0], result["documents"][0],
                                  result["distances"][0], result["metadatas"][0], strict=True)
        ]

    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        if not ids:
            return []
        result = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        found = {i: (t, m) for i, t, m in zip(result["ids"], result["documents"],
                                              result["metadatas"], strict=True)}
        return [StoredChunk(i, found[i][0], 0.0, dict(found[i][1])) for i in ids if i in found]

    def all_chunks(self, where: dict[str, Any] | None = None) -> Iterable[StoredChunk]:
        for ids, metadatas, texts in self._pages(self.chunks, include=["metadatas", "documents"],
                                                 where=where):
            for chunk_id, meta, text in zip(ids, metadatas, texts, strict=True):
                yield StoredChunk(chunk_id, text, 0.0, dict(meta))

    def _pages_by_id(self, collection: Any, ids: Sequence[str], *, include: list[str],
                     page: int = 500) -> Iterable[Any]:
        for begin in range(0, len(ids), page):
            result = collection.get(ids=list(ids[begin : begin + page]), include=include)
            if result["ids"]:
                yield (result["ids"], *(result[name] for name in include))

    def _pages(self, collection: Any, *, include: list[str],
               where: dict[str, Any] | None = None) -> Iterable[Any]:
        offset = 0
        page = 5000
        while True:
            result = collection.get(include=include, limit=page, offset=offset, where=where)
            ids = result["ids"]
            if not ids:
                return
            if include == []:
                yield ids, None
            elif len(include) == 1:
                yield ids, result[include[0]]
            else:
                yield (ids, *(result[name] for name in include))
            if len(ids) < page:
                return
            offset += page


def chunk_metadata(document: Document, chunk: Chunk, *, content_hash: str,
                   sentences: Sequence[tuple[int, int]]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": document.doc_id,
        "content_hash": content_hash,
        "start": chunk.start,
        "end": chunk.end,
        # Sentence spans inside this chunk, so answers need no re-segmentation.
        "sentences": json.dumps([[s, e] for s, e in sentences
                                 if s >= chunk.start and e <= chunk.end]),
    }
    for name in ("title", "source", "author", "published_at", "url", "category"):
        meta[name] = getattr(document, name)
    ts = published_ts(document.published_at)
    if ts is not None:
        meta["published_ts"] = ts
    return meta
