"""`rag` inside a llama-index pipeline.

    from llama_index.core.query_engine import RetrieverQueryEngine
    from rag import Assistant
    from rag.integrations.llama_index import RagQueryEngine, RagRetriever

    assistant = Assistant(home=".rag")
    retriever = RagRetriever(assistant, k=5, filters={"source": ["Reuters"]})
    engine = RetrieverQueryEngine.from_args(retriever, llm=your_llm)  # their synthesis
    engine = RagQueryEngine(assistant)  # or our verified, cited answer

`RagRetriever` is a llama-index `BaseRetriever` over our hybrid retrieval: each passage
becomes a `NodeWithScore` whose metadata carry where it comes from (`doc_id`, `start`,
`end`, `quote` = the document's text at `[start:end]`, `title`, `source`,
`published_at`, `url`). `RagQueryEngine` answers through `Assistant.ask`, so the
`Response` is the verified answer (or "The sources don't say."), its `source_nodes` the
citations, each node's text the exact quote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.errors import InvalidArgumentError
from rag.schema import Citation, Passage

if TYPE_CHECKING:
    from rag.assistant import Assistant

RETRIEVE_KWARGS = frozenset({"k", "filters"})


def _checked(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(kwargs) - RETRIEVE_KWARGS
    if unknown:
        raise InvalidArgumentError(
            f"unknown argument(s) {', '.join(sorted(unknown))}; use k and filters")
    return dict(kwargs)


def passage_node(passage: Passage) -> NodeWithScore:
    metadata = passage.to_dict()
    text = metadata.pop("text")
    del metadata["score"], metadata["chunk_id"]
    node = TextNode(text=text, id_=passage.chunk_id or None, metadata=metadata | {"quote": text})
    return NodeWithScore(node=node, score=passage.score)


def citation_node(citation: Citation) -> NodeWithScore:
    return NodeWithScore(node=TextNode(text=citation.quote, metadata=citation.to_dict()),
                         score=None)


class RagRetriever(BaseRetriever):
    """Our retrieval as a llama-index retriever; `k` and `filters` as `Assistant.retrieve`
    takes them, checked here so a typo fails at construction, not at the first query."""

    def __init__(self, assistant: Assistant, **retrieve_kwargs: Any) -> None:
        super().__init__()
        self._assistant = assistant
        self._kwargs = _checked(retrieve_kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        passages = self._assistant.retrieve(query_bundle.query_str, **self._kwargs)
        return [passage_node(p) for p in passages]


class RagQueryEngine(BaseQueryEngine):
    """The verified, cited answer of `Assistant.ask` as a llama-index `Response`."""

    def __init__(self, assistant: Assistant, *, use_llm: bool = True,
                 **retrieve_kwargs: Any) -> None:
        super().__init__(callback_manager=None)
        self._assistant = assistant
        self._use_llm = use_llm
        self._kwargs = _checked(retrieve_kwargs)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self._assistant.ask(query_bundle.query_str, use_llm=self._use_llm,
                                     **self._kwargs)
        return Response(
            response=answer.text,
            source_nodes=[citation_node(c) for c in answer.citations],
            metadata={"refused": answer.refused, "mode": answer.mode,
                      "reason": answer.reason,
                      "closest": [passage_node(p) for p in answer.passages]
                      if answer.refused else []},
        )

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        # The answer path is synchronous and CPU-bound: keep it off the event loop.
        return await asyncio.to_thread(self._query, query_bundle)
