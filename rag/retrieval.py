"""Retrieval: question → ranked passages, with metadata filters pushed down to Chroma.

`make_retriever` picks the hybrid retriever (rag/hybrid.py: BM25 + dense + rerank) or the
dense one below, which is also the benchmark's baseline.

Chroma is queried directly rather than through llama-index's `VectorIndexRetriever`:
we already hold the query vector and need the raw metadata (offsets, sentence spans,
content hash) back, and skipping the node conversion saves several milliseconds a
query at 100k chunks without losing anything llama-index would add here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np

from rag.config import MAX_K, Settings
from rag.embeddings import Embedder
from rag.errors import InvalidArgumentError
from rag.schema import Passage
from rag.store import Store, StoredChunk, published_ts

FILTER_KEYS = frozenset({"source", "published_after", "published_before"})


def build_where(filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Chroma `where` clause for `filters` (source: str or list; published_after/before:
    ISO date or datetime, inclusive)."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise InvalidArgumentError(
            f"filters must be a mapping like {{'source': ['Reuters']}}, got {filters!r}")
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise InvalidArgumentError(
            f"unknown filter(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(FILTER_KEYS))}"
        )
    clauses: list[dict[str, Any]] = []
    sources = filters.get("source")
    if sources:
        names = [sources] if isinstance(sources, str) else sources
        if not isinstance(names, list | tuple | set | frozenset) or not all(
                isinstance(n, str) for n in names):
            raise InvalidArgumentError(
                f"the source filter must be an outlet name or a list of them, got {sources!r}")
        clauses.append({"source": {"$in": list(names)}})
    for key, operator, end_of_day in (
        ("published_after", "$gte", False),
        ("published_before", "$lte", True),
    ):
        value = filters.get(key)
        if value:
            clauses.append({"published_ts": {operator: _timestamp(key, value, end_of_day)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _timestamp(key: str, value: Any, end_of_day: bool) -> int:
    if isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    ts = published_ts(text)
    if ts is None:
        raise InvalidArgumentError(f"{key} must be an ISO date like 2023-11-24, got {value!r}")
    # A bare date (in any ISO form: 2023-11-24, 20231124, 2023-W47-5) as an upper bound
    # means "through the end of that day".
    if end_of_day and not isinstance(value, datetime) and _is_bare_date(text):
        ts += 86399
    return ts


def _is_bare_date(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def to_passage(hit: StoredChunk, score: float) -> Passage:
    meta = hit.metadata
    return Passage(
        doc_id=str(meta["doc_id"]),
        text=hit.text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=score,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        published_at=str(meta.get("published_at", "")),
        url=str(meta.get("url", "")),
        chunk_id=hit.chunk_id,
        sentences=[(int(s), int(e)) for s, e in json.loads(str(meta.get("sentences", "[]")))],
    )


# Chunk id → one vector per sentence of the chunk, as ingest computed them.
SentenceSink = Callable[[Mapping[str, np.ndarray]], None]


class Retriever(Protocol):
    def retrieve(self, question: str, k: int, filters: Mapping[str, Any] | None = None
                 ) -> list[Passage]: ...

    def refresh(self) -> None:
        """Catch up with the store after an ingest, delete or reindex."""
        ...

    def sentence_sink(self) -> SentenceSink | None:
        """Where ingest hands the sentence vectors it gets from the chunks' own model pass,
        for the next `refresh`; None when this retriever has no use for them."""
        ...


def make_retriever(settings: Settings, store: Store, embedder: Embedder) -> Retriever:
    """Hybrid retrieval (`RAG_HYBRID`, on by default) or the dense baseline. The hybrid
    side index lives under the data directory, one per collection."""
    if not settings.hybrid:
        return DenseRetriever(store, embedder)
    from rag.hybrid import HybridRetriever

    return HybridRetriever(store, embedder, settings.home / "bm25" / settings.collection)


class DenseRetriever:
    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def refresh(self) -> None:
        """Nothing to catch up: Chroma is the whole index."""

    def sentence_sink(self) -> SentenceSink | None:
        return None

    def retrieve(self, question: str, k: int, filters: Mapping[str, Any] | None = None
                 ) -> list[Passage]:
        check_k(k)
        where = build_where(filters)
        vector = self.embedder.embed_query(question)
        # Over-fetch a little: orphans of an interrupted ingest are dropped below, and
        # should more than a few rank this high, the search goes deeper.
        wanted = k + 4
        while True:
            hits = self.store.query(vector, wanted, where)
            passages = live_passages(self.store, [(h, 1.0 - h.distance) for h in hits])
            if len(passages) >= k or len(hits) < wanted:
                return passages[:k]
            wanted *= 4


def live_passages(store: Store, scored: Sequence[tuple[StoredChunk, float]],
                  live: Mapping[str, str] | None = None) -> list[Passage]:
    """Passages whose chunk belongs to the committed version of its document. `live`:
    the committed content hashes already read for some of the documents."""
    known = dict(live or {})
    doc_ids = {str(h.metadata["doc_id"]) for h, _ in scored}
    if not doc_ids <= known.keys():
        known.update(store.live_hashes(doc_ids - known.keys()))
    live = known
    return [to_passage(h, score) for h, score in scored
            if live.get(str(h.metadata["doc_id"])) == h.metadata.get("content_hash")]


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
