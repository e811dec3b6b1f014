"""Dense retrieval: Chroma's nearest chunks to the question's vector; the baseline.

Chroma is queried directly rather than through llama-index's `VectorIndexRetriever`:
we already hold the query vector and need the raw metadata (offsets, sentence spans,
content hash) back, and skipping the node conversion saves several milliseconds a
query at 100k chunks without losing anything llama-index would add here.
"""

from __future__ import annotations

from typing import Any

from rag.index.embeddings import Embedder
from rag.index.store import Store
from rag.retrieve.base import Retriever, live_passages
from rag.schema import Passage


class DenseRetriever(Retriever):
    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def refresh(self) -> None:
        """Nothing to catch up: Chroma is the whole index."""

    def _retrieve(self, question: str, k: int, where: dict[str, Any] | None
                  ) -> list[Passage]:
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
