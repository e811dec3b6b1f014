"""Reaching Chroma: the embedded `PersistentClient` under `$RAG_HOME/chroma`, or an
`HttpClient` to the server `RAG_CHROMA_URL` names, with a timeout; opening the index's
two collections (an on-disk store under a lock); Chroma's own failures as `StoreError`;
a collection read in pages.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from rag.config import Settings
from rag.errors import ConfigError, RagError, StoreError

OPEN_LOCK_FILE = "store.open.lock"
# Seconds. A batch upsert of a few thousand chunks takes a few seconds on a busy server.
HTTP_TIMEOUT = 120.0
HTTP_CONNECT_TIMEOUT = 10.0


@contextlib.contextmanager
def chroma_errors(what: str) -> Iterator[None]:
    """Chroma's own exceptions (an unreachable server, a damaged file) as a `StoreError`,
    which callers catch like every other error rag raises on purpose."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:
        raise StoreError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def http_session(client: Any) -> Any:
    return getattr(getattr(client, "_server", None), "_session", None)


def forget_cached_client(settings: Settings) -> None:
    """Make the next `PersistentClient` for this path load from disk instead of sharing the
    cached in-memory one. chromadb keys its cache by path; the entry is private API, so if
    it ever moves this does nothing and readers merely stay stale."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(settings.home / "chroma"), None)
    except (ImportError, AttributeError):
        pass


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
        session = http_session(client)
        if session is not None:
            import httpx

            session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=HTTP_CONNECT_TIMEOUT)
        return client
    settings.home.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.home / "chroma"), settings=chroma_settings)


def open_collections(client: Any, collection: str, embedder_name: str, dimension: int
                     ) -> tuple[Any, Any, int]:
    """The index's two collections, `<collection>` (chunks, in cosine space) and
    `<collection>-documents`, created if new, and the client's largest batch. A
    collection built with another embedder is a `ConfigError`."""
    meta = {"embedder": embedder_name, "dimension": dimension}
    try:
        chunks = client.get_or_create_collection(
            collection,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=meta,
            embedding_function=None,
        )
        documents = client.get_or_create_collection(
            f"{collection}-documents", embedding_function=None
        )
        batch = int(client.get_max_batch_size())
    except Exception as exc:
        raise StoreError(f"cannot open the vector store: {exc}") from exc
    stored = chunks.metadata or {}
    if stored.get("embedder") not in (None, embedder_name):
        raise ConfigError(
            f"collection {collection!r} was built with "
            f"{stored['embedder']!r}, not {embedder_name!r}: use another collection "
            "or re-ingest into an empty one"
        )
    return chunks, documents, batch


@contextlib.contextmanager
def opening(settings: Settings) -> Iterator[None]:
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


def pages_by_id(collection: Any, ids: Sequence[str], *, include: list[str],
                page: int = 500) -> Iterable[Any]:
    """(ids, *the `include` fields) of the records among `ids`, `page` ids a request."""
    for begin in range(0, len(ids), page):
        with chroma_errors("reading the store"):
            result = collection.get(ids=list(ids[begin : begin + page]), include=include)
        if result["ids"]:
            yield (result["ids"], *(result[name] for name in include))


def pages(collection: Any, *, include: list[str],
          where: dict[str, Any] | None = None) -> Iterable[Any]:
    """Every record of `collection` (matching `where`), 5000 a request: (ids, None) when
    `include` is empty, else (ids, *the `include` fields)."""
    offset = 0
    page = 5000
    while True:
        with chroma_errors("reading the store"):
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
