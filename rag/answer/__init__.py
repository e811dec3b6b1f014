"""Answering: the offline answerers behind one interface, and the in-process generator.

- `Answerer`: what the chain needs of an offline answerer. Two implementations:
  `rag.answer.extractive.ExtractiveAnswerer` (the default, rules calibrated on the gold sets)
  and `rag.answer.learned.LearnedAnswerer` (the project's cross-encoder,
  `RAG_ANSWERER=learned`). `make_answerer` picks one from the settings.
- `rag.answer.local_llm` is the in-process generator (`RAG_LLM=local`): a packaged GGUF
  model run by llama.cpp through `xllamacpp`, behind the same `Generator` protocol as the
  OpenAI-compatible backend in `rag.answer.generation`, so prompts, marker parsing, span
  narrowing and per-sentence verification are the chain's, shared by both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rag.answer.extractive import Extraction
    from rag.config import Settings
    from rag.index.embeddings import Embedder
    from rag.schema import Passage

ANSWERERS = ("rules", "learned")


class Answerer(Protocol):
    def answer(self, question: str, passages: Sequence[Passage]) -> Extraction: ...

    def score_sentences(self, question: str, passages: Sequence[Passage]) -> list[Any]:
        """Candidate sentences, best first, each with `passage_index`, `start`, `end` and
        `score` (the local generator picks its excerpts with them)."""
        ...

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Unit sentence vectors, cached: the sentences it scored cost no second pass."""
        ...


def make_answerer(settings: Settings, embedder: Embedder) -> Answerer:
    from rag.errors import ConfigError

    if settings.answerer == "rules":
        from rag.answer.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(embedder)
    if settings.answerer == "learned":
        from rag.answer.learned import LearnedAnswerer

        return LearnedAnswerer(embedder)
    raise ConfigError(f"RAG_ANSWERER must be one of {', '.join(ANSWERERS)}, "
                      f"got {settings.answerer!r}")
