"""Chunks with exact character offsets, packed from sentences (`rag.text.sentences`).

llama-index's splitters return strings, not offsets, and normalise whitespace, so the
packing into chunks is ours: whole sentences up to the embedding window, a one-sentence
overlap, and over-long sentences cut at wordpiece boundaries. Every chunk satisfies
`document.text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

import hashlib

from rag.index.embeddings import MAX_CONTENT_WORDPIECES, Embedder
from rag.schema import Chunk, Document
from rag.text.sentences import Span, sentence_spans, trim

# Shorter than the model's window: MiniLM was trained on short inputs and ranks
# tighter passages better; 2 tokens of slack absorb tokenizer differences.
DEFAULT_CHUNK_TOKENS = 160


def chunk_id(doc_id: str, content_hash: str, index: int) -> str:
    # The content hash is part of the id so a changed document's new chunks never
    # overwrite its old ones: the old stay searchable until the new are stored.
    return f"{doc_id}-{content_hash[:12]}-{index:04d}"


def content_hash(document: Document) -> str:
    digest = hashlib.sha256(document.text.encode("utf-8"))
    for key, value in sorted(document.metadata.items()):
        digest.update(f"\x00{key}={value}".encode())
    return digest.hexdigest()


def chunk_document(
    document: Document,
    embedder: Embedder,
    *,
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    doc_hash: str | None = None,
) -> tuple[list[Chunk], list[Span]]:
    """The document's chunks and its sentence spans (over-long sentences in pieces)."""
    max_tokens = min(max_tokens, MAX_CONTENT_WORDPIECES)
    text = document.text
    sentences = sentence_spans(text)
    pieces = _fit_sentences(text, sentences, embedder, max_tokens)
    doc_hash = doc_hash or content_hash(document)
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        budget = max_tokens
        j = i
        while j < len(pieces) and (j == i or pieces[j][2] <= budget):
            budget -= pieces[j][2]
            j += 1
        start, end = pieces[i][0], pieces[j - 1][1]
        chunks.append(Chunk(chunk_id(document.doc_id, doc_hash, len(chunks)),
                            document.doc_id, start, end, text[start:end]))
        if j >= len(pieces):
            break
        # Overlap one sentence so an answer that spans a boundary is whole in one chunk.
        i = j - 1 if j - 1 > i and pieces[j - 1][2] <= max_tokens // 3 else j
    # The headline stays in the chunks (its words help retrieval) but is not one of the
    # article's sentences: an answer quotes what the article says, not its title.
    title = " ".join(document.title.split())
    return chunks, [(s, e) for s, e, _ in pieces
                    if not title or " ".join(text[s:e].split()).lstrip("# ") != title]


def _fit_sentences(
    text: str, sentences: list[Span], embedder: Embedder, max_tokens: int
) -> list[tuple[int, int, int]]:
    """(start, end, tokens) per sentence, over-long sentences cut at token boundaries."""
    counts = embedder.count_tokens([text[s:e] for s, e in sentences]) if sentences else []
    pieces: list[tuple[int, int, int]] = []
    for (start, end), count in zip(sentences, counts, strict=True):
        if count <= max_tokens:
            pieces.append((start, end, count))
            continue
        offsets = embedder.token_spans(text[start:end])
        for k in range(0, len(offsets), max_tokens):
            window = offsets[k : k + max_tokens]
            piece_start = start + window[0][0]
            piece_end = start + (offsets[k + max_tokens][0] if k + max_tokens < len(offsets)
                                 else end - start)
            s, e = trim(text, piece_start, piece_end)
            if e > s:
                pieces.append((s, e, len(window)))
    return pieces
