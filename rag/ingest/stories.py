"""Which documents are one story and which are one document: near-duplicate articles
(wire copies, reprints, light edits) grouped by MinHash (`Stories`), and an article saved
twice in two files indexed once (`Copies`). Ingest (`rag.ingest.pipeline`) asks both
before it writes a document.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from rag.index.records import ManifestEntry, StoryMark
from rag.schema import Document
from rag.text.minhash import (
    SAME_STORY,
    decode,
    encode,
    numbers,
    same_numbers,
    signature,
    similarity,
)


class Stories:
    """One story, many copies: an article whose text is a near-duplicate of one already
    indexed (a wire copy, a reprint, a light edit: `rag.text.minhash.SAME_STORY`) joins
    that article's story; any other starts its own, named by its id and content hash.
    Retrieval then keeps one passage per story and the citation lists every outlet that
    carried it.

    Candidates come from locality-sensitive hashing (the signature cut into `BANDS` bands
    of two hashes; two texts sharing any band are compared: a pair right at the cut shares
    one with probability 1 - (1 - 0.24²)^64 ≈ 0.98), so a new article is compared with its
    few likely copies, not with every indexed one. Of several matches the first in id
    order wins. Which document names a story depends on which was indexed first; that a
    reprint and its original share one does not."""

    BANDS = 64

    def __init__(self, manifest: Mapping[str, ManifestEntry]) -> None:
        self._story: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}  # story -> its documents
        self._signature: dict[str, np.ndarray] = {}
        self._numbers: dict[str, list[str]] = {}
        self._buckets: dict[tuple[int, bytes], set[str]] = {}
        for entry in sorted(manifest.values(), key=lambda e: e.doc_id):
            sig = decode(entry.minhash) if entry.minhash else None
            if sig is not None:
                self._add(entry.doc_id, entry.story or entry.doc_id, sig, list(entry.numbers))

    def _bands(self, sig: np.ndarray) -> list[tuple[int, bytes]]:
        rows = len(sig) // self.BANDS
        return [(b, sig[b * rows : (b + 1) * rows].tobytes()) for b in range(self.BANDS)]

    def _add(self, doc_id: str, story: str, sig: np.ndarray, found: list[str]) -> None:
        self._story[doc_id], self._signature[doc_id] = story, sig
        self._members.setdefault(story, set()).add(doc_id)
        self._numbers[doc_id] = found
        for band in self._bands(sig):
            self._buckets.setdefault(band, set()).add(doc_id)

    def _forget(self, doc_id: str) -> None:
        old = self._signature.pop(doc_id, None)
        story = self._story.pop(doc_id, None)
        if story is not None:
            self._members.get(story, set()).discard(doc_id)
        self._numbers.pop(doc_id, None)
        for band in self._bands(old) if old is not None else ():
            self._buckets.get(band, set()).discard(doc_id)

    def assign(self, document: Document, digest: str, keep: str = "") -> StoryMark:
        """The story of a document about to be written (`digest`: its content hash);
        `keep` is the story it already has (a re-index keeps it). A new story is named
        by the document and this version of its text, so a document rewritten beyond
        recognition does not stay in the story its reprints still carry."""
        sig, found = signature(document.text), numbers(document.text)
        self._forget(document.doc_id)
        story = keep
        if not story:
            near = sorted({d for band in self._bands(sig) for d in self._buckets.get(band, ())})
            if near:
                scores = similarity(sig, np.stack([self._signature[d] for d in near]))
                best = next((d for d, score in zip(near, scores, strict=True)
                             if score >= SAME_STORY
                             and same_numbers(found, self._numbers[d])), None)
                story = self._story[best] if best is not None else ""
        story = story or f"{document.doc_id}@{digest[:12]}"
        before = sorted(self._members.get(story, set()) - {document.doc_id})
        self._add(document.doc_id, story, sig, found)
        # A story's first copy makes its lone document shared too: its chunks, written
        # before, get the mark after this commit (`Store.mark_story_shared`).
        return StoryMark(story, encode(sig), tuple(found), shared=bool(before),
                         newly_shared=tuple(before) if len(before) == 1 else ())


class Copies:
    """Content identity: a new document whose text and metadata are exactly those of one
    already indexed from another file (the same article saved twice) is not indexed
    again; the other file is recorded as a copy of the first, and listed with it.

    The first is the indexed document whose file still exists (the one with the smallest
    path if several), else the first of this run's new documents. Documents indexed
    twice before copies were recognised stay two until one of them changes."""

    def __init__(self, manifest: dict[str, ManifestEntry]) -> None:
        self._manifest = manifest
        self._by_hash: dict[str, list[ManifestEntry]] = {}
        for entry in manifest.values():
            if entry.identity:
                self._by_hash.setdefault(entry.identity, []).append(entry)
        self._new: dict[str, tuple[str, str]] = {}  # identity → this run's (doc id, path)
        self._rewritten: set[str] = set()  # ids whose text this run changes
        self.found: list[tuple[str, str]] = []  # (copy's path, original's doc id)
        self._copy_ids: dict[str, set[str]] = {}  # copy's path → its documents' own ids

    def is_copy(self, document: Document, file: str) -> bool:
        original = self._original(document.identity, document.path)
        if original is None:
            return False
        self.found.append((document.path, original))
        self._copy_ids.setdefault(file, set()).add(document.doc_id)
        return True

    def planned(self, document: Document) -> None:
        self._rewritten.add(document.doc_id)
        self._new.setdefault(document.identity, (document.doc_id, document.path))

    def ids_of(self, file: str) -> set[str]:
        """The ids the copies in `file` would have had: not documents of that file."""
        return self._copy_ids.get(file, set())

    def _original(self, identity: str, path: str) -> str | None:
        # Only a stat per candidate with the same hash: an unchanged re-ingest stays cheap.
        live = sorted((e.path, e.doc_id) for e in self._by_hash.get(identity, ())
                      if e.path != path and e.doc_id not in self._rewritten
                      and os.path.isfile(e.path))
        if live:
            return live[0][1]
        new = self._new.get(identity)
        return new[0] if new is not None and new[1] != path else None

    def to_record(self, committed: set[str]) -> dict[str, list[str]]:
        """Each original's copies to store, where they changed: the known ones whose
        file still exists plus the new, for originals that are indexed."""
        paths: dict[str, set[str]] = {}
        for path, original in self.found:
            if original in committed:
                paths.setdefault(original, set()).add(path)
        record = {}
        for original, new in paths.items():
            entry = self._manifest.get(original)
            known = set(entry.copies) if entry and original not in self._rewritten else set()
            kept = {p for p in known if os.path.isfile(p)} | new
            if kept != known:
                record[original] = sorted(kept)
        return record
