"""The embedder's batching, late-chunked span vectors and query cache, and the sentence
vectors ingest hands to the retriever so that its index refresh runs no model pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench._common import EmbedderProxy
from rag.assistant import Assistant
from rag.index.embeddings import MiniLMEmbedder
from rag.index.side_index import sentence_spans_in
from rag.retrieve.hybrid import HybridRetriever

TEXTS = [
    "The council approved the budget on Tuesday. Critics called it reckless.",
    "Shares of Acme rose 12% after the merger was announced.",
    "Rain is expected.",
]
SPANS = [[(0, 44), (45, 71)], [(0, 55)], []]


def test_span_pass_gives_the_chunk_vectors_embed_gives(embedder: MiniLMEmbedder) -> None:
    vectors, parts = embedder.embed_spans(TEXTS, SPANS)
    assert np.allclose(vectors, embedder.embed(TEXTS), atol=1e-6)
    assert [len(p) for p in parts] == [2, 1, 0]
    for part in parts[:2]:
        assert np.allclose(np.linalg.norm(part, axis=1), 1.0, atol=1e-5)
    # A sentence pooled in its chunk is near its own embedding, nearer than to the other
    # sentence of the chunk.
    alone = embedder.embed([TEXTS[0][s:e] for s, e in SPANS[0]])
    similarity = parts[0] @ alone.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]
    assert similarity[0, 0] > 0.7


def test_batches_of_any_size_give_the_same_vectors(embedder: MiniLMEmbedder) -> None:
    texts = [f"Report number {n}: " + "the committee met again " * (n % 7) for n in range(20)]
    small = MiniLMEmbedder(batch_size=3)
    assert np.allclose(small.embed(texts), embedder.embed(texts), atol=1e-5)
    assert np.allclose(embedder.embed(texts[:1]), embedder.embed(texts)[:1], atol=1e-5)
    assert embedder.embed([]).shape == (0, embedder.dimension)


def test_a_bulk_call_on_per_core_sessions_gives_every_row_its_own_vector() -> None:
    texts = [f"Dispatch {n}: " + "the ceasefire held overnight " * (n % 9) for n in range(40)]
    spans = [[(0, len(f"Dispatch {n}:"))] if n % 2 else [] for n in range(40)]
    one_core = MiniLMEmbedder(batch_size=2, threads=1)
    bulk = MiniLMEmbedder(batch_size=2, threads=2)
    vectors, parts = bulk.embed_spans(texts, spans)
    assert bulk._bulk is not None and len(bulk._bulk) == 2  # 20 batches: the bulk path ran
    expected, expected_parts = one_core.embed_spans(texts, spans)
    assert np.allclose(vectors, expected, atol=1e-5)
    for part, wanted in zip(parts, expected_parts, strict=True):
        assert part.shape == wanted.shape and np.allclose(part, wanted, atol=1e-5)
    assert np.allclose(bulk.embed(texts), expected, atol=1e-5)


@pytest.mark.parametrize(("cores", "sessions", "threads_each"), [(2, 2, 1), (6, 3, 2)])
def test_bulk_sessions_use_every_core_in_at_most_four_sessions(cores: int, sessions: int,
                                                                threads_each: int) -> None:
    embedder = MiniLMEmbedder(threads=cores)
    embedder.embed(["load the model"])
    made = embedder._bulk_sessions()
    assert [s.get_session_options().intra_op_num_threads for s in made] == (
        [threads_each] * sessions)


def test_span_past_the_window_is_embedded_on_its_own(embedder: MiniLMEmbedder) -> None:
    filler = "word " * 300
    tail = "The treaty was signed in Geneva."
    text = filler + tail
    _, (part,) = embedder.embed_spans([text], [[(0, 20), (len(filler), len(text))]])
    assert np.isfinite(part).all()
    assert np.allclose(part[1], embedder.embed([tail])[0], atol=1e-5)


def write_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"title": f"Article {n}", "source": "Wire", "published_at": "2024-01-0{n}",
             "body": f"Report {n} opens here. The mayor of Town{n} resigned on Monday. "
                     f"Officials in Town{n} said a vote follows in spring."}
            for n in range(1, 6)]
    path = folder / "articles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_ingest_hands_sentence_vectors_to_the_index(make_assistant: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assistant: Assistant = make_assistant()
    retriever = assistant.retriever
    assert isinstance(retriever, HybridRetriever)
    refreshing = False
    real_refresh = retriever.refresh
    real_spans = assistant.embedder.embed_spans

    def refresh() -> None:
        nonlocal refreshing
        refreshing = True
        try:
            real_refresh()
        finally:
            refreshing = False

    def spans(texts: Any, wanted: Any) -> Any:
        assert not refreshing, "the index refresh ran the model"
        return real_spans(texts, wanted)

    monkeypatch.setattr(retriever, "refresh", refresh)
    monkeypatch.setattr(assistant.embedder, "embed_spans", spans)
    report = assistant.ingest(write_articles(tmp_path / "src"))
    assert report.chunks == 5 and not report.failed
    index = retriever._ensure_index()
    assert len(index) == 5 and not retriever._pending
    # What the index holds is what one pass over the stored chunk gives.
    chunk = next(iter(assistant.store.all_chunks()))
    spans_of_chunk = sentence_spans_in(chunk)
    assert len(spans_of_chunk) == 3
    _, (expected,) = real_spans([chunk.text], [spans_of_chunk])
    held = index.sentence_vectors(index.row[chunk.chunk_id]).astype(np.float32)
    assert np.allclose(held, expected, atol=2e-3)

    # A fresh retriever (another process) computes the same vectors itself.
    monkeypatch.setattr(assistant.embedder, "embed_spans", real_spans)
    other = HybridRetriever(assistant.store, assistant.embedder, tmp_path / "other-index")
    rebuilt = other._ensure_index()
    assert np.allclose(rebuilt.sentence_vectors(rebuilt.row[chunk.chunk_id]), held, atol=2e-3)


def test_a_proxy_forwards_the_whole_interface(embedder: MiniLMEmbedder) -> None:
    proxy = EmbedderProxy(embedder)
    text = "Peacekeepers left Karabakh."
    assert (proxy.name, proxy.dimension) == (embedder.name, embedder.dimension)
    assert np.allclose(proxy.embed([text]), embedder.embed([text]))
    assert np.allclose(proxy.embed_query(text), embedder.embed_query(text))
    vectors, parts = proxy.embed_spans([text], [[(0, 12)]])
    assert np.allclose(vectors, embedder.embed([text])) and parts[0].shape == (1, 384)
    assert proxy.count_tokens([text]) == embedder.count_tokens([text])
    assert proxy.token_spans(text) == embedder.token_spans(text)
