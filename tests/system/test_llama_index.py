"""`rag` inside llama-index: our retriever under llama-index's own `RetrieverQueryEngine`
(with its `MockLLM`), and our query engine's verified answer as a `Response`."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from rag import Assistant, InvalidArgumentError
from rag.integrations.llama_index import RagQueryEngine, RagRetriever

QUESTION = "Why did the peacekeepers leave?"


def test_llama_index_synthesises_over_our_passages(seed_assistant: Assistant) -> None:
    engine = RetrieverQueryEngine.from_args(RagRetriever(seed_assistant, k=3), llm=MockLLM())
    response = engine.query(QUESTION)
    assert len(response.source_nodes) == 3
    texts = seed_assistant.document_texts()
    for hit in response.source_nodes:
        meta = hit.node.metadata
        assert meta["quote"] == texts[meta["doc_id"]][meta["start"]:meta["end"]]
        assert hit.node.get_content() == meta["quote"]
        assert {"title", "source", "published_at", "url"} <= meta.keys()
        assert isinstance(hit.score, float)
    ours = seed_assistant.retrieve(QUESTION, k=3)
    assert [h.node.metadata["start"] for h in response.source_nodes] == [p.start for p in ours]


def test_filters_reach_our_retrieval(seed_assistant: Assistant) -> None:
    nodes = RagRetriever(seed_assistant, filters={"source": ["No Such Outlet"]}).retrieve(
        QUESTION)
    assert nodes == []


def test_a_misspelt_argument_fails_at_construction(seed_assistant: Assistant) -> None:
    with pytest.raises(InvalidArgumentError, match="top_k"):
        RagRetriever(seed_assistant, top_k=3)
    with pytest.raises(InvalidArgumentError, match="filter"):
        RagQueryEngine(seed_assistant, filter={"source": "Reuters"})


def test_our_query_engine_returns_the_cited_answer(seed_assistant: Assistant) -> None:
    engine = RagQueryEngine(seed_assistant, use_llm=False)
    response = engine.query(QUESTION)
    assert isinstance(response, Response) and response.metadata is not None
    answer = seed_assistant.ask(QUESTION, use_llm=False)
    assert response.response == answer.text and not response.metadata["refused"]
    assert [n.node.metadata["quote"] for n in response.source_nodes] == \
        [c.quote for c in answer.citations]
    texts = seed_assistant.document_texts()
    for hit in response.source_nodes:
        meta = hit.node.metadata
        assert meta["quote"] == texts[meta["doc_id"]][meta["start"]:meta["end"]]


def test_an_unanswerable_question_is_refused_with_the_closest_passages(
        seed_assistant: Assistant) -> None:
    engine = RagQueryEngine(seed_assistant, use_llm=False, k=4)
    response = asyncio.run(engine.aquery("What did China say about the withdrawal?"))
    assert isinstance(response, Response) and response.metadata is not None
    assert str(response.response).startswith("The sources don't say.")
    assert response.metadata["refused"] and response.source_nodes == []
    assert len(response.metadata["closest"]) == 4
