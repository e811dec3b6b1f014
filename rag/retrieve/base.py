"""The retriever family: question → ranked passages, metadata filters pushed down.

`Retriever` is the one base (llama-index's `BaseRetriever` pattern): its public
`retrieve()` validates `k` and the filters once and hands the implementation a Chroma
`where` clause through `_retrieve()`. Implementations: `rag.retrieve.dense` (Chroma
alone, also the benchmark's baseline) and `rag.retrieve.hybrid` (BM25 + dense + rerank);
`rag.retrieve.factory.make_retriever` picks one from the settings.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from rag.config import MAX_K
from rag.errors import InvalidArgumentError
from rag.index.records import SentenceSink, StoredChunk, published_ts
from rag.index.store import Store
from rag.retrieve.question_time import asks_current_state
from rag.schema import Passage

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
        instructions=(tuple((int(s), int(e)) for s, e in json.loads(str(meta["instructions"])))
                      if "instructions" in meta else None),
        story=str(meta.get("story") or meta["doc_id"]),
        page=int(meta["page"]) if meta.get("page") is not None else None,
        story_shared=bool(meta.get("story_shared", False)),
    )


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


def as_stored_now(store: Store, passages: Sequence[Passage],
                  filters: Mapping[str, Any] | None) -> list[Passage]:
    """Passages an earlier answer used, re-read from the store: those of a document
    deleted or replaced since, or outside `filters`, are dropped, so a quote always
    comes from the document as it is now."""
    if not passages:
        return []
    chunks = store.get_chunks([p.chunk_id for p in passages], build_where(filters))
    score = {p.chunk_id: p.score for p in passages}
    return live_passages(store, [(c, score[c.chunk_id]) for c in chunks])


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")


# How many times k a retriever is asked for when copies of one story took places.
STORY_OVERFETCH = 4


def one_per_story(passages: Sequence[Passage], k: int, *, newest: bool = False
                  ) -> list[Passage]:
    """The first passage of each story, in rank order, at most `k`; passages of one
    document are kept (they are different parts of it, not copies). With `newest`, a
    story speaks through its most recently published document among `passages`: an
    update replaces the version it corrects."""
    kept: list[Passage] = []
    owner: dict[str, str] = {}
    if newest:
        latest: dict[str, Passage] = {}
        for passage in passages:
            key = passage.story or passage.doc_id
            if key not in latest or _published_key(passage) > _published_key(latest[key]):
                latest[key] = passage
        owner = {key: passage.doc_id for key, passage in latest.items()}
    for passage in passages:
        first = owner.setdefault(passage.story or passage.doc_id, passage.doc_id)
        if first == passage.doc_id:
            kept.append(passage)
        if len(kept) == k:
            break
    return kept


def _published_key(passage: Passage) -> int:
    ts = published_ts(passage.published_at)
    return -1 if ts is None else ts


class Retriever(ABC):
    store: Store

    def retrieve(self, question: str, k: int, filters: Mapping[str, Any] | None = None
                 ) -> list[Passage]:
        """The `k` best passages for `question` among the chunks `filters` admits, one
        per story: near-duplicate articles (`rag.ingest.stories.Stories`) are one source,
        shown once, its other outlets in `Passage.also_in`."""
        check_k(k)
        where = build_where(filters)
        # "What is the latest on …" is asked of a story's newest version.
        newest = asks_current_state(question)
        # Copies took places: look further down, at most twice (each look reranks the
        # candidates again), until k stories or nothing more.
        for fetch in sorted({k, k * STORY_OVERFETCH, MAX_K * STORY_OVERFETCH}):
            found = self._retrieve(question, fetch, where)
            passages = one_per_story(found, k, newest=newest)
            if len(passages) == k or len(found) < fetch:
                break
        return self._with_other_outlets(passages)

    def _with_other_outlets(self, passages: list[Passage]) -> list[Passage]:
        # Only stories with other documents are looked up (a metadata query: ≈12 ms at
        # 100,000 documents, against none for the rest).
        shared = [p for p in passages if p.story_shared]
        if not shared:
            return passages
        members = self.store.story_members(p.story for p in shared)
        for passage in shared:
            passage.also_in = [m for m in members.get(passage.story, [])
                               if m["doc_id"] != passage.doc_id]
        return passages

    @abstractmethod
    def _retrieve(self, question: str, k: int, where: dict[str, Any] | None
                  ) -> list[Passage]: ...

    @abstractmethod
    def refresh(self) -> None:
        """Catch up with the store after an ingest, delete or reindex."""

    def sentence_sink(self) -> SentenceSink | None:
        """Where ingest hands the sentence vectors it gets from the chunks' own model pass,
        for the next `refresh`; None when this retriever has no use for them."""
        return None
