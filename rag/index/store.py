"""Chroma, used for everything that must be shared: chunk vectors and the documents.

Two collections per index: `<name>` holds chunks (vector, text, offsets, metadata)
in cosine space, and `<name>-documents` holds each document's full text and its
manifest entry (content hash, chunk count, the folder it was ingested from). Keeping
the documents in Chroma too means several workers sharing one Chroma server
(`RAG_CHROMA_URL`) see one consistent corpus, with nothing else to share.

A document's entry is written only after its chunks are stored; it is the commit
point of an ingest. Chunks whose document entry is missing or carries another
content hash are orphans: readers ignore them, the next writer sweeps them.

With the on-disk store, every process loads the vector index into memory; a write
bumps a token file next to it so that long-lived readers in other processes reload
(see `Store._refresh`). A Chroma server needs none of that.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.config import Settings
from rag.errors import (
    ConfigError,
    ConsistencyError,
    DocumentNotFoundError,
    RagError,
    StoreError,
)
from rag.schema import ARTICLE_FIELDS, PAGE_BREAK, Chunk, Document

# Chunk id → one vector per sentence of the chunk, as ingest computed them (a side
# index keeps them, so retrieval never re-embeds a sentence).
SentenceSink = Callable[[Mapping[str, np.ndarray]], None]

_DOC_FIELDS = (*ARTICLE_FIELDS, "path")
STORY = "story"
STORY_SHARED = "story_shared"
COPIES = "copies"


@dataclass(frozen=True)
class ManifestEntry:
    doc_id: str
    content_hash: str
    path: str
    root: str
    chunks: int
    url: str = ""
    # Other files holding exactly this text, indexed once, as this document.
    copies: tuple[str, ...] = ()
    identity: str = ""  # Document.identity; "" for entries written before it was kept
    # The story a near-duplicate of another article belongs to (rag.text.minhash), named
    # "<doc id>@<content hash>" after the document that started it; "" for entries
    # written before stories were kept.
    story: str = ""
    minhash: str = ""  # the text's MinHash signature, rag.text.minhash.encode
    numbers: tuple[str, ...] = ()  # the text's numbers, rag.text.minhash.numbers


@dataclass(frozen=True)
class StoryMark:
    """What a document's entry records of its story (rag.ingest.stories.Stories)."""

    story: str
    minhash: str
    numbers: tuple[str, ...]
    shared: bool = False  # the story has other documents
    newly_shared: tuple[str, ...] = ()  # its one other document, until now alone in it


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


GENERATION_FILE = "index.generation"
OPEN_LOCK_FILE = "store.open.lock"
# A chunk's text is kept in its metadata under this key, not as the Chroma record's
# document: writing it as a document costs almost twice as much (0.16 s against 0.09 s
# for the perf bench's 338 chunks), for a full-text index nothing here uses. Stores
# written before hold it as the document; reads take either (`stored_chunk`).
CHUNK_TEXT = "text"
# When a chunk was written (Unix seconds). Chunks land before their document's entry
# commits them; on a Chroma server, writers with other data directories hold no lock of
# ours, so an orphan younger than ORPHAN_GRACE_S may be another worker's ingest in
# progress, and the sweep leaves it for a later one (readers ignore orphans meanwhile).
WRITTEN_AT = "written_at"
ORPHAN_GRACE_S = 15 * 60
# Seconds. A batch upsert of a few thousand chunks takes a few seconds on a busy server.
HTTP_TIMEOUT = 120.0
HTTP_CONNECT_TIMEOUT = 10.0


@contextlib.contextmanager
def _chroma_errors(what: str) -> Iterator[None]:
    """Chroma's own exceptions (an unreachable server, a damaged file) as a `StoreError`,
    which callers catch like every other error rag raises on purpose."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:
        raise StoreError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def _http_session(client: Any) -> Any:
    return getattr(getattr(client, "_server", None), "_session", None)


def _forget_cached_client(settings: Settings) -> None:
    """Make the next `PersistentClient` for this path load from disk instead of sharing the
    cached in-memory one. chromadb keys its cache by path; the entry is private API, so if
    it ever moves this does nothing and readers merely stay stale."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(settings.home / "chroma"), None)
    except (ImportError, AttributeError):
        pass


def _entry(doc_id: str, meta: dict[str, Any]) -> ManifestEntry:
    return ManifestEntry(doc_id, str(meta["content_hash"]), str(meta.get("path", "")),
                         str(meta.get("root", "")), int(meta.get("chunks", 0)),
                         str(meta.get("url") or ""), _copies(meta),
                         str(meta.get("identity") or ""), str(meta.get(STORY) or ""),
                         str(meta.get("minhash") or ""),
                         tuple(json.loads(str(meta.get("numbers") or "[]"))))


def _copies(meta: Mapping[str, Any]) -> tuple[str, ...]:
    # A JSON list in one string: Chroma metadata values are scalars.
    raw = meta.get(COPIES)
    return tuple(json.loads(raw)) if isinstance(raw, str) and raw else ()


def make_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(f"RAG_CHROMA_URL is not a URL: {settings.chroma_url!r}")
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
        # chromadb's HTTP session never times out, so a hung server would hang every
        # question with it. The session is not public API; without it, no timeout is set.
        session = _http_session(client)
        if session is not None:
            import httpx

            session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=HTTP_CONNECT_TIMEOUT)
        return client
    settings.home.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.home / "chroma"), settings=chroma_settings)


@contextlib.contextmanager
def _opening(settings: Settings) -> Iterator[None]:
    """Hold the data directory's open lock: two processes creating a new on-disk store at
    once race on creating its SQLite tables, and the loser fails with "table collections
    already exists". Opening takes well under a second, so waiting is cheap; a Chroma
    server serialises this itself."""
    if settings.chroma_url:
        yield
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / OPEN_LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or its holder dies
        yield


class Store:
    def __init__(self, settings: Settings, *, embedder_name: str, dimension: int) -> None:
        self.settings = settings
        self._embedder_name = embedder_name
        self._dimension = dimension
        self._write_lock = threading.Lock()
        self._reopen_lock = threading.Lock()
        # Only an on-disk store needs this: a Chroma server is one index for everybody.
        self._generation_file = None if settings.chroma_url else settings.home / GENERATION_FILE
        self._generation = self._read_generation()
        with _opening(settings):
            self._open()

    def _open(self) -> None:
        client = make_client(self.settings)
        meta = {"embedder": self._embedder_name, "dimension": self._dimension}
        try:
            chunks = client.get_or_create_collection(
                self.settings.collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=meta,
                embedding_function=None,
            )
            documents = client.get_or_create_collection(
                f"{self.settings.collection}-documents", embedding_function=None
            )
            batch = int(client.get_max_batch_size())
        except Exception as exc:
            raise StoreError(f"cannot open the vector store: {exc}") from exc
        stored = chunks.metadata or {}
        if stored.get("embedder") not in (None, self._embedder_name):
            raise ConfigError(
                f"collection {self.settings.collection!r} was built with "
                f"{stored['embedder']!r}, not {self._embedder_name!r}: use another collection "
                "or re-ingest into an empty one"
            )
        self._client, self.chunks, self.documents, self._batch = client, chunks, documents, batch

    def close(self) -> None:
        """Close the connections to a Chroma server. (An on-disk store has nothing to close
        that is its own: chromadb shares one client per path within a process.)"""
        session = _http_session(self._client) if self.settings.chroma_url else None
        if session is not None:
            session.close()

    # -- seeing other processes' writes ---------------------------------------
    #
    # An on-disk Chroma client loads the vector index into memory once and never looks at
    # the disk again, so a long-lived reader (the UI) would go on searching the index as
    # it was when it started, and hit ids that another process's ingest has since deleted.
    # Every write here therefore bumps a token in a file next to the store; a search that
    # finds the token changed by someone else first reopens the store from disk.

    def sync(self) -> None:
        """Reload what other processes wrote, if anything (cheap when nothing changed)."""
        self._refresh()

    def generation(self) -> str:
        """A token that changes with every write to this on-disk store, by any process
        (a few microseconds to read); "" for a Chroma server, where it is not tracked.
        Derived indexes (the BM25 side index) compare it to know when to rebuild."""
        return self._read_generation()

    def _read_generation(self) -> str:
        if self._generation_file is None:
            return ""
        try:
            return self._generation_file.read_text(encoding="utf-8")
        except OSError:
            return ""

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """One write: under the write lock, Chroma's failures as `StoreError`, and the
        generation bumped even after a failure, since a part of it may have landed."""
        with self._write_lock:
            try:
                with _chroma_errors(what):
                    yield
            finally:
                self._bump_generation()

    def _bump_generation(self) -> None:
        """Call with the write lock held, after a write."""
        if self._generation_file is None:
            return
        token = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}"
        temporary = self._generation_file.with_name(
            f".{GENERATION_FILE}.{os.getpid()}.{threading.get_ident()}")
        try:
            temporary.write_text(token, encoding="utf-8")
            os.replace(temporary, self._generation_file)
        except OSError:
            return  # readers elsewhere stay stale until the next write; nothing is lost
        self._generation = token

    def _refresh(self) -> None:
        if self._generation_file is None:
            return
        token = self._read_generation()
        if token == self._generation:
            return
        with self._reopen_lock:
            if token == self._generation:
                return
            _forget_cached_client(self.settings)
            self._open()
            self._generation = token

    # -- manifest ---------------------------------------------------------

    def manifest(self) -> dict[str, ManifestEntry]:
        return {doc_id: _entry(doc_id, meta) for doc_id, meta in self._document_metadata()}

    def document_rows(self) -> list[dict[str, Any]]:
        """Every document's metadata and chunk count, without reading its text."""
        rows: list[dict[str, Any]] = [{**{name: str(meta.get(name, "")) for name in _DOC_FIELDS},
                 "doc_id": doc_id, "chunks": int(meta.get("chunks", 0)),
                 "copies": list(_copies(meta)), STORY: str(meta.get(STORY) or doc_id)}
                for doc_id, meta in self._document_metadata()]
        members: dict[str, list[str]] = {}
        for row in rows:
            members.setdefault(row[STORY], []).append(row["doc_id"])
        for row in rows:  # the other documents of its story, in listing order
            row["story_mates"] = [d for d in members[row[STORY]] if d != row["doc_id"]]
        return rows

    def _document_metadata(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for ids, metadatas in self._pages(self.documents, include=["metadatas"]):
            yield from zip(ids, metadatas, strict=True)

    def live_hashes(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of each committed document among `doc_ids`."""
        ids = sorted(set(doc_ids))
        if not ids:
            return {}
        with _chroma_errors("reading document versions"):
            result = self.documents.get(ids=ids, include=["metadatas"])
        return {i: str(m["content_hash"]) for i, m in zip(result["ids"], result["metadatas"],
                                                          strict=True)}

    def mark_story_shared(self, doc_ids: Sequence[str]) -> None:
        """Mark the chunks of documents whose story a copy has just joined."""
        if not doc_ids:
            return
        with _chroma_errors("listing chunks of shared stories"):
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
        with _chroma_errors("reading stories"):
            result = self.documents.get(where={STORY: {"$in": wanted}}, include=["metadatas"])
        out: dict[str, list[dict[str, str]]] = {}
        for doc_id, meta in sorted(zip(result["ids"], result["metadatas"], strict=True)):
            out.setdefault(str(meta[STORY]), []).append(
                {"doc_id": doc_id, **{k: str(meta.get(k, "")) for k in
                                      ("title", "source", "published_at", "path")}})
        return out

    def chunk_ids(self) -> list[str]:
        """Every chunk id; ids only, so checking an index's freshness stays cheap."""
        return [i for ids, _ in self._pages(self.chunks, include=[]) for i in ids]

    def document_count(self) -> int:
        with _chroma_errors("counting documents"):
            return int(self.documents.count())

    def chunk_count(self) -> int:
        with _chroma_errors("counting chunks"):
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
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for document, digest, root, chunks in entries:
            meta: dict[str, Any] = {name: getattr(document, name) for name in _DOC_FIELDS}
            # A new version is nobody's copy yet: files that matched the old text are
            # re-read by the ingest that wrote it (rag.ingest.pipeline).
            meta.update(content_hash=digest, root=root, chunks=chunks,
                        identity=document.identity, **{COPIES: ""})
            mark = (stories or {}).get(document.doc_id)
            meta.update({STORY: mark.story if mark else document.doc_id,
                         "minhash": mark.minhash if mark else "",
                         "numbers": json.dumps(list(mark.numbers) if mark else [])})
            ts = published_ts(document.published_at)
            if ts is not None:
                meta["published_ts"] = ts
            ids.append(document.doc_id)
            texts.append(document.text)
            metadatas.append(meta)
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
            with _chroma_errors("listing a document's chunks"):
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
            for ids, metadatas in self._pages(self.chunks, include=["metadatas"])
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
        with _chroma_errors("reading a document"):
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
                yield document, _entry(doc_id, meta)

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
        with _chroma_errors("reading chunks"):
            result = self.chunks.get(ids=list(ids), where=where or None,
                                     include=["documents", "metadatas"])
        found = {i: stored_chunk(i, t, 0.0, m) for i, t, m in zip(
            result["ids"], result["documents"], result["metadatas"], strict=True)}
        return [chunk for chunk in map(found.get, ids) if chunk is not None]

    def all_chunks(self, where: dict[str, Any] | None = None) -> Iterable[StoredChunk]:
        for ids, metadatas, texts in self._pages(self.chunks, include=["metadatas", "documents"],
                                                 where=where):
            for chunk_id, meta, text in zip(ids, metadatas, texts, strict=True):
                chunk = stored_chunk(chunk_id, text, 0.0, meta)
                if chunk is not None:
                    yield chunk

    def _pages_by_id(self, collection: Any, ids: Sequence[str], *, include: list[str],
                     page: int = 500) -> Iterable[Any]:
        for begin in range(0, len(ids), page):
            with _chroma_errors("reading the store"):
                result = collection.get(ids=list(ids[begin : begin + page]), include=include)
            if result["ids"]:
                yield (result["ids"], *(result[name] for name in include))

    def _pages(self, collection: Any, *, include: list[str],
               where: dict[str, Any] | None = None) -> Iterable[Any]:
        offset = 0
        page = 5000
        while True:
            with _chroma_errors("reading the store"):
                result = collection.get(include=include, limit=page, offset=offset,
                                        where=where)
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


def stored_chunk(chunk_id: str, document: str | None, distance: float,
                 metadata: Mapping[str, Any] | None) -> StoredChunk | None:
    """A chunk as Chroma returned it (its text in its metadata, or as the record's
    document in stores written before), or None if it came back empty (deleted)."""
    if metadata is None:
        return None
    meta = dict(metadata)
    text = meta.pop(CHUNK_TEXT, None)
    text = document if text is None else str(text)
    return None if text is None else StoredChunk(chunk_id, text, distance, meta)


def sentences_in_chunk(text: str, start: int, sentences: Iterable[Sequence[int]]
                       ) -> list[tuple[int, int]]:
    """The non-blank sentences among `sentences` (document spans) lying inside the chunk
    `text` that starts at `start`, as spans into `text`."""
    end = start + len(text)
    inside = [(int(s) - start, int(e) - start) for s, e in sentences
              if int(s) >= start and int(e) <= end]
    return [(s, e) for s, e in inside if text[s:e].strip()]


def chunk_metadata(document: Document, chunk: Chunk, *, content_hash: str,
                   sentences: Sequence[tuple[int, int]],
                   instructions: Sequence[tuple[int, int]] = (),
                   story: str = "", story_shared: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": document.doc_id,
        # Retrieval keeps one passage per story (near-duplicate articles), and looks up
        # the story's other documents only where it has some.
        STORY: story or document.doc_id,
        STORY_SHARED: story_shared,
        "content_hash": content_hash,
        "start": chunk.start,
        "end": chunk.end,
        # Sentence spans inside this chunk, so answers need no re-segmentation.
        "sentences": json.dumps([[s, e] for s, e in sentences
                                 if s >= chunk.start and e <= chunk.end]),
        # Text addressed to a model, as found in the whole document at ingest, clipped
        # to the chunk: answering reads it here instead of searching every passage again.
        "instructions": json.dumps([[max(s, chunk.start), min(e, chunk.end)]
                                    for s, e in instructions
                                    if s < chunk.end and chunk.start < e]),
    }
    if PAGE_BREAK in document.text:  # a document with pages: the page the chunk starts on
        meta["page"] = document.text.count(PAGE_BREAK, 0, chunk.start) + 1
    for name in ARTICLE_FIELDS:
        meta[name] = getattr(document, name)
    ts = published_ts(document.published_at)
    if ts is not None:
        meta["published_ts"] = ts
    return meta
