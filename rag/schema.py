"""The values that cross the public API: documents, passages, citations, answers, reports.

Every span is a pair of character offsets into `Document.text`; the invariants
`passage.text == document.text[start:end]` and `citation.quote == document.text[start:end]`
are what make an answer checkable, and the code that creates these objects keeps them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

AnswerMode = Literal["extractive", "generative", "extractive-fallback"]
# What an article's metadata may say about it (the loaders read these, chunks carry them).
ARTICLE_FIELDS = ("title", "source", "author", "published_at", "url", "category")


# Between the pages of a document that has them (a PDF's text, page by page): a form
# feed, which no sentence contains, so offsets count pages exactly.
PAGE_BREAK = "\f"


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    title: str = ""
    source: str = ""
    author: str = ""
    published_at: str = ""
    url: str = ""
    category: str = ""
    path: str = ""

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "title": self.title,
            "source": self.source,
            "author": self.author,
            "published_at": self.published_at,
            "url": self.url,
            "category": self.category,
            "path": self.path,
        }

    @property
    def identity(self) -> str:
        """What makes two files the same article: the text and every field but the
        path (sha256). Two files with one identity are indexed once."""
        digest = hashlib.sha256(self.text.encode("utf-8"))
        for key, value in sorted(self.metadata.items()):
            if key != "path":
                digest.update(f"\x00{key}={value}".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Passage:
    """A retrieved chunk: `text == document.text[start:end]`."""

    doc_id: str
    text: str
    start: int
    end: int
    score: float
    title: str = ""
    source: str = ""
    published_at: str = ""
    url: str = ""
    chunk_id: str = ""
    # Sentence spans (document offsets) inside this passage, for answer extraction.
    sentences: list[tuple[int, int]] = field(default_factory=list, repr=False, compare=False)
    # Spans (document offsets) of text addressed to a model, found at ingest
    # (rag.text.instructions); None for a chunk stored before ingest looked for them.
    instructions: tuple[tuple[int, int], ...] | None = field(default=None, repr=False,
                                                             compare=False)
    # Its story (near-duplicate articles, rag.text.minhash) and the story's other
    # documents: {doc_id, title, source, published_at, path} each.
    story: str = field(default="", compare=False)
    story_shared: bool = field(default=False, repr=False, compare=False)
    also_in: list[dict[str, str]] = field(default_factory=list, compare=False)
    # The page its text starts on, for a document with pages (a PDF: PAGE_BREAK between
    # them); None otherwise.
    page: int | None = field(default=None, compare=False)
    # How well its publication time fits the time the question asks about, 0-1
    # (rag.retrieve.question_time.time_fit), as retrieval read it: with the question's
    # events dated from the whole corpus ("before the ceasefire"). None: not computed.
    time_fit: float | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["sentences"], data["instructions"], data["time_fit"]
        return data

    def cite(self, start: int, end: int, marker: int = 0) -> Citation:
        """A citation of `document.text[start:end]`, a span inside this passage."""
        if not self.start <= start <= end <= self.end:
            raise ValueError(f"span {start}-{end} is outside the passage {self.start}-{self.end}")
        before = self.text[: start - self.start]
        return Citation(
            marker=marker, doc_id=self.doc_id, start=start, end=end,
            quote=self.text[start - self.start : end - self.start], title=self.title,
            source=self.source, published_at=self.published_at, url=self.url,
            also_in=list(self.also_in),
            page=None if self.page is None else self.page + before.count(PAGE_BREAK))


@dataclass
class Citation:
    """`quote == document(doc_id).text[start:end]`, always."""

    marker: int
    doc_id: str
    start: int
    end: int
    quote: str
    title: str = ""
    source: str = ""
    published_at: str = ""
    url: str = ""
    # The other documents of its story (`Passage.also_in`): the same article as carried
    # by other outlets.
    also_in: list[dict[str, str]] = field(default_factory=list)
    # The page of a document with pages (a PDF) the quote starts on; None otherwise.
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def carried_by(self) -> str:
        """"also in <outlet> (<date>), …": the story's other documents, each by its outlet,
        else its title, else its file name; "" when it has none."""
        names = []
        for other in self.also_in:
            name = (other.get("source") or other.get("title")
                    or other.get("path", "").rsplit("/", 1)[-1] or other.get("doc_id", ""))
            day = (other.get("published_at") or "")[:10]
            names.append(f"{name} ({day})" if day else name)
        return "also in " + ", ".join(names) if names else ""


@dataclass
class Conflict:
    """Two sources that state different values for the same thing: the answer's
    citation and a sentence of another retrieved document, each value as written."""

    cited: Citation
    other: Citation
    cited_value: str
    other_value: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"cited": self.cited.marker, "other": self.other.marker,
                "cited_value": self.cited_value, "other_value": self.other_value,
                "similarity": round(self.similarity, 4)}


@dataclass
class TimelineEntry:
    """One dated sentence of a timeline (`Assistant.timeline`): `date` is ISO (a day;
    YYYY-MM or YYYY when only the month or year is known; "2024-04-08/2024-04-14" for a
    range such as "last week"), `date_text` the words that state it ("" when
    the article's publication date stands in) and `rule` how it was resolved
    (`rag.answer.timeline`)."""

    date: str
    date_text: str
    rule: str
    citation: Citation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnswerSentence:
    text: str
    citations: list[Citation] = field(default_factory=list)
    supported: bool = True
    support_score: float = 1.0
    # False for a generated sentence left out of the answer text (unsupported, or the
    # whole draft replaced by the extractive fallback): kept for inspection only.
    shown: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.marker for c in self.citations],
            "supported": self.supported,
            "support_score": round(self.support_score, 4),
            "shown": self.shown,
        }


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    mode: AnswerMode = "extractive"
    sentences: list[AnswerSentence] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Why a generative answer fell back to extraction, or why an extractive answer was
    # refused ("the closest sentence names no foreign minister"); None otherwise.
    reason: str | None = None
    # One line per retrieved document that carried text addressed to a model, which
    # was kept out of the evidence (rag.verify.quarantine).
    warnings: list[str] = field(default_factory=list)
    # For a question about how things stand now: the date of the newest cited source
    # (YYYY-MM-DD), which is as far as the answer can speak for; "" otherwise.
    as_of: str = ""
    # Where the cited sources and another retrieved document disagree on a value
    # (rag.verify.conflicts); the answer text says so and cites both.
    conflicts: list[Conflict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "reason": self.reason,
            "warnings": list(self.warnings),
            "as_of": self.as_of,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [s.to_dict() for s in self.sentences],
            "passages": [p.to_dict() for p in self.passages],
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Status:
    """A step of an answer stream that is not answer text, for a reader to show: `CHECKING`
    comes between the last delta of a generated draft and the verified `Answer`."""

    step: str
    message: str


CHECKING = Status("checking", "checking sources…")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Left out on purpose, with why (links that would leave the folder); not failures.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Indexed, with something the reader should know: text addressed to an AI model,
    # which answers will not use as evidence.
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # Files holding exactly the text of an indexed document (path, that document's id):
    # indexed once, as that document, and listed with it.
    copies: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    # Files looked at; every one ends up indexed (added/updated/unchanged) or failed.
    seen: int = 0
    indexed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def changed(self) -> bool:
        """Whether the index holds anything new, changed or removed (else the retrieval
        index need not be refreshed: an unchanged re-ingest costs nothing)."""
        return bool(self.added or self.updated or self.removed)

    def merge(self, other: IngestReport) -> None:
        """Add `other`'s files and counts to this report (one run over several inputs):
        every list extended, every count summed, so a new field cannot be forgotten."""
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, item.name, mine + theirs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = [{"path": p, "reason": r} for p, r in self.failed]
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        data["warnings"] = [{"path": p, "warning": w} for p, w in self.warnings]
        data["copies"] = [{"path": p, "doc_id": d} for p, d in self.copies]
        return data


def as_path(value: str | Path) -> Path:
    return value if isinstance(value, Path) else Path(value)


@dataclass(frozen=True)
class SupportVerdict:
    """Whether a claim is supported by the passages it was checked against, and where:
    `evidence == passages[passage_index][evidence_start:evidence_end]` (-1 and empty when
    no passage could be used); `reasons` say why not, when it is not."""

    supported: bool
    score: float
    passage_index: int
    evidence_start: int
    evidence_end: int
    evidence: str
    reasons: tuple[str, ...]
