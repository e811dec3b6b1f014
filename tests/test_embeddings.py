"""The embedder's batching and its late-chunked span vectors."""

from __future__ import annotations

import numpy as np

from rag.embeddings import MiniLMEmbedder

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


def test_span_past_the_window_is_embedded_on_its_own(embedder: MiniLMEmbedder) -> None:
    filler = "word " * 300
    tail = "The treaty was signed in Geneva."
    text = filler + tail
    _, (part,) = embedder.embed_spans([text], [[(0, 20), (len(filler), len(text))]])
    assert np.isfinite(part).all()
    assert np.allclose(part[1], embedder.embed([tail])[0], atol=1e-5)
