"""The index beside Chroma: BM25 (bm25s) over the chunks, each chunk's metadata, and its
sentences' vectors, for the hybrid retriever (`rag.retrieve.hybrid`) and the answerers.

It is persisted under `index_dir` with the chunk ids and a fingerprint of the collection,
so a stale copy (another process ingested, or a crash between ingest and refresh) is
noticed and brought up to date from what it already holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.index.embeddings import Embedder
from rag.index.records import StoredChunk, sentences_in_chunk
from rag.index.store import Store
from rag.text.lexicon import stopwords
from rag.text.tokens import stem

logger = logging.getLogger(__name__)

# 2: sentence vectors pooled from their chunk's model pass, no longer embedded alone.
INDEX_VERSION = 2
INDEX_FILE = "index.npz"
_TOKEN = re.compile(r"\w+(?:[.,]\d+)*")
_LEXICAL_STOPWORDS = stopwords("lexical")


def tokenize(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words; numbers keep their digits ("10,000" → "10000")
    so a number in a question matches the same number in a passage."""
    tokens = []
    for raw in _TOKEN.findall(text.replace("’", "'")):
        word = raw.lower()
        if word[0].isdigit():
            word = word.replace(",", "")
        if word in _LEXICAL_STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        tokens.append(stem(word) if word.isalpha() else word)
    return tokens


def fingerprint(ids: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def sentence_spans_in(chunk: StoredChunk) -> list[tuple[int, int]]:
    """The chunk's sentences as spans into its text, from its stored spans (the whole
    chunk if it has none)."""
    meta = chunk.metadata
    spans = sentences_in_chunk(chunk.text, int(meta.get("start", 0)),
                               json.loads(str(meta.get("sentences") or "[]")))
    return spans or [(0, len(chunk.text))]


# -- the side index --------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkInfo:
    """What ranking needs about a chunk without asking Chroma."""

    doc_id: str
    content_hash: str
    source: str
    published_ts: int | None

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> ChunkInfo:
        ts = meta.get("published_ts")
        return cls(str(meta.get("doc_id", "")), str(meta.get("content_hash", "")),
                   str(meta.get("source", "")), int(ts) if ts is not None else None)


@dataclass
class _Rows:
    """Per-chunk material, row i ↔ ids[i]. A chunk's vectors are rows
    offsets[i]:offsets[i+1] of `vectors`: one per sentence when sentence vectors are
    on, else its stored chunk vector (float16 halves memory and changes no ranking)."""

    ids: list[str]
    infos: list[ChunkInfo]
    tokens: list[list[str]]
    offsets: np.ndarray
    vectors: np.ndarray


class SideIndex:
    """BM25 over chunk texts, each chunk's filterable metadata and its vectors. Each
    chunk's tokens and vectors are kept, so new chunks are added without re-reading or
    re-embedding the old ones. `kind` names the vectors ("<model>/chunks" or
    "<model>/sentences"); an index of another kind is rebuilt, not reused."""

    def __init__(self, rows: _Rows, kind: str) -> None:
        import bm25s

        self.rows = rows
        self.kind = kind
        self.ids = rows.ids
        self.fingerprint = fingerprint(rows.ids)
        self.row = {chunk_id: i for i, chunk_id in enumerate(rows.ids)}
        self.sources = sorted({i.source for i in rows.infos})
        self._source_code = {s: n for n, s in enumerate(self.sources)}
        self.source_codes = np.array([self._source_code[i.source] for i in rows.infos],
                                     dtype=np.int32)
        self.has_date = np.array([i.published_ts is not None for i in rows.infos], dtype=bool)
        self.published = np.array([i.published_ts or 0 for i in rows.infos], dtype=np.int64)
        self.token_sets = [frozenset(t) for t in rows.tokens]
        self._bm25: Any = None
        if rows.ids:
            self._bm25 = bm25s.BM25()
            # A chunk without word tokens (all symbols) still needs its row.
            self._bm25.index([t or [""] for t in rows.tokens], show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, store: Store, chunks: Iterable[StoredChunk], embedder: Embedder,
              sentences: bool, known: Mapping[str, np.ndarray] | None = None) -> SideIndex:
        return cls(_make_rows(store, list(chunks), embedder, sentences, known),
                   vector_kind(embedder, sentences))

    def updated(self, store: Store, current: Sequence[str], embedder: Embedder,
                sentences: bool, known: Mapping[str, np.ndarray] | None = None) -> SideIndex:
        """This index for the chunk ids `current`: kept chunks reuse their tokens and
        vectors, only new ones are read from the store (and embedded, unless `known`
        holds their sentence vectors)."""
        new = [i for i in current if i not in self.row]
        fresh = _make_rows(store, _get_chunks(store, new), embedder, sentences, known)
        fresh_row = {chunk_id: i for i, chunk_id in enumerate(fresh.ids)}
        old = self.rows
        rows = _Rows([], [], [], np.zeros(1, dtype=np.int64), np.zeros((0, 0)))
        pieces: list[np.ndarray] = []
        for chunk_id in current:
            if chunk_id in self.row:
                source, i = old, self.row[chunk_id]
            elif chunk_id in fresh_row:
                source, i = fresh, fresh_row[chunk_id]
            else:
                continue  # deleted between listing and reading
            rows.ids.append(chunk_id)
            rows.infos.append(source.infos[i])
            rows.tokens.append(source.tokens[i])
            pieces.append(source.vectors[source.offsets[i] : source.offsets[i + 1]])
        rows.offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(
            np.int64)
        rows.vectors = _stack(pieces, embedder.dimension)
        return SideIndex(rows, vector_kind(embedder, sentences))

    # -- persistence --------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Written atomically: a reader sees the old index or the new one, never half."""
        directory.mkdir(parents=True, exist_ok=True)
        vocab: dict[str, int] = {}
        flat = [vocab.setdefault(t, len(vocab)) for row in self.rows.tokens for t in row]
        token_offsets = np.cumsum([0] + [len(r) for r in self.rows.tokens], dtype=np.int64)
        payload = {
            "version": INDEX_VERSION,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "ids": self.ids,
            "infos": [[i.doc_id, i.content_hash, i.source, i.published_ts]
                      for i in self.rows.infos],
            "vocab": list(vocab),
        }
        handle, temp = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".npz")
        os.close(handle)
        try:
            np.savez(temp, tokens=np.array(flat, dtype=np.int32), token_offsets=token_offsets,
                     offsets=self.rows.offsets, vectors=self.rows.vectors,
                     meta=np.frombuffer(json.dumps(payload).encode(), dtype=np.uint8))
            os.replace(temp, directory / INDEX_FILE)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    @classmethod
    def load(cls, directory: Path) -> SideIndex | None:
        """The saved index, or None if there is none or it cannot be read (it is rebuilt)."""
        path = directory / INDEX_FILE
        if not path.exists():
            return None
        try:
            # numpy leaves the file open when it refuses one; this handle closes it anyway.
            with path.open("rb") as handle, np.load(handle) as data:
                payload = json.loads(bytes(data["meta"]).decode())
                flat = data["tokens"]
                token_offsets = data["token_offsets"]
                offsets = data["offsets"]
                vectors = data["vectors"]
        except Exception as exc:
            # Derived data: a file cut short (EOFError, BadZipFile) or otherwise damaged is
            # rebuilt from Chroma rather than failing every question until deleted.
            logger.warning("rebuilding the retrieval index: %s is unreadable (%s: %s)",
                           path, type(exc).__name__, exc)
            return None
        if payload.get("version") != INDEX_VERSION:
            return None
        vocab = payload["vocab"]
        words = [vocab[i] for i in flat.tolist()]
        tokens = [words[token_offsets[n] : token_offsets[n + 1]]
                  for n in range(len(token_offsets) - 1)]
        infos = [ChunkInfo(d, h, s, ts) for d, h, s, ts in payload["infos"]]
        return cls(_Rows(list(payload["ids"]), infos, tokens, offsets, vectors),
                   str(payload.get("kind", "")))

    # -- queries ----------------------------------------------------------------

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def mask(self, where: Mapping[str, Any] | None) -> np.ndarray | None:
        """Rows a Chroma `where` clause (as `build_where` writes them) keeps; None = all.
        Evaluating the same clause keeps both sides' filters identical."""
        if not where:
            return None
        return self._eval(where)

    def _eval(self, clause: Mapping[str, Any]) -> np.ndarray:
        if "$and" in clause:
            result = np.ones(len(self.ids), dtype=bool)
            for part in clause["$and"]:
                result &= self._eval(part)
            return result
        ((key, condition),) = clause.items()
        if key == "source":
            return self.source_mask(condition["$in"])
        if key == "published_ts":
            ((operator, value),) = condition.items()
            if operator == "$gte":
                return self.has_date & (self.published >= int(value))
            if operator == "$lte":
                return self.has_date & (self.published <= int(value))
        raise ValueError(f"unsupported filter clause {clause!r}")

    def source_mask(self, sources: Iterable[str]) -> np.ndarray:
        codes = [self._source_code[s] for s in sources if s in self._source_code]
        return np.isin(self.source_codes, codes)

    def top(self, scores: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[str]:
        """Ids of the n best-scoring rows (with a positive score) among `mask`."""
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        if n <= 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [self.ids[i] for i in best if scores[i] > 0]

    def sentence_vectors(self, row: int) -> np.ndarray:
        return self.rows.vectors[self.rows.offsets[row] : self.rows.offsets[row + 1]]


def vector_kind(embedder: Embedder, sentences: bool) -> str:
    return f"{embedder.name}/{'sentences' if sentences else 'chunks'}"


def _make_rows(store: Store, chunks: Sequence[StoredChunk], embedder: Embedder,
               sentences: bool, known: Mapping[str, np.ndarray] | None = None) -> _Rows:
    """Rows for `chunks`. Chunk vectors are read back from Chroma, not recomputed; with
    `sentences`, chunks of two or more sentences get one vector per sentence instead,
    from one model pass over the chunk (`Embedder.embed_spans`). `known`: each chunk's
    vectors as ingest computed them in its own pass (no model call, no read)."""
    spans = [sentence_spans_in(c) if sentences else [] for c in chunks]
    known = known or {}
    # What ingest handed over is used as it is. Of the rest, chunks of one sentence reuse
    # the vector ingest stored; the others get a model pass.
    rest = [n for n, chunk in enumerate(chunks) if chunk.chunk_id not in known]
    single = [chunks[n].chunk_id for n in rest if len(spans[n]) <= 1]
    try:
        stored = stored_vectors(store, single)
    except StoreError:
        # Another process's write this client has not loaded yet: load it, try once more.
        store.sync()
        stored = stored_vectors(store, single)
    todo = [n for n in rest if len(spans[n]) > 1]
    computed: dict[str, np.ndarray] = {}
    if todo:
        _, parts = embedder.embed_spans([chunks[n].text for n in todo], [spans[n] for n in todo])
        computed = {chunks[n].chunk_id: part for n, part in zip(todo, parts, strict=True)}
    kept: list[StoredChunk] = []
    blocks: list[np.ndarray] = []
    for chunk in chunks:
        block = known.get(chunk.chunk_id, computed.get(chunk.chunk_id))
        if block is None:
            if chunk.chunk_id not in stored:
                continue  # deleted since it was listed
            block = stored[chunk.chunk_id][None, :]
        blocks.append(block)
        kept.append(chunk)
    return _Rows([c.chunk_id for c in kept], [ChunkInfo.of(c.metadata) for c in kept],
                 [tokenize(c.text) for c in kept],
                 np.concatenate([[0], np.cumsum([len(b) for b in blocks])]).astype(np.int64),
                 _stack(blocks, embedder.dimension))


def stored_vectors(store: Store, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The vectors Chroma holds for `ids`: what ingest computed, so no model call."""
    found: dict[str, np.ndarray] = {}
    for begin in range(0, len(ids), 5000):
        try:
            result = store.chunks.get(ids=list(ids[begin : begin + 5000]),
                                      include=["embeddings"])
        except Exception as exc:
            raise StoreError(f"reading chunk vectors failed: {exc}") from exc
        found.update({i: np.asarray(v, dtype=np.float32)
                      for i, v in zip(result["ids"], result["embeddings"], strict=True)})
    return found


def _stack(blocks: list[np.ndarray], dimension: int) -> np.ndarray:
    blocks = [b for b in blocks if len(b)]
    return (np.concatenate(blocks).astype(np.float16) if blocks
            else np.zeros((0, dimension), dtype=np.float16))


def _get_chunks(store: Store, ids: Sequence[str]) -> list[StoredChunk]:
    found: list[StoredChunk] = []
    for begin in range(0, len(ids), 5000):
        found.extend(store.get_chunks(ids[begin : begin + 5000]))
    return found
