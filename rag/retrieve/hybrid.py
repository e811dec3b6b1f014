"""Hybrid retrieval: dense (Chroma) and lexical (BM25 via bm25s) rankings fused by
reciprocal rank fusion, soft outlet/date boosts, an offline rerank, and per-part quotas
for questions that compare or chain several reports.

Why each piece is here:

- Dense vectors from a small model blur names and numbers ("Tyreek Hill", "$26.3
  billion"); BM25 matches them exactly. Rank fusion needs no calibration between them.
- News questions name their outlet and date ("the report from 'The Verge' on
  2023-11-24"). Those add rankings restricted to the outlet and a score boost, never a
  filter: a misread outlet costs some ranking quality, no recall.
- A long question that lists several facts matches each evidence sentence with one of
  its clauses only, so the rerank scores a chunk by its best sentence against the whole
  question and against each clause, plus exact names and numbers.
- A question comparing two reports needs evidence from both; each part of it (per
  outlet, per date, or per clause) gets its best chunk into the top k by quota.

The BM25 ranking, the chunks' metadata and their sentence vectors come from the index
beside Chroma (`rag.index.side_index.SideIndex`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.index.embeddings import Embedder
from rag.index.records import SentenceSink, published_ts
from rag.index.side_index import SideIndex, fingerprint, stored_vectors, tokenize, vector_kind
from rag.index.store import Store
from rag.retrieve.base import Retriever, live_passages
from rag.retrieve.query_analysis import OutletMatcher, QueryAnalysis, analyse
from rag.retrieve.question_time import resolve_events, time_fit, without_bounds
from rag.schema import Passage

logger = logging.getLogger(__name__)

# -- fusion ----------------------------------------------------------------------------


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None,
        k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: Σ weight / (k + rank), ranks counted from 1."""
    fused: dict[str, float] = {}
    weights = weights if weights is not None else [1.0] * len(rankings)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return fused


@dataclass(frozen=True)
class HybridConfig:
    """Ranking weights. The signal weights were set by a coordinate search over the
    MultiHop-RAG benchmark's odd-numbered queries and checked on the even-numbered ones
    (evals/results/retrieval.md); the part weights by the unit tests. Scale: rank 1 of
    one ranking at weight 1 adds 1/61 ≈ 0.016."""

    candidates: int = 50
    rrf_k: int = 60
    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    outlet_dense_weight: float = 0.5
    outlet_lexical_weight: float = 1.0
    outlet_boost: float = 0.0075
    date_boost: float = 0.045
    rerank: bool = True
    sentence_weight: float = 0.04
    clause_weight: float = 0.04
    entity_weight: float = 0.02
    decompose: bool = True
    max_parts: int = 4
    part_quota: int = 1
    part_clause_weight: float = 0.05
    # Within a part its outlet is the anchor ("the report from 'Wired'"), so it weighs
    # more than in the whole question; it only decides which chunk fills the part's quota.
    part_outlet_boost: float = 0.05
    # Sentence vectors make the rerank sentence-level; without them it uses chunk vectors.
    sentence_vectors: bool = True


@dataclass
class _Candidates:
    ids: list[str]
    base: np.ndarray
    clause_sims: np.ndarray  # candidates × clauses
    sources: list[str]
    published: list[int | None]


class HybridRetriever(Retriever):
    def __init__(self, store: Store, embedder: Embedder, index_dir: Path,
                 config: HybridConfig | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.config = config or HybridConfig()
        self._lock = threading.Lock()
        self._index: SideIndex | None = None
        self._matcher = OutletMatcher(())
        self._stamp: tuple[str, int] | None = None
        self.last_refresh_ms = 0.0
        # Sentence vectors ingest handed over (`sentence_sink`) for the next refresh. A
        # lock of their own: ingest must not wait for a refresh a question started.
        self._pending: dict[str, np.ndarray] = {}
        self._pending_lock = threading.Lock()
        self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-retrieval")

    def with_config(self, **changes: Any) -> HybridRetriever:
        """Another retriever over the same index (for comparisons): no second build."""
        other = HybridRetriever(self.store, self.embedder, self.index_dir,
                                replace(self.config, **changes))
        other._index, other._matcher, other._stamp = self._index, self._matcher, self._stamp
        return other

    # -- index upkeep -------------------------------------------------------------

    def sentence_sink(self) -> SentenceSink | None:
        return self._remember if self.config.sentence_vectors else None

    def _remember(self, vectors: Mapping[str, np.ndarray]) -> None:
        # float16, as the index keeps them: an ingest's worth waits here for the refresh.
        blocks = {chunk_id: np.asarray(v, dtype=np.float16) for chunk_id, v in vectors.items()}
        with self._pending_lock:
            self._pending.update(blocks)

    def refresh(self) -> None:
        """Bring the side index in line with the chunk collection; call after every
        ingest, delete or reindex. Cheap when nothing changed."""
        started = time.perf_counter()
        sentences = self.config.sentence_vectors
        kind = vector_kind(self.embedder, sentences)
        with self._lock:
            # Taken before listing: a write after this point changes it, so the next
            # question refreshes again instead of trusting this listing.
            stamp = self._current_stamp()
            current = self.store.chunk_ids()
            wanted = fingerprint(current)
            index = self._index if self._index is not None and self._index.kind == kind else None
            with self._pending_lock:
                known = dict(self._pending)
            if index is None or index.fingerprint != wanted:
                loaded = SideIndex.load(self.index_dir)
                if loaded is not None and loaded.kind != kind:
                    loaded = None
                if loaded is not None and loaded.fingerprint == wanted:
                    index = loaded
                else:
                    base = index or loaded
                    index = (base.updated(self.store, current, self.embedder, sentences, known)
                             if base is not None
                             else SideIndex.build(self.store, self.store.all_chunks(),
                                                  self.embedder, sentences, known))
                    try:
                        index.save(self.index_dir)
                    except OSError as exc:
                        # A full disk or read-only home costs the next process a rebuild;
                        # failing here would fail every question.
                        logger.warning("could not save the retrieval index to %s: %s",
                                       self.index_dir, exc)
                self._index = index
                self._matcher = OutletMatcher(index.sources)
            with self._pending_lock:
                # Indexed now, or deleted before it could be: either way not needed again.
                for chunk_id in known:
                    self._pending.pop(chunk_id, None)
            self._stamp = stamp
        self.last_refresh_ms = (time.perf_counter() - started) * 1000

    def _ensure_index(self) -> SideIndex:
        index = self._index
        if index is None or self._current_stamp() != self._stamp:
            self.refresh()
            index = self._index
        assert index is not None
        return index

    def _current_stamp(self) -> tuple[str, int]:
        """What changes when any process writes: the store's generation token (an on-disk
        store bumps it on every write) and the chunk count (all a Chroma server offers; a
        replacement that keeps the count waits for the next refresh there, its stale rows
        dropped by `live_passages` meanwhile)."""
        self.store.sync()
        generation = self.store.generation()
        if generation:
            # The token already changes with every write; counting is a Chroma round
            # trip (~5 ms at 100k chunks) on every question.
            return generation, -1
        return generation, self.store.chunk_count()

    # -- retrieval ----------------------------------------------------------------

    def analyse(self, question: str) -> QueryAnalysis:
        self._ensure_index()
        return analyse(question, self._matcher)

    def _retrieve(self, question: str, k: int, where: dict[str, Any] | None
                  ) -> list[Passage]:
        index = self._ensure_index()
        # "Before the ceasefire": a bound only the corpus can date, so it is read here;
        # the rest of the question is what is searched for.
        events = resolve_events(question, index)
        topic = without_bounds(question, [(e.start, e.end) for e in events]) if events \
            else question
        analysis = analyse(topic, self._matcher)
        analysis.dates.extend(events)
        question_vector, clause_vectors = self._vectors(topic, analysis)
        candidates = self._candidates(index, analysis, question_vector, clause_vectors, where)
        if not candidates.ids:
            return []
        order = self._select(analysis, candidates, k)
        score = dict(zip(candidates.ids, candidates.base.tolist(), strict=True))
        passages: list[Passage] = []
        read = 0
        # Only as many chunks are read as passages are missing (Chroma's reads cost
        # ≈0.13 ms per id at 100k chunks): the first k, unless some of them are orphans of
        # an interrupted write or deleted meanwhile, whose places the next ones take, as
        # far down the candidates as it needs.
        while len(passages) < k and read < len(order):
            wanted = order[read : read + k - len(passages)]
            read += len(wanted)
            # The documents' committed versions are read beside the chunks, not after
            # them: the index knows which document each chunk belongs to.
            doc_ids = {index.rows.infos[r].doc_id for r in map(index.row.get, wanted)
                       if r is not None}
            live = self._workers.submit(self.store.live_hashes, doc_ids)
            chunks = {c.chunk_id: c for c in self.store.get_chunks(wanted)}
            scored = [(chunks[i], float(score[i])) for i in wanted if i in chunks]
            passages += live_passages(self.store, scored, live.result())
        passages = passages[:k]
        if events:  # the answerer, which has no index, reads the dated bounds from here
            fits = time_fit(question, [published_ts(p.published_at) for p in passages],
                            events=events)
            for passage, fit in zip(passages, fits, strict=True):
                passage.time_fit = fit
        return passages

    def _vectors(self, question: str, analysis: QueryAnalysis) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector and one vector per clause (a one-clause question is its
        own clause). A question of several clauses costs one model pass, over its clauses
        (one batch pads every row to its longest text, and clauses are of a length): their
        normalised mean stands for the whole question. On MultiHop-RAG that ranks as well
        as embedding the question too (all-evidence@10 0.854 against 0.851, MRR@10 0.924
        against 0.922) and takes the second pass, ≈7 ms, out of every such question."""
        texts = [c.text for c in analysis.clauses] if self.config.rerank else []
        if len(texts) < 2:
            question_vector = self.embedder.embed_query(question)
            return question_vector, question_vector[None, :]
        clause_vectors = self.embedder.embed(texts)
        mean = clause_vectors.mean(axis=0)
        return mean / np.linalg.norm(mean), clause_vectors

    def _candidates(self, index: SideIndex, analysis: QueryAnalysis, question_vector: np.ndarray,
                    clause_vectors: np.ndarray, where: dict[str, Any] | None) -> _Candidates:
        config = self.config
        n = config.candidates
        rankings: list[list[str]] = []
        weights: list[float] = []
        sources = analysis.sources
        # With an outlet named and no filter, one wider search serves both the dense
        # ranking (its head) and the outlet's ranking (its members further down).
        reach = n * OUTLET_OVERFETCH if sources and not where else n
        wide = _nearest(self.store, question_vector, reach, where)
        dense = wide[:n]
        similarity = dict(dense)
        rankings.append([chunk_id for chunk_id, _ in dense])
        weights.append(config.dense_weight)
        lexical = index.scores(tokenize(analysis.question))
        base_mask = index.mask(where)
        if len(lexical):
            rankings.append(index.top(lexical, n, base_mask))
            weights.append(config.lexical_weight)
        if sources:
            mask = index.source_mask(sources)
            inside = _nearest_within(self.store, index, question_vector, n, where, mask, wide)
            similarity.update(inside)
            rankings.append([chunk_id for chunk_id, _ in inside])
            weights.append(config.outlet_dense_weight)
            if len(lexical):
                rankings.append(index.top(lexical, n, mask if base_mask is None
                                          else mask & base_mask))
                weights.append(config.outlet_lexical_weight)
        fused = rrf(rankings, weights, config.rrf_k)
        ids = list(fused)
        rows = [index.row.get(i) for i in ids]
        base = np.array([fused[i] for i in ids], dtype=np.float64)
        infos = [index.rows.infos[r] if r is not None else None for r in rows]
        chunk_sources = [i.source if i else "" for i in infos]
        published = [i.published_ts if i else None for i in infos]
        if sources:
            base += config.outlet_boost * np.array([s in sources for s in chunk_sources])
        if analysis.dates:
            base += config.date_boost * np.array(
                [max(d.score(ts) for d in analysis.dates) for ts in published])
        clause_sims = np.zeros((len(ids), len(clause_vectors)))
        if config.rerank:
            sentence_sims, clause_sims = self._similarities(
                index, ids, rows, question_vector, clause_vectors, similarity)
            base += config.sentence_weight * sentence_sims
            base += config.clause_weight * clause_sims.max(axis=1)
            base += config.entity_weight * _entity_matches(index, analysis.entities, rows)
        return _Candidates(ids, base, clause_sims, chunk_sources, published)

    def _similarities(self, index: SideIndex, ids: list[str], rows: list[int | None],
                      question_vector: np.ndarray, clause_vectors: np.ndarray,
                      similarity: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: its best vector (sentence, or the chunk itself) against the
        question and against each clause. Chunks the index does not hold yet (written
        since the last refresh) are looked up in Chroma."""
        sentence = np.zeros(len(ids))
        clauses = np.zeros((len(ids), len(clause_vectors)))
        missing = [n for n, r in enumerate(rows)
                   if r is None or not len(index.sentence_vectors(r))]
        skipped = set(missing)
        present = [n for n in range(len(ids)) if n not in skipped]
        if present:
            blocks = [index.sentence_vectors(r) for r in (rows[n] for n in present)
                      if r is not None]
            starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
            matrix = np.concatenate(blocks).astype(np.float32)
            sentence[present] = np.maximum.reduceat(matrix @ question_vector, starts)
            clauses[present] = np.maximum.reduceat(matrix @ clause_vectors.T, starts, axis=0)
        if missing:
            try:
                vectors = stored_vectors(self.store, [ids[n] for n in missing])
            except StoreError:
                vectors = {}  # the dense similarity below stands in
            for n in missing:
                vector = vectors.get(ids[n])
                if vector is not None:
                    sentence[n] = float(vector @ question_vector)
                    clauses[n] = clause_vectors @ vector
                else:
                    sentence[n] = similarity.get(ids[n], 0.0)
                    clauses[n] = sentence[n]
        return sentence, clauses

    def _select(self, analysis: QueryAnalysis, candidates: _Candidates, k: int) -> list[str]:
        """Candidate ids, best first, with each part's best candidates (`part_quota` of
        them) guaranteed a place in the top k."""
        config = self.config
        order = list(np.argsort(-candidates.base, kind="stable"))
        parts = analysis.parts[: config.max_parts] if config.decompose else []
        if not parts or config.part_quota <= 0:
            return [candidates.ids[i] for i in order]
        forced: list[int] = []
        for part in parts:
            score = candidates.base.copy()
            if part.clauses and config.rerank:
                score += config.part_clause_weight * candidates.clause_sims[
                    :, list(part.clauses)].max(axis=1)
            if part.sources:
                score += config.part_outlet_boost * np.array(
                    [s in part.sources for s in candidates.sources])
            if part.dates:
                score += config.date_boost * np.array(
                    [max(d.score(ts) for d in part.dates) for ts in candidates.published])
            for i in np.argsort(-score, kind="stable")[: config.part_quota]:
                if int(i) not in forced:
                    forced.append(int(i))
        # The overall best is usually some part's best too; if not, it comes next.
        if int(order[0]) not in forced:
            forced.append(int(order[0]))
        forced = forced[:k]
        top = forced + [int(i) for i in order if int(i) not in forced][: k - len(forced)]
        top.sort(key=lambda i: -candidates.base[i])
        chosen = set(top)
        rest = [int(i) for i in order if int(i) not in chosen]
        return [candidates.ids[i] for i in top + rest]


def _nearest(store: Store, vector: np.ndarray, n: int, where: dict[str, Any] | None
             ) -> list[tuple[str, float]]:
    """(chunk id, cosine similarity) of the n nearest chunks. Unlike `Store.query` this
    asks Chroma for distances only: fetching 50 texts and metadatas costs ~8 ms a query,
    and only the few chunks that make the top k are read, later."""
    if n <= 0:
        return []
    return [(i, 1.0 - float(d)) for i, d in store.nearest(vector, n, where)]


# How many unfiltered neighbours to scan for the ones inside an outlet. Chroma's filtered
# search scans every vector (≈105 ms at 100k chunks, against ≈2 ms unfiltered), and the
# outlet's lexical ranking already covers what lies beyond this reach.
OUTLET_OVERFETCH = 8


def _nearest_within(store: Store, index: SideIndex, vector: np.ndarray, n: int,
                    where: dict[str, Any] | None, mask: np.ndarray,
                    unfiltered: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The nearest chunks among `mask` (an outlet), picked from the `unfiltered` search
    (`n * OUTLET_OVERFETCH` deep) or, under a user filter, pushed down to Chroma."""
    if not mask.any():
        return []
    if where:
        # A user filter is pushed down anyway; the outlet joins it there.
        sources = sorted({index.sources[c] for c in np.unique(index.source_codes[mask])})
        return _nearest(store, vector, n, _and(where, {"source": {"$in": sources}}))
    found = []
    for chunk_id, similarity in unfiltered:
        row = index.row.get(chunk_id)
        if row is not None and mask[row]:
            found.append((chunk_id, similarity))
            if len(found) == n:
                break
    return found


def _entity_matches(index: SideIndex, entities: Sequence[str], rows: list[int | None]
                    ) -> np.ndarray:
    """Share of the question's names, numbers and quoted phrases a chunk contains whole."""
    wanted = [frozenset(tokenize(e)) for e in entities]
    wanted = [w for w in wanted if w]
    if not wanted:
        return np.zeros(len(rows))
    return np.array([sum(w <= index.token_sets[r] for w in wanted) / len(wanted)
                     if r is not None else 0.0 for r in rows])


def _and(where: dict[str, Any] | None, clause: dict[str, Any]) -> dict[str, Any]:
    if not where:
        return clause
    if "$and" in where:
        return {"$and": [*where["$and"], clause]}
    return {"$and": [where, clause]}
