"""What the store keeps, as Chroma holds it: the metadata of a chunk and of a document's
entry (manifest), built for writing and read back into `StoredChunk` and `ManifestEntry`.

Chroma metadata values are scalars, so lists (sentence spans, copies, numbers) are kept
as JSON strings, and a publication date also as `published_ts` (Unix seconds) so that a
`where` filter can compare it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rag.schema import ARTICLE_FIELDS, PAGE_BREAK, Chunk, Document

# Chunk id → one vector per sentence of the chunk, as ingest computed them (a side
# index keeps them, so retrieval never re-embeds a sentence).
SentenceSink = Callable[[Mapping[str, np.ndarray]], None]

DOC_FIELDS = (*ARTICLE_FIELDS, "path")
STORY = "story"
STORY_SHARED = "story_shared"
COPIES = "copies"
# A chunk's text is kept in its metadata under this key, not as the Chroma record's
# document: writing it as a document costs almost twice as much (0.16 s against 0.09 s
# for the perf bench's 338 chunks), for a full-text index nothing here uses. Stores
# written before hold it as the document; reads take either (`stored_chunk`).
CHUNK_TEXT = "text"
# When a chunk was written (Unix seconds): the orphan sweep spares young chunks on a
# Chroma server (`rag.index.store.ORPHAN_GRACE_S`).
WRITTEN_AT = "written_at"


@dataclass(frozen=True)
class ManifestEntry:
    doc_id: str
    content_hash: str
    path: str
    root: str
    chunks: int
    url: str = ""
    # Other files holding exactly this text, indexed once, as this document.
    copies: tuple[str, ...] = ()
    identity: str = ""  # Document.identity; "" for entries written before it was kept
    # The story a near-duplicate of another article belongs to (rag.text.minhash), named
    # "<doc id>@<content hash>" after the document that started it; "" for entries
    # written before stories were kept.
    story: str = ""
    minhash: str = ""  # the text's MinHash signature, rag.text.minhash.encode
    numbers: tuple[str, ...] = ()  # the text's numbers, rag.text.minhash.numbers


@dataclass(frozen=True)
class StoryMark:
    """What a document's entry records of its story (rag.ingest.stories.Stories)."""

    story: str
    minhash: str
    numbers: tuple[str, ...]
    shared: bool = False  # the story has other documents
    newly_shared: tuple[str, ...] = ()  # its one other document, until now alone in it


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    distance: float
    metadata: dict[str, Any]


def published_ts(value: str) -> int | None:
    """Seconds since the epoch for an ISO date or datetime, or None if it is not one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


# -- document entries ------------------------------------------------------------


def manifest_entry(doc_id: str, meta: dict[str, Any]) -> ManifestEntry:
    return ManifestEntry(doc_id, str(meta["content_hash"]), str(meta.get("path", "")),
                         str(meta.get("root", "")), int(meta.get("chunks", 0)),
                         str(meta.get("url") or ""), copies_of(meta),
                         str(meta.get("identity") or ""), str(meta.get(STORY) or ""),
                         str(meta.get("minhash") or ""),
                         tuple(json.loads(str(meta.get("numbers") or "[]"))))


def copies_of(meta: Mapping[str, Any]) -> tuple[str, ...]:
    # A JSON list in one string: Chroma metadata values are scalars.
    raw = meta.get(COPIES)
    return tuple(json.loads(raw)) if isinstance(raw, str) and raw else ()


def stored_document(doc_id: str, text: str, meta: Mapping[str, Any]) -> Document:
    return Document(doc_id=doc_id, text=text,
                    **{name: str(meta.get(name, "")) for name in DOC_FIELDS})


def document_rows(metadata: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """A listing row per (doc id, entry metadata): the document's fields, chunk count,
    copies, story, and the story's other documents (`story_mates`), in listing order."""
    rows: list[dict[str, Any]] = [{**{name: str(meta.get(name, "")) for name in DOC_FIELDS},
             "doc_id": doc_id, "chunks": int(meta.get("chunks", 0)),
             "copies": list(copies_of(meta)), STORY: str(meta.get(STORY) or doc_id)}
            for doc_id, meta in metadata]
    members: dict[str, list[str]] = {}
    for row in rows:
        members.setdefault(row[STORY], []).append(row["doc_id"])
    for row in rows:  # the other documents of its story, in listing order
        row["story_mates"] = [d for d in members[row[STORY]] if d != row["doc_id"]]
    return rows


def entry_metadata(document: Document, digest: str, root: str, chunks: int,
                   mark: StoryMark | None) -> dict[str, Any]:
    """A document entry's metadata: its fields, content hash, root and chunk count, and
    its story (`mark`, or a story of its own)."""
    meta: dict[str, Any] = {name: getattr(document, name) for name in DOC_FIELDS}
    # A new version is nobody's copy yet: files that matched the old text are
    # re-read by the ingest that wrote it (rag.ingest.pipeline).
    meta.update(content_hash=digest, root=root, chunks=chunks,
                identity=document.identity, **{COPIES: ""})
    meta.update({STORY: mark.story if mark else document.doc_id,
                 "minhash": mark.minhash if mark else "",
                 "numbers": json.dumps(list(mark.numbers) if mark else [])})
    ts = published_ts(document.published_at)
    if ts is not None:
        meta["published_ts"] = ts
    return meta


# -- chunks ------------------------------------------------------------------------


def stored_chunk(chunk_id: str, document: str | None, distance: float,
                 metadata: Mapping[str, Any] | None) -> StoredChunk | None:
    """A chunk as Chroma returned it (its text in its metadata, or as the record's
    document in stores written before), or None if it came back empty (deleted)."""
    if metadata is None:
        return None
    meta = dict(metadata)
    text = meta.pop(CHUNK_TEXT, None)
    text = document if text is None else str(text)
    return None if text is None else StoredChunk(chunk_id, text, distance, meta)


def sentences_in_chunk(text: str, start: int, sentences: Iterable[Sequence[int]]
                       ) -> list[tuple[int, int]]:
    """The non-blank sentences among `sentences` (document spans) lying inside the chunk
    `text` that starts at `start`, as spans into `text`."""
    end = start + len(text)
    inside = [(int(s) - start, int(e) - start) for s, e in sentences
              if int(s) >= start and int(e) <= end]
    return [(s, e) for s, e in inside if text[s:e].strip()]


def chunk_metadata(document: Document, chunk: Chunk, *, content_hash: str,
                   sentences: Sequence[tuple[int, int]],
                   instructions: Sequence[tuple[int, int]] = (),
                   story: str = "", story_shared: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": document.doc_id,
        # Retrieval keeps one passage per story (near-duplicate articles), and looks up
        # the story's other documents only where it has some.
        STORY: story or document.doc_id,
        STORY_SHARED: story_shared,
        "content_hash": content_hash,
        "start": chunk.start,
        "end": chunk.end,
        # Sentence spans inside this chunk, so answers need no re-segmentation.
        "sentences": json.dumps([[s, e] for s, e in sentences
                                 if s >= chunk.start and e <= chunk.end]),
        # Text addressed to a model, as found in the whole document at ingest, clipped
        # to the chunk: answering reads it here instead of searching every passage again.
        "instructions": json.dumps([[max(s, chunk.start), min(e, chunk.end)]
                                    for s, e in instructions
                                    if s < chunk.end and chunk.start < e]),
    }
    if PAGE_BREAK in document.text:  # a document with pages: the page the chunk starts on
        meta["page"] = document.text.count(PAGE_BREAK, 0, chunk.start) + 1
    for name in ARTICLE_FIELDS:
        meta[name] = getattr(document, name)
    ts = published_ts(document.published_at)
    if ts is not None:
        meta["published_ts"] = ts
    return meta
