"""Performance benchmark: ingest throughput beside the naive llama-index pipeline, query
latency at 1k/10k/100k chunks, cold start of `rag ask`, and peak memory at 100k chunks.

Ingest is measured on real articles with warm models on both sides (loading a model is a
one-off cost, reported apart), so the figures compare pipelines, not start-up. The naive
pipeline is llama-index's default recipe — `SentenceSplitter` + `VectorStoreIndex` over a
`ChromaVectorStore` — embedding with chromadb's own `ONNXMiniLM_L6_V2` function pointed
at the same bundled model files, so both sides run the same network weights.

Large collections are built without paying for embedding: every real chunk is copied with
its vector perturbed by small Gaussian noise and renormalised, and each copy becomes its
own document written through `Store.put_chunks` and `Store.commit_documents`, so the
product reads it exactly as an ingested one. A few letters of each copy are upper-cased:
the model is uncased, so the copy's text still matches its vector, but the answerer's
text-keyed sentence cache cannot turn a copy into a free hit of its original.

The machine is shared, so the 1-minute load average is recorded around every phase, and
runs that are compared (our ingest, the bare model and the naive pipeline; the collection
sizes) take turns rather than follow one another: the load moves faster than a block of
runs takes. The
bench's own threads count in the load (up to one per core); beyond that, other work was
sharing the CPUs and the figures are inflated.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import EmbedderProxy
from rag.config import PACKAGE_ROOT, Settings, display_path
from rag.index.embeddings import BULK_FROM_BATCHES, MiniLMEmbedder, bundled_model_files
from rag.index.records import chunk_metadata
from rag.index.store import Store
from rag.ingest.chunking import chunk_id, content_hash
from rag.ingest.loaders import iter_files, load_file
from rag.schema import Chunk, Document
from rag.text.sentences import sentence_spans

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_QUESTION = "Why did the peacekeepers leave?"
# Copies sit at cosine ~0.9 from their original: near-duplicates, as syndicated news is,
# yet far enough apart that a question's top-k is not one chunk repeated.
COPY_COSINE = 0.9
COPY_MARK = "-copy"
TARGETS = {
    "ingest_vs_naive": (">=", 5.0, "ingest docs/s vs naive llama-index pipeline (×)"),
    "ingest_vs_raw_model": (">=", 0.60, "ingest chunks/s as share of raw model chunks/s"),
    "retrieval_p50_ms": ("<=", 20.0, "retrieval p50 at the largest size (ms)"),
    "answer_p50_ms": ("<=", 150.0, "extractive answer p50 at the largest size (ms)"),
    "cold_start_s": ("<=", 3.0, "`rag ask --json` cold start, median (s)"),
    "peak_rss_mb": ("<=", 1536.0, "peak RSS answering at the largest size (MiB)"),
}

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"[bench perf {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_LOADS: list[float] = []


def _load() -> float:
    load = round(os.getloadavg()[0], 2)
    _LOADS.append(load)
    return load


# -- instrumentation ------------------------------------------------------------------


class _Clock:
    """Seconds spent per named step, summed over calls. Steps taken inside a `scoped`
    call are filed under "<scope>:<step>", so the same model or Chroma call is told apart
    by what it was done for (indexing vs ingest, answering vs retrieving)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.scope = ""

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        name = f"{self.scope}{name}"
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.calls[name] += 1

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.step(name):
                return function(*args, **kwargs)

        return timed

    def scoped(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function` timed as `name`, the steps inside it filed under `name:`."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            outer = self.scope
            with self.step(name):
                self.scope = f"{name}:"
                try:
                    return function(*args, **kwargs)
                finally:
                    self.scope = outer

        return timed

    def outside(self, prefix: str) -> float:
        """Seconds of the unscoped steps whose name starts with `prefix`."""
        return sum(v for k, v in self.seconds.items() if k.startswith(prefix))


class _RecordingEmbedder(EmbedderProxy):
    """The product embedder, timed, remembering the chunk texts ingest embedded (so the
    raw model is timed on exactly those; sentences embedded for the retrieval index
    afterwards are not chunks)."""

    def __init__(self, inner: MiniLMEmbedder, clock: _Clock) -> None:
        super().__init__(inner)
        self.clock = clock
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not self.clock.scope:
            self.embedded.extend(texts)
        with self.clock.step("embed"):
            return self.inner.embed(texts)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if not self.clock.scope:
            self.embedded.extend(texts)
        with self.clock.step("embed"):
            return self.inner.embed_spans(texts, spans)


class _TimedCollection:
    """A Chroma collection whose every call is timed as `<label>.<method>`: timing the
    collections rather than `Store` methods counts each round trip once, however the
    store's methods call each other."""

    def __init__(self, collection: Any, clock: _Clock, label: str) -> None:
        self._collection = collection
        self._clock = clock
        self._label = label

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if callable(value) and not name.startswith("_"):
            return self._clock.wrap(f"{self._label}.{name}", value)
        return value


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def _no_network() -> Iterator[list[str]]:
    """Refuse (and record) every outbound connection made from Python while active."""
    attempts: list[str] = []
    original = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(repr(address))
        raise OSError(f"the perf bench is offline; refused a connection to {address!r}")

    socket.socket.connect = refuse  # type: ignore[method-assign, assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    array = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "mean": round(float(array.mean()), 2),
        "max": round(float(array.max()), 2),
    }


# -- input --------------------------------------------------------------------------


def _documents(paths: Sequence[Path], max_bytes: int = 50 * 1024 * 1024) -> list[Document]:
    return [d for path in paths for file in iter_files(path)
            for d in load_file(file, max_bytes=max_bytes)]


def _questions(queries: Path | None, documents: Sequence[Document], n: int
               ) -> tuple[list[str], list[str], list[str]]:
    """(n measured questions, 3 warm-up questions, the rest), spread evenly over the
    query file so every question type is represented; article titles stand in when there
    is no file."""
    from rag.validation import validate_question

    pool: list[str] = []
    if queries is not None and queries.is_file():
        for line in queries.read_text(encoding="utf-8").splitlines():
            if line.strip():
                pool.append(str(json.loads(line)["question"]))
    if not pool:
        pool = [f"What happened in {d.title}?" if d.title else d.text[:200] for d in documents]
    valid = []
    for question in pool:
        with contextlib.suppress(Exception):
            valid.append(validate_question(question))
    if not valid:
        valid = [DEFAULT_QUESTION]
    step = max(len(valid) / max(n, 1), 1.0)
    picked = sorted({int(i * step) for i in range(n)} & set(range(len(valid))))
    measured = [valid[i] for i in picked]
    rest = [q for i, q in enumerate(valid) if i not in set(picked)] or [DEFAULT_QUESTION]
    return measured, rest[:3], rest[3:] or rest


# -- ingest -------------------------------------------------------------------------


def _ingest_once(paths: Sequence[Path], home: Path, embedder: MiniLMEmbedder
                 ) -> tuple[dict[str, Any], list[str]]:
    """One ingest of `paths` into the fresh `home`, timed step by step; also returns the
    texts it embedded."""
    import rag.ingest.pipeline
    from rag.assistant import Assistant

    sentence_spans("Warm up the sentence model. It loads once per process.")
    clock = _Clock()
    recording = _RecordingEmbedder(embedder, clock)
    setup = time.perf_counter()
    assistant = Assistant(home=home, embedder=recording)
    setup_s = time.perf_counter() - setup
    store = assistant.store
    store.chunks = _TimedCollection(store.chunks, clock, "chroma_chunks")
    store.documents = _TimedCollection(store.documents, clock, "chroma_documents")
    retriever: Any = assistant.retriever
    retriever.refresh = clock.scoped("index_refresh", retriever.refresh)
    load = _load()
    documents = chunks = 0
    failed: list[Any] = []
    pipeline = rag.ingest.pipeline
    with _patched(pipeline, "chunk_document", clock.wrap("chunk", pipeline.chunk_document)):
        started = time.perf_counter()
        for path in paths:
            report = assistant.ingest(path)
            documents += len(report.added) + len(report.updated)
            chunks += report.chunks
            failed += report.failed
        seconds = time.perf_counter() - started
    steps = {k: round(v, 3) for k, v in sorted(clock.seconds.items())}
    store_s = clock.outside("chroma_")
    steps["chroma_all"] = round(store_s, 3)
    steps["other"] = round(seconds - store_s - clock.seconds["chunk"] - clock.seconds["embed"]
                           - clock.seconds["index_refresh"], 3)
    return {
        "seconds": round(seconds, 3), "documents": documents, "chunks": chunks,
        "docs_per_s": round(documents / seconds, 2), "chunks_per_s": round(chunks / seconds, 2),
        "setup_s": round(setup_s, 3), "load_1m": load, "failed": failed, "steps_s": steps,
        "chroma_calls": {k: v for k, v in clock.calls.items() if "chroma_" in k},
        "retriever": type(retriever).__name__,
    }, list(recording.embedded)


def _ingest_side_by_side(paths: Sequence[Path], work: Path, embedder: MiniLMEmbedder,
                         runs: int, log: Log
                         ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[Path]]:
    """Our ingest, the bare model on the texts it embedded, and the naive pipeline, in turn
    run by run, so that each run's three figures see the same machine: on a shared box the
    load moves faster than a block of runs takes. Ratios are taken per run, then their
    median."""
    naive_pipeline = _NaivePipeline(paths, work)
    ingests: list[dict[str, Any]] = []
    raws: list[float] = []
    naives: list[dict[str, Any]] = []
    homes: list[Path] = []
    texts: list[str] = []
    for run in range(runs):
        home = work / f"ours-{run}"
        figures, texts = _ingest_once(paths, home, embedder)
        ingests.append(figures)
        homes.append(home)
        started = time.perf_counter()
        embedder.embed(texts)
        raws.append(time.perf_counter() - started)
        figures["raw_model_s"] = round(raws[-1], 3)
        log(f"ours run {run + 1}/{runs}: {figures['documents']} docs, {figures['chunks']} chunks "
            f"in {figures['seconds']:.1f} s; raw model {raws[-1]:.1f} s "
            f"(load {figures['load_1m']})")
        naives.append(naive_pipeline.ingest(run, log))
    first = ingests[0]
    median_s = statistics.median(f["seconds"] for f in ingests)
    raw_s = statistics.median(raws)
    ours = {
        "runs": ingests, "documents": first["documents"], "chunks": first["chunks"],
        "seconds_median": round(median_s, 3),
        "docs_per_s": round(first["documents"] / median_s, 2),
        "chunks_per_s": round(first["chunks"] / median_s, 2),
        "what": ("Assistant(home=fresh temp dir).ingest() of each input path, warm model; "
                 "includes the retriever's index refresh ingest triggers"),
    }
    raw = {
        "texts": len(texts), "runs_s": [round(t, 3) for t in raws],
        "seconds_median": round(raw_s, 3),
        "chunks_per_s": round(len(texts) / raw_s, 2) if raw_s else 0.0,
        "load_1m": _load(),
        "share_per_run": [round(r / f["seconds"], 3) for r, f in zip(raws, ingests, strict=True)],
        "what": ("MiniLMEmbedder.embed() on exactly the chunk texts our ingest embedded, warm "
                 "model, run right after each ingest run"),
    }
    naive = naive_pipeline.summary(naives)
    naive["docs_ratio_per_run"] = [
        round((f["documents"] / f["seconds"]) / (n["documents"] / n["seconds"]), 2)
        for f, n in zip(ingests, naives, strict=True)]
    naive["chunks_ratio_per_run"] = [
        round((f["chunks"] / f["seconds"]) / (n["chunks"] / n["seconds"]), 2)
        for f, n in zip(ingests, naives, strict=True)]
    return ours, raw, naive, homes


def build_chroma_model_dir(root: Path) -> Path:
    """A directory laid out like chromadb's model cache (`onnx/model.onnx`, tokenizer,
    vocab, configs) holding the bundled model, so `ONNXMiniLM_L6_V2` finds everything it
    checks for and never downloads."""
    model, tokenizer = bundled_model_files()
    onnx = root / "onnx"
    onnx.mkdir(parents=True, exist_ok=True)
    for target, source in ((onnx / "model.onnx", model), (onnx / "tokenizer.json", tokenizer)):
        if not target.exists():
            target.symlink_to(source)
    vocab: dict[str, int] = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    (onnx / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.__getitem__)) + "\n",
                                    encoding="utf-8")
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "cls_token": "[CLS]", "mask_token": "[MASK]"}
    configs = {
        "config.json": {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384,
                        "num_hidden_layers": 6, "num_attention_heads": 12,
                        "intermediate_size": 1536, "max_position_embeddings": 512,
                        "vocab_size": len(vocab)},
        "special_tokens_map.json": special,
        "tokenizer_config.json": {**special, "do_lower_case": True, "model_max_length": 256,
                                  "tokenizer_class": "BertTokenizer"},
    }
    for name, content in configs.items():
        (onnx / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    return root


def offline_chroma_ef(model_dir: Path) -> Any:
    """chromadb's default embedding function, reading `model_dir` and unable to download."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    class OfflineMiniLM(ONNXMiniLM_L6_V2):
        DOWNLOAD_PATH = model_dir

        # The parent's is wrapped by tenacity's retry, a type no plain method matches.
        def _download(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            raise RuntimeError(f"the perf bench is offline; refused to download {args}")

    return OfflineMiniLM()


def _llama_embedding(ef: Any, clock: _Clock) -> Any:
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class ChromaFunctionEmbedding(BaseEmbedding):
        _ef: Any = PrivateAttr()

        def __init__(self) -> None:
            super().__init__(model_name="chromadb-ONNXMiniLM_L6_V2-bundled-int8")
            self._ef = ef

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            with clock.step("embed"):
                return [np.asarray(v, dtype=np.float32).tolist() for v in self._ef(texts)]

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embeddings([query])[0]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return ChromaFunctionEmbedding()


class _NaivePipeline:
    """The five-line llama-index tutorial on the same inputs: chromadb's default embedding
    function pointed at the bundled model files, loaded and warmed once, then any number
    of timed ingests, each into a fresh Chroma directory, none able to reach the network."""

    def __init__(self, paths: Sequence[Path], work: Path) -> None:
        self.paths, self.work = paths, work
        self.model_dir = build_chroma_model_dir(work / "chroma-model")
        self.attempts: list[str] = []
        with _no_network() as attempts:
            self.ef = offline_chroma_ef(self.model_dir)
            setup = time.perf_counter()
            self.ef(["Warm up the model: loading it is a one-off cost on both sides."])
            self.model_load_s = time.perf_counter() - setup
        self.attempts += attempts

    def ingest(self, run: int, log: Log) -> dict[str, Any]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Document as LlamaDocument
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        clock = _Clock()
        with _no_network() as attempts:
            embedding = _llama_embedding(self.ef, clock)
            client = chromadb.PersistentClient(path=str(self.work / f"naive-chroma-{run}"),
                                               settings=ChromaSettings(anonymized_telemetry=False))
            collection = client.get_or_create_collection("naive", embedding_function=None)
            vector_store = ChromaVectorStore(chroma_collection=collection)
            storage = StorageContext.from_defaults(vector_store=vector_store)
            splitter = SentenceSplitter()
            load = _load()
            started = time.perf_counter()
            with clock.step("load"):
                documents = [
                    LlamaDocument(text=d.text, id_=d.doc_id,
                                  metadata={k: v for k, v in d.metadata.items() if k != "path"})
                    for d in _documents(self.paths)
                ]
            with clock.step("split"):
                nodes = splitter.get_nodes_from_documents(documents)
            with clock.step("index"):
                VectorStoreIndex(nodes, storage_context=storage, embed_model=embedding)
            seconds = time.perf_counter() - started
            stored = collection.count()
        self.attempts += attempts
        if attempts or (self.model_dir / self.ef.ARCHIVE_FILENAME).exists():
            raise RuntimeError(f"the naive pipeline reached for the network: {attempts}")
        steps = {k: round(v, 3) for k, v in clock.seconds.items()}
        steps["chroma_writes_and_other"] = round(clock.seconds["index"] - clock.seconds["embed"],
                                                 3)
        log(f"naive run {run + 1}: {len(documents)} docs, {len(nodes)} chunks in "
            f"{seconds:.1f} s (load {load})")
        return {"seconds": round(seconds, 3), "documents": len(documents), "chunks": len(nodes),
                "stored": stored, "steps_s": steps, "load_1m": load}

    def summary(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        median_s = statistics.median(r["seconds"] for r in runs)
        first = runs[0]
        return {
            "runs": runs, "documents": first["documents"], "chunks": first["chunks"],
            "stored": first["stored"], "seconds_median": round(median_s, 3),
            "docs_per_s": round(first["documents"] / median_s, 2),
            "chunks_per_s": round(first["chunks"] / median_s, 2),
            "model_load_s": round(self.model_load_s, 3),
            "what": ("llama-index SentenceSplitter() defaults + VectorStoreIndex(nodes) over "
                     "ChromaVectorStore (PersistentClient, temp dir), embedding with chromadb's "
                     "ONNXMiniLM_L6_V2 on the bundled int8 model files via a BaseEmbedding "
                     "wrapper (llama-index default embed_batch_size), warm model"),
            "network": ("none: chromadb's model directory built locally from the bundled "
                        "files, its download replaced by an error, socket.connect refused "
                        f"while it ran ({len(self.attempts)} attempts)"),
        }


# -- large collections --------------------------------------------------------------


@dataclass
class _Original:
    document: Document
    root: str
    spans: list[tuple[int, int]]
    sentences: list[tuple[int, int]]
    vectors: np.ndarray


def _originals(store: Store) -> list[_Original]:
    entries = {d.doc_id: (d, e.root) for d, e in store.documents_with_text()}
    rows: dict[str, list[tuple[int, int, np.ndarray, list[list[int]]]]] = defaultdict(list)
    offset, page = 0, 2000
    while True:
        got = store.chunks.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            break
        for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
            rows[str(meta["doc_id"])].append((int(meta["start"]), int(meta["end"]),
                                              np.asarray(vector, dtype=np.float32),
                                              json.loads(str(meta.get("sentences", "[]")))))
        offset += page
    originals = []
    for doc_id, chunks in sorted(rows.items()):
        if doc_id not in entries or COPY_MARK in doc_id:
            continue
        chunks.sort(key=lambda row: (row[0], row[1]))
        sentences = sorted({(int(s), int(e)) for row in chunks for s, e in row[3]})
        document, root = entries[doc_id]
        originals.append(_Original(document, root, [(r[0], r[1]) for r in chunks], sentences,
                                   np.stack([r[2] for r in chunks])))
    return originals


_LOWER_WORD = re.compile(r"\b[a-z]{4,}\b")


def copy_text(text: str, spans: Sequence[tuple[int, int]], generation: int) -> str:
    """`text` with the second letter of some all-lower-case words upper-cased, chosen by the
    bits of `generation` among the first words of each chunk, so copies differ in every
    chunk while embedding (uncased) and offsets stay those of the original."""
    positions: set[int] = set()
    for start, end in spans:
        for bit, match in enumerate(_LOWER_WORD.finditer(text, start, end)):
            if bit >= 16:
                break
            if generation >> bit & 1:
                positions.add(match.start() + 1)
    if not positions:
        return text
    chars = list(text)
    for position in positions:
        chars[position] = chars[position].upper()
    return "".join(chars)


class CopyBuilder:
    """Adds perturbed copies of the real chunks to a store, in a fixed order, until it
    holds a requested number of chunks."""

    def __init__(self, store: Store, seed: int = 0, *, block: int = 4000) -> None:
        self.store = store
        self.originals = _originals(store)
        self.rng = np.random.default_rng(seed)
        self.block = block
        self.serial = 0
        dimension = self.originals[0].vectors.shape[1] if self.originals else 1
        self.sigma = float(np.sqrt((1 / COPY_COSINE**2 - 1) / dimension))
        self.cosines: list[float] = []

    def grow(self, target: int) -> int:
        store = self.store
        count = store.chunk_count()
        if not self.originals:
            return count
        while count < target:
            chunks: list[Chunk] = []
            vectors: list[np.ndarray] = []
            metadatas: list[dict[str, Any]] = []
            commits: list[tuple[Document, str, str, int]] = []
            while count + len(chunks) < target and len(chunks) < self.block:
                self._copy(chunks, vectors, metadatas, commits)
            # Chunks before their documents: the commit order ingest keeps.
            store.put_chunks(chunks, np.concatenate(vectors), metadatas)
            store.commit_documents(commits)
            count += len(chunks)
        return store.chunk_count()

    def _copy(self, chunks: list[Chunk], vectors: list[np.ndarray],
              metadatas: list[dict[str, Any]], commits: list[tuple[Document, str, str, int]]
              ) -> None:
        original = self.originals[self.serial % len(self.originals)]
        generation = self.serial // len(self.originals) + 1
        self.serial += 1
        copy_id = f"{original.document.doc_id}{COPY_MARK}{generation:05d}"
        text = copy_text(original.document.text, original.spans, generation)
        document = replace(original.document, doc_id=copy_id, text=text)
        digest = content_hash(document)
        noisy = original.vectors + self.rng.normal(0.0, self.sigma, original.vectors.shape)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        if len(self.cosines) < 1000:
            self.cosines.extend(np.sum(noisy * original.vectors, axis=1).tolist())
        for number, (start, end) in enumerate(original.spans):
            chunk = Chunk(chunk_id(copy_id, digest, number), copy_id, start, end,
                          text[start:end])
            chunks.append(chunk)
            metadatas.append(chunk_metadata(document, chunk, content_hash=digest,
                                            sentences=original.sentences))
        vectors.append(noisy.astype(np.float32))
        commits.append((document, digest, original.root, len(original.spans)))

    def describe(self) -> dict[str, Any]:
        return {
            "originals": len(self.originals),
            "original_chunks": sum(len(o.spans) for o in self.originals),
            "noise_sigma_per_dim": round(self.sigma, 5),
            "copy_cosine_to_original_mean": round(float(np.mean(self.cosines)), 4)
            if self.cosines else None,
            "method": (
                "real chunks (our ingest of the inputs) plus copies: copy g of document d is a "
                f"new document '<d>{COPY_MARK}<g>' with d's text (the second letter of a few "
                "lower-case words upper-cased, chosen by the bits of g, so texts differ but the "
                "uncased model's vector and all offsets stay d's), each chunk vector = "
                "normalise(original + N(0, sigma^2 I)); written in blocks of 4000 chunks with "
                "Store.put_chunks, then their documents with Store.commit_documents, the calls "
                "and record format ingest uses"),
        }


# -- queries ------------------------------------------------------------------------


class _FreshQueries(EmbedderProxy):
    """The model with a query cache of its own, one question deep. The sizes share one
    model (one onnxruntime session: several would each keep worker threads spinning on
    the two cores and slow the others down), and the model's own cache would let every
    size after the first skip the query embedding a new question pays for; within one
    question the answerer's second lookup still hits, as it does in the product."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        super().__init__(inner)
        self._last: tuple[str, np.ndarray] | None = None

    def embed_query(self, text: str) -> np.ndarray:
        if self._last is None or self._last[0] != text:
            self._last = (text, self.inner.embed([text])[0])
        return self._last[1]


class _QueryProbe:
    """An Assistant over one collection, with retrieval and answering timed step by step."""

    def __init__(self, home: Path, k: int, model: MiniLMEmbedder, *, dense: bool = False
                 ) -> None:
        from rag.assistant import Assistant

        self.k = k
        settings = Settings(hybrid=False) if dense else None
        self.assistant = assistant = Assistant(home=home, settings=settings,
                                               embedder=_FreshQueries(model))
        self.clock = clock = _Clock()
        self.warmup_s = 0.0
        self.retrieve_ms: list[float] = []
        self.answer_ms: list[float] = []
        self.samples: list[dict[str, float]] = []
        self.loads: list[float] = []
        self.passages = self.copies = self.unique = self.refused = 0
        store, answerer = assistant.store, assistant.answerer
        embedder: Any = assistant.embedder
        # Chroma is timed at the collections, so every round trip counts once whichever
        # retriever (dense, hybrid) or Store method makes it.
        store.chunks = _TimedCollection(store.chunks, clock, "chroma")
        store.documents = _TimedCollection(store.documents, clock, "chroma")
        embedder.embed_query = clock.wrap("embed_query", embedder.embed_query)
        embedder.embed = clock.wrap("embed_texts", embedder.embed)
        answerer.score_sentences = clock.scoped(  # type: ignore[method-assign]
            "score_sentences", answerer.score_sentences)

    def warm(self, questions: Sequence[str]) -> None:
        started = time.perf_counter()
        for question in questions:
            self.assistant.ask(question, k=self.k, use_llm=False)
        self.warmup_s = time.perf_counter() - started
        self.clock.seconds.clear()

    def ask(self, question: str) -> None:
        self.clock.seconds.clear()
        started = time.perf_counter()
        answer = self.assistant.ask(question, k=self.k, use_llm=False)
        self.answer_ms.append((time.perf_counter() - started) * 1000)
        self.retrieve_ms.append(answer.timings["retrieve_ms"])
        self.samples.append({k: v * 1000 for k, v in self.clock.seconds.items()})
        self.passages += len(answer.passages)
        self.copies += sum(COPY_MARK in p.doc_id for p in answer.passages)
        self.unique += len({p.text for p in answer.passages})
        self.refused += answer.refused
        self.loads.append(os.getloadavg()[0])

    def figures(self) -> dict[str, Any]:
        asked = len(self.answer_ms)
        names = sorted({name for sample in self.samples for name in sample})
        steps = {name: _stats([sample.get(name, 0.0) for sample in self.samples])["p50"]
                 for name in names}
        # Retrieval's steps are the unscoped ones; the answerer's are under its scope.
        retrieval = [{k: v for k, v in sample.items() if ":" not in k and k != "score_sentences"}
                     for sample in self.samples]
        steps["chroma_all"] = _stats([sum(v for k, v in sample.items() if k.startswith("chroma."))
                                      for sample in retrieval])["p50"] if asked else 0.0
        # What retrieval spent outside the model and Chroma (lexical index, fusion, rerank,
        # freshness checks), question by question, then its median.
        steps["retrieve_other"] = _stats([r - sum(sample.values()) for r, sample in
                                          zip(self.retrieve_ms, retrieval, strict=True)]
                                         )["p50"] if asked else 0.0
        store = self.assistant.store
        return {
            "chunks": store.chunk_count(), "documents": store.document_count(), "k": self.k,
            "retriever": type(self.assistant.retriever).__name__, "questions": asked,
            "retrieve_ms": _stats(self.retrieve_ms), "answer_ms": _stats(self.answer_ms),
            "steps_p50_ms": steps, "warmup_s": round(self.warmup_s, 3),
            "index_refresh_ms": round(getattr(self.assistant.retriever, "last_refresh_ms", 0.0),
                                      1),
            "load_1m": round(float(np.median(self.loads)), 2) if self.loads else None,
            "copies_share_of_passages": round(self.copies / self.passages, 3)
            if self.passages else None,
            "unique_texts_per_answer": round(self.unique / asked, 2) if asked else None,
            "refused_share": round(self.refused / asked, 3) if asked else None,
        }


def _measure_queries(homes: dict[int, Path], questions: Sequence[str], warm: Sequence[str],
                     spare: Sequence[str], k: int, model: MiniLMEmbedder
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every size answers each question in turn, the order rotating, so that all sizes
    are measured under the same (shared, moving) machine load; the largest also with
    dense retrieval alone (`RAG_HYBRID=0`), when the default is another retriever. Then
    a profile of the largest size on questions none of them has seen."""
    probes = {str(size): _QueryProbe(home, k, model) for size, home in homes.items()}
    if probes:
        largest = max(homes)
        label = str(largest)
        if type(probes[label].assistant.retriever).__name__ != "DenseRetriever":
            probes[f"{label}-dense"] = _QueryProbe(homes[largest], k, model, dense=True)
    for probe in probes.values():
        probe.warm(warm)
    order = list(probes)
    for number, question in enumerate(questions):
        turn = number % len(order)
        for name in order[turn:] + order[:turn]:
            probes[name].ask(question)
    profile = _profile(probes[str(max(homes))], spare[:10]) if probes else []
    return {name: probe.figures() for name, probe in probes.items()}, profile


def _profile(probe: _QueryProbe, questions: Sequence[str], top: int = 25
             ) -> list[dict[str, Any]]:
    """The functions `ask` spends most time in (cumulative, per question): rag's own,
    and the native calls into Chroma, onnxruntime and bm25s. cProfile slows Python code
    more than native code, so this ranks the steps; the timed pass gives the figures."""
    import cProfile
    import pstats

    if not questions:
        return []
    profiler = cProfile.Profile()
    profiler.enable()
    for question in questions:
        probe.assistant.ask(question, k=probe.k, use_llm=False)
    profiler.disable()
    rows = []
    marker = f"{os.sep}rag{os.sep}"
    table: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (file, _line, function), entry in table.items():
        cumulative = entry[3]
        if marker in file:
            module = f"rag.{file.rsplit(marker, 1)[1].removesuffix('.py').replace(os.sep, '.')}"
            # The entry point every question passes through.
            if module == "rag.assistant":
                continue
            name = f"{module}.{function}"
        elif any(word in function for word in ("Bindings", "onnxruntime", "bm25s")) or (
                "bm25s" in file and function in {"get_scores", "_compute_relevance_from_scores"}):
            name = function
        else:
            continue
        per_question = round(cumulative * 1000 / len(questions), 2)
        rows.append({"function": name, "ms_per_question": per_question})
    rows.sort(key=lambda row: -row["ms_per_question"])
    return rows[:top]


_MEMORY_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from rag.assistant import Assistant
home, questions, k = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
assistant = Assistant(home=home)
opened = time.perf_counter()
latencies = []
for question in questions:
    begin = time.perf_counter()
    assistant.ask(question, k=k, use_llm=False)
    latencies.append((time.perf_counter() - begin) * 1000)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({"chunks": assistant.store.chunk_count(), "open_s": opened - started,
                  "ask_ms": latencies, "vm_hwm_kb": int(status["VmHWM"].split()[0]),
                  "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _child_env(home: Path | None = None) -> dict[str, str]:
    """The caller's environment without rag/OpenAI settings (the child must answer
    offline, from `home`), with this checkout first on the import path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAG_", "OPENAI_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                      env.get("PYTHONPATH")]))
    env["RAG_LLM"] = "none"
    if home is not None:
        env["RAG_HOME"] = str(home)
    return env


def _peak_memory(home: Path, questions: Sequence[str], k: int, work: Path) -> dict[str, Any]:
    import psutil

    question_file = work / "memory-questions.json"
    question_file.write_text(json.dumps(list(questions)), encoding="utf-8")
    load = _load()
    process = subprocess.Popen(
        [sys.executable, "-c", _MEMORY_CHILD, str(home), str(question_file), str(k)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
        cwd=work,
    )
    sampled = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            sampled = max(sampled, watched.memory_info().rss)
        time.sleep(0.02)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the memory probe failed: {err.strip()[-2000:]}")
    report = json.loads(out.strip().splitlines()[-1])
    asks = report["ask_ms"]
    return {
        "chunks": report["chunks"], "questions": len(questions),
        "peak_rss_mb": round(report["vm_hwm_kb"] / 1024, 1),
        "sampled_peak_rss_mb": round(sampled / 2**20, 1),
        "ru_maxrss_mb": round(report["ru_maxrss_kb"] / 1024, 1),
        "open_s": round(report["open_s"], 3),
        "first_ask_ms": round(asks[0], 1) if asks else None,
        "later_asks_ms": _stats(asks[1:]), "load_1m": load,
        "what": ("a fresh python process opens the collection with Assistant(home) and "
                 "answers the questions; peak = its VmHWM from /proc/self/status (psutil "
                 "sampled every 20 ms as a cross-check); ru_maxrss is not used because Linux "
                 "carries the forking parent's peak into it across exec"),
    }


# -- cold start ---------------------------------------------------------------------


def _rag_command() -> list[str]:
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]


_PROFILE_CHILD = """
import json, sys, time
started = time.perf_counter()
import rag.cli
from rag.assistant import Assistant
imported = time.perf_counter()
assistant = Assistant(home=sys.argv[1])
built = time.perf_counter()
assistant.ask(sys.argv[2], use_llm=False)
asked = time.perf_counter()
heavy = ("gradio", "llama_index.core", "llama_index.vector_stores.chroma", "openai", "bm25s",
         "chromadb", "onnxruntime", "tokenizers", "nltk", "pandas", "httpx", "fastapi",
         "pydantic", "scipy", "sklearn", "torch", "tqdm", "yaml")
print(json.dumps({"import_s": imported - started, "open_s": built - imported,
                  "first_ask_s": asked - built,
                  "modules_loaded": [m for m in heavy if m in sys.modules],
                  "module_count": len(sys.modules)}))
"""


def _import_times(stderr: str, top: int = 12) -> list[dict[str, Any]]:
    """Top-level packages by cumulative import time, from `python -X importtime`."""
    totals: dict[str, int] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and not match.group(3):
            name = match.group(4).split(".")[0]
            totals[name] = totals.get(name, 0) + int(match.group(2))
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"package": name, "ms": round(us / 1000, 1)} for name, us in ranked]


def _cold_start(seed_corpus: Path, work: Path, embedder: MiniLMEmbedder, runs: int,
                question: str) -> dict[str, Any]:
    from rag.assistant import Assistant

    home = work / "seed-home"
    Assistant(home=home, embedder=embedder).ingest(seed_corpus)
    command = [*_rag_command(), "ask", question, "--json"]
    env = _child_env(home)

    def run() -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work,
                              timeout=300, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-2000:]}")
        return seconds, json.loads(done.stdout)

    first_s, _ = run()
    load = _load()
    times = []
    answer: dict[str, Any] = {}
    for _ in range(runs):
        seconds, answer = run()
        times.append(seconds)
    profile = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROFILE_CHILD,
                              str(home), question], capture_output=True, text=True,
                             env=_child_env(), cwd=work, timeout=300, check=False)
    phases: dict[str, Any] = {}
    if profile.returncode == 0:
        phases = json.loads(profile.stdout.strip().splitlines()[-1])
        phases = {k: round(v, 3) if isinstance(v, float) else v for k, v in phases.items()}
        phases["slowest_imports"] = _import_times(profile.stderr)
    return {
        "command": " ".join(["RAG_HOME=<seed home>", "RAG_LLM=none",
                             *(Path(command[0]).name if i == 0 else repr(c) if " " in c else c
                               for i, c in enumerate(command))]),
        "runs_s": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
        "first_run_s": round(first_s, 3), "load_1m": load,
        "answer_mode": answer.get("mode"), "answer_refused": answer.get("refused"),
        "phases_in_process": phases,
        "what": ("wall time of a fresh `rag ask ... --json` process on the ingested seed "
                 "corpus; one untimed run first so the OS file cache is warm, as it is for "
                 "anyone running the command twice"),
    }


# -- the whole bench ----------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _check(name: str, value: float | None) -> dict[str, Any]:
    operator, limit, label = TARGETS[name]
    passed = None if value is None else (value >= limit if operator == ">=" else value <= limit)
    return {"target": f"{operator} {limit:g}", "value": value, "pass": passed, "label": label}


def run_perf_bench(articles: Path, seed_corpus: Path, json_out: Path | None,
                   sizes: Sequence[int] = DEFAULT_SIZES, *, queries: Path | None = None,
                   n_questions: int = 50, k: int = 5, ingest_runs: int = 3,
                   cold_runs: int = 3, memory_questions: int = 10,
                   question: str = DEFAULT_QUESTION, log: Log | None = _stderr
                   ) -> dict[str, Any]:
    """Run every measurement in one go and return the figures (written as JSON to
    `json_out`, with a markdown table beside it, when given). `queries` defaults to the
    `queries.jsonl` next to `articles`."""
    say: Log = log or (lambda _message: None)
    begun = time.perf_counter()
    _LOADS.clear()
    phases: dict[str, float] = {}

    def phase_done(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 1)
        return now

    articles, seed_corpus = Path(articles), Path(seed_corpus)
    if queries is None:
        queries = articles.parent / "queries.jsonl"
    inputs = [articles, seed_corpus]
    sizes = sorted({int(s) for s in sizes})
    result: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_1m_start": _load(),
            "inputs": [display_path(p) for p in inputs], "queries": display_path(queries),
            "sizes": sizes,
            "versions": {p: _version(p) for p in ("chromadb", "llama-index-core",
                                                  "llama-index-vector-stores-chroma",
                                                  "onnxruntime", "tokenizers", "numpy")},
            "tempdir": tempfile.gettempdir(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="rag-perf-") as tmp:
        work = Path(tmp)
        embedder = MiniLMEmbedder()
        started = time.perf_counter()
        # Both ways the model runs: one text (the all-core session) and a bulk call (the
        # per-core sessions an ingest uses, made on first use).
        embedder.embed(["Warm up the model: loading it is a one-off cost."])
        embedder.embed(["Warm up the per-core sessions too."]
                       * (BULK_FROM_BATCHES * embedder.batch_size))
        model_load_s = time.perf_counter() - started

        say("ingest: ours, the raw model on the same texts and the naive llama-index "
            "pipeline, in turn")
        mark = time.perf_counter()
        ours, raw, naive, homes = _ingest_side_by_side(inputs, work, embedder,
                                                       max(ingest_runs, 1), say)
        ours["model_load_s"] = round(model_load_s, 3)
        mark = phase_done("ingest", mark)
        result["ingest"] = {
            "ours": ours, "naive": naive, "raw_model": raw,
            "ours_vs_naive_docs_per_s": statistics.median(naive["docs_ratio_per_run"]),
            "ours_vs_naive_chunks_per_s": statistics.median(naive["chunks_ratio_per_run"]),
            "ours_share_of_raw_model": round(statistics.median(raw["share_per_run"]), 3),
        }

        measured, warm, spare = _questions(queries, _documents(inputs), n_questions)
        # One collection per size, each grown from its own ingested copy of the inputs.
        while len(homes) < len(sizes):
            homes.append(work / f"ours-{len(homes)}")
            _ingest_once(inputs, homes[-1], embedder)
        by_size = dict(zip(sizes, homes, strict=False))
        builds: dict[str, float] = {}
        described: dict[str, Any] = {}
        for size, home in by_size.items():
            say(f"query: building {size} chunks")
            started = time.perf_counter()
            builder = CopyBuilder(Store(Settings(home=home), embedder_name=embedder.name,
                                        dimension=embedder.dimension))
            builder.grow(size)
            builds[str(size)] = round(time.perf_counter() - started, 1)
            described = builder.describe()
            del builder
        mark = phase_done("query_build", mark)
        say(f"query: {len(measured)} questions at {', '.join(map(str, sizes))} chunks")
        per_size, profile = _measure_queries(by_size, measured, warm, spare, k, embedder)
        for label, figures in per_size.items():
            figures["build_s"] = builds.get(label, 0.0)
            say(f"query at {figures['chunks']} chunks: retrieve p50 "
                f"{figures['retrieve_ms']['p50']} ms, answer p50 {figures['answer_ms']['p50']} ms")
        mark = phase_done("query_measure", mark)
        result["query"] = {
            "sizes": per_size, "questions": measured, "k": k, "collection": described,
            "profile_largest": profile,
            "what": ("Assistant.ask(question, use_llm=False) once per question and size, after "
                     "3 warm-up questions; one Assistant per size, all sharing one model with "
                     "its query cache bypassed (every question is new to every size), the sizes "
                     "taking turns question by question; retrieval = the answer's "
                     "timings['retrieve_ms'] (query embedding, Chroma query, live-hash check), "
                     "answer = wall time of ask()"),
        }
        say("memory: a fresh process answering at the largest size")
        result["memory"] = _peak_memory(by_size[sizes[-1]], measured[:memory_questions], k, work)
        mark = phase_done("memory", mark)
        say("cold start: `rag ask --json` in fresh processes")
        result["cold_start"] = _cold_start(seed_corpus, work, embedder, cold_runs, question)
        phase_done("cold_start", mark)

    largest = per_size[str(sizes[-1])] if sizes else None
    result["targets"] = {
        "ingest_vs_naive": _check("ingest_vs_naive", result["ingest"]["ours_vs_naive_docs_per_s"]),
        "ingest_vs_raw_model": _check("ingest_vs_raw_model",
                                      result["ingest"]["ours_share_of_raw_model"]),
        "retrieval_p50_ms": _check("retrieval_p50_ms",
                                   largest["retrieve_ms"]["p50"] if largest else None),
        "answer_p50_ms": _check("answer_p50_ms", largest["answer_ms"]["p50"] if largest else None),
        "cold_start_s": _check("cold_start_s", result["cold_start"]["median_s"]),
        "peak_rss_mb": _check("peak_rss_mb", result["memory"]["peak_rss_mb"]),
    }
    if largest:
        for name in ("retrieval_p50_ms", "answer_p50_ms", "peak_rss_mb"):
            result["targets"][name]["at_chunks"] = (result["memory"]["chunks"]
                                                    if name == "peak_rss_mb"
                                                    else largest["chunks"])
    result["meta"]["load_1m_end"] = _load()
    result["meta"]["load_1m_max"] = max(_LOADS)
    # The bench itself keeps up to one process per core busy; a load beyond that by more
    # than one is other work sharing the CPUs with it.
    result["meta"]["noisy"] = max(_LOADS) > (os.cpu_count() or 1) + 1
    result["meta"]["phases_s"] = phases
    result["meta"]["seconds"] = round(time.perf_counter() - begun, 1)
    result["meta"]["command"] = "python -m bench.perf --json evals/results/perf.json"
    if json_out is not None:
        json_out = Path(json_out)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        json_out.with_suffix(".md").write_text(format_table(result) + "\n", encoding="utf-8")
    return result


def _mark(passed: bool | None) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "FAIL")


def format_table(result: dict[str, Any]) -> str:
    """The figures as markdown: targets, ingest, query latency per size, start-up."""
    meta, ingest = result["meta"], result["ingest"]
    ours, naive, raw = ingest["ours"], ingest["naive"], ingest["raw_model"]
    lines = [
        "# Performance",
        "",
        f"{meta['started']}, {meta['cpus']} CPUs, python {meta['python']}, "
        f"load (1 min) {meta['load_1m_start']} at start, {meta['load_1m_end']} at end, "
        f"{meta['load_1m_max']} at most (the bench's own threads count: up to "
        f"{meta['cpus']}); whole bench {meta['seconds']} s."
        + (" **The machine was busy with other work: timings are inflated.**"
           if meta["noisy"] else ""),
        "",
        "| target | goal | measured | result |",
        "|---|---|---|---|",
    ]
    for target in result["targets"].values():
        where = f" (at {target['at_chunks']} chunks)" if "at_chunks" in target else ""
        lines.append(f"| {target['label']}{where} | {target['target']} | {target['value']} | "
                     f"{_mark(target['pass'])} |")
    dense = [f for name, f in result["query"]["sizes"].items() if name.endswith("-dense")]
    if dense:
        lines += ["", f"Retrieval and answers are measured with the default retriever; with "
                  f"dense retrieval alone (`RAG_HYBRID=0`) at {dense[0]['chunks']} chunks: "
                  f"retrieve p50 {dense[0]['retrieve_ms']['p50']} ms, answer p50 "
                  f"{dense[0]['answer_ms']['p50']} ms."]
    lines += [
        "",
        "## Ingest",
        "",
        "| pipeline | documents | chunks | seconds | docs/s | chunks/s | load |",
        "|---|---|---|---|---|---|---|",
        f"| ours (median of {len(ours['runs'])}) | {ours['documents']} | {ours['chunks']} | "
        f"{ours['seconds_median']} | {ours['docs_per_s']} | {ours['chunks_per_s']} | "
        f"{ours['runs'][-1]['load_1m']} |",
        f"| naive llama-index (median of {len(naive['runs'])}) | {naive['documents']} | "
        f"{naive['chunks']} | {naive['seconds_median']} | {naive['docs_per_s']} | "
        f"{naive['chunks_per_s']} | {naive['runs'][-1]['load_1m']} |",
        f"| raw model, embed only | – | {raw['texts']} | {raw['seconds_median']} | – | "
        f"{raw['chunks_per_s']} | {raw['load_1m']} |",
        "",
        f"ours / naive, median of the runs' ratios: {ingest['ours_vs_naive_docs_per_s']}× "
        f"docs/s (runs: {', '.join(map(str, naive['docs_ratio_per_run']))}), "
        f"{ingest['ours_vs_naive_chunks_per_s']}× chunks/s; ours / raw model: "
        f"{ingest['ours_share_of_raw_model']} of chunks/s.",
        "",
        "Where ingest time goes (seconds, fastest run of each; ours, then naive): "
        + ", ".join(f"{k} {v}" for k, v in min(ours["runs"], key=lambda r: r["seconds"])
                    ["steps_s"].items() if "." not in k)
        + "; naive: " + ", ".join(f"{k} {v}" for k, v in min(
            naive["runs"], key=lambda r: r["seconds"])["steps_s"].items()) + ".",
        "",
        "## Query latency (ms)",
        "",
        "| chunks | retriever | retrieve p50 | retrieve p95 | answer p50 | answer p95 | "
        "embed question | other embedding | Chroma calls | rest of retrieval | "
        "sentence scoring | warm-up, 3 questions, incl. side-index build (s) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for figures in result["query"]["sizes"].values():
        steps = figures["steps_p50_ms"]
        lines.append(
            f"| {figures['chunks']} | {figures['retriever']} | {figures['retrieve_ms']['p50']} | "
            f"{figures['retrieve_ms']['p95']} | {figures['answer_ms']['p50']} | "
            f"{figures['answer_ms']['p95']} | {steps.get('embed_query', 0.0)} | "
            f"{steps.get('embed_texts', 0.0)} | {steps.get('chroma_all', 0.0)} | "
            f"{steps.get('retrieve_other', 0.0)} | {steps.get('score_sentences', 0.0)} | "
            f"{figures['warmup_s']} | {figures['load_1m']} |")
    memory, cold = result["memory"], result["cold_start"]
    phases = cold.get("phases_in_process", {})
    lines += [
        "",
        f"{len(result['query']['questions'])} questions, k={result['query']['k']}, every size "
        "answering each question in turn. Step columns are per-question medians: the question's "
        "embedding; other model calls made while retrieving (clause vectors); all Chroma round "
        "trips; the rest of retrieval (lexical index, fusion, rerank, freshness checks); the "
        "answerer's sentence scoring (its sentence embeddings included). The index-build column "
        "is the warm-up, which includes building the retriever's side index for copies written "
        "straight to Chroma (ingest builds it as it goes).",
        "",
        "Where a question's time goes at the largest size (cProfile, cumulative ms per "
        "question; profiling slows Python more than native code, so this ranks, it does not "
        "measure): "
        + "; ".join(f"{row['function']} {row['ms_per_question']}"
                    for row in result["query"].get("profile_largest", [])[:12]) + ".",
        "",
        "## Start-up and memory",
        "",
        f"- cold start `{cold['command']}`: median {cold['median_s']} s of {cold['runs_s']} "
        f"(load {cold['load_1m']}); in-process: import {phases.get('import_s')} s, open "
        f"{phases.get('open_s')} s, first answer {phases.get('first_ask_s')} s; heavy modules "
        f"loaded: {', '.join(phases.get('modules_loaded', [])) or 'n/a'}",
        f"- peak RSS at {memory['chunks']} chunks: {memory['peak_rss_mb']} MiB "
        f"(sampled {memory['sampled_peak_rss_mb']} MiB); opening took {memory['open_s']} s, "
        f"first answer {memory['first_ask_ms']} ms, later answers p50 "
        f"{memory['later_asks_ms'].get('p50')} ms",
    ]
    return "\n".join(lines)


README_BEGIN = "<!-- perf:begin (generated by `python -m bench.perf --readme`) -->"
README_END = "<!-- perf:end -->"
_README_MARK = {True: "pass", False: "**miss**", None: "n/a"}


def readme_section(result: dict[str, Any]) -> str:
    """The README's performance summary: when and where it ran, and the targets."""
    meta = result["meta"]
    started = meta["started"].replace("T", " ")[:16]
    lines = [f"Last run (`evals/results/perf.json`, {started} UTC, {meta['cpus']} CPUs, "
             f"1-minute load {meta['load_1m_start']}–{meta['load_1m_max']}"
             + ("; the machine was busy, timings are inflated" if meta["noisy"] else "") + "):",
             "", "| measure | goal | measured | |", "| --- | --- | ---: | --- |"]
    for target in result["targets"].values():
        where = f" at {target['at_chunks']:,} chunks" if "at_chunks" in target else ""
        lines.append(f"| {target['label']}{where} | {target['target']} | {target['value']} | "
                     f"{_README_MARK[target['pass']]} |")
    return "\n".join(lines)


def update_readme(readme: Path, result: dict[str, Any]) -> None:
    """Replace the text between the perf markers in `readme` with `readme_section`."""
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{readme} has no {README_BEGIN!r} … {README_END!r} section")
    head = text[: begin + len(README_BEGIN)]
    readme.write_text(f"{head}\n{readme_section(result)}\n{text[end:]}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf",
                                     description="Ingest, query, start-up and memory figures.")
    parser.add_argument("--articles", type=Path,
                        default=PACKAGE_ROOT.parent / "shared/bench/multihop-rag/articles.jsonl")
    parser.add_argument("--seed", type=Path, default=PACKAGE_ROOT / "corpus")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--readme", type=Path, default=None, metavar="README",
                        help="rewrite the performance summary between the perf markers there")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=list(DEFAULT_SIZES), help="comma-separated chunk counts")
    args = parser.parse_args(argv)
    result = run_perf_bench(args.articles, args.seed, args.json, args.sizes)
    if args.readme is not None:
        update_readme(args.readme, result)
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
