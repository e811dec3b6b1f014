"""Which retriever the settings ask for."""

from __future__ import annotations

from rag.config import Settings
from rag.index.embeddings import Embedder
from rag.index.store import Store
from rag.retrieve.base import Retriever
from rag.retrieve.dense import DenseRetriever


def make_retriever(settings: Settings, store: Store, embedder: Embedder) -> Retriever:
    """Hybrid retrieval (`RAG_HYBRID`, on by default) or the dense baseline. The hybrid
    side index lives under the data directory, one per collection."""
    if not settings.hybrid:
        return DenseRetriever(store, embedder)
    from rag.retrieve.hybrid import HybridRetriever

    return HybridRetriever(store, embedder, settings.home / "bm25" / settings.collection)
