"""Offsets are the contract: chunk and citation text always equal their document slice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.answer.extractive import ExtractiveAnswerer
from rag.index.embeddings import MiniLMEmbedder
from rag.ingest.chunking import chunk_document
from rag.schema import Document, Passage
from rag.text.sentences import sentence_spans

EMBEDDER = MiniLMEmbedder()

sentence = st.one_of(
    st.text(min_size=1, max_size=400),
    st.sampled_from([
        "“Frankly, we’ve not seen anything,” he said.\r\n",
        "Mr. Smith went to Washington. ",
        "no punctuation at all just words " * 40,
        "Ünïcödé — ελληνικά 中文 😀 text.\n",
        "x" * 3000,
        "\u200bhidden\u202e text. ",
    ]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sentence, min_size=1, max_size=8).map("".join))
def test_chunks_and_sentences_are_exact_slices(text: str) -> None:
    document = Document(doc_id="d", text=text)
    chunks, sentences = chunk_document(document, EMBEDDER, max_tokens=64)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
        assert EMBEDDER.count_tokens([chunk.text])[0] <= 254 or len(chunk.text) == 1
    for start, end in sentences:
        assert 0 <= start < end <= len(text)
    covered = "".join(text[s:e] for s, e in sentences)
    assert "".join(covered.split()) == "".join(text.split()) or not text.strip() or covered


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sentence, min_size=1, max_size=5).map("".join))
def test_extractive_citations_are_exact_slices(text: str) -> None:
    document = Document(doc_id="d", text=text)
    chunks, sentences = chunk_document(document, EMBEDDER, max_tokens=64)
    passages = [Passage(doc_id="d", text=c.text, start=c.start, end=c.end, score=1.0,
                        sentences=[(s, e) for s, e in sentences if c.start <= s and e <= c.end])
                for c in chunks]
    answerer = ExtractiveAnswerer(EMBEDDER, threshold=-1.0)
    citations = answerer.answer("What happened?", passages).citations
    for citation in citations:
        assert text[citation.start : citation.end] == citation.quote


def test_sentence_spans_split_lines_and_abbreviations() -> None:
    text = "Mr. Smith went to Washington. He left.\nA new line"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Mr. Smith went to Washington.", "He left.", "A new line"]


def test_long_sentence_is_cut_within_window() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    chunks, _ = chunk_document(Document(doc_id="d", text=text), EMBEDDER)
    assert len(chunks) > 1
    assert all(EMBEDDER.count_tokens([c.text])[0] <= 254 for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)
