"""`Assistant`: the public entry point tying ingest, retrieval and answering together.

One instance is safe to share across threads: reads go to Chroma (thread-safe), the
embedder and answerer guard their caches, and writes are serialised by a lock here and
by the writer lock file across processes.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer import followup, make_answerer
from rag.answer.chain import AnswerChain, final_answer
from rag.answer.extractive import ExtractiveAnswerer
from rag.config import Settings
from rag.errors import DocumentNotFoundError
from rag.index.embeddings import Embedder, get_embedder
from rag.index.store import Store
from rag.ingest.loaders import is_url
from rag.ingest.lock import writer_lock
from rag.ingest.pipeline import Ingestor, Progress
from rag.retrieve.base import Retriever, as_stored_now
from rag.retrieve.factory import make_retriever
from rag.schema import (
    Answer,
    Citation,
    Document,
    IngestReport,
    Passage,
    Status,
    TimelineEntry,
)
from rag.validation import validate_question

# Passages looked up per cited sentence that states a figure, to find another source that
# states it otherwise (rag.verify.conflicts): one retrieval each.
CONFLICT_K = 5
# A timeline reads more stories than an answer does.
TIMELINE_K = 10

if TYPE_CHECKING:
    from rag.answer.generation import Generator


class Assistant:
    def __init__(self, home: str | Path | None = None, settings: Settings | None = None,
                 *, embedder: Embedder | None = None) -> None:
        # The same environment as the CLI (RAG_HOME, RAG_LLM, OPENAI_BASE_URL, …), the
        # explicit arguments winning: what the README promises for the Python API.
        settings = settings or Settings.from_env()
        if home is not None:
            settings = settings.with_(home=Path(home))
        self.settings = settings
        self.embedder = embedder or get_embedder(settings.embedder)
        self.store = Store(settings, embedder_name=self.embedder.name,
                           dimension=self.embedder.dimension)
        self.retriever: Retriever = make_retriever(settings, self.store, self.embedder)
        self.answerer = make_answerer(settings, self.embedder)
        self.generator = _make_generator(settings)
        self.chain = AnswerChain(settings, self.embedder, self.answerer, self.generator)
        self._write_lock = threading.Lock()
        self._listing_lock = threading.Lock()
        self._listing: tuple[tuple[str, int, int], list[dict[str, Any]]] | None = None
        self._writes = 0  # ingests, deletes and reindexes through this instance

    # -- corpus ---------------------------------------------------------------

    def ingest(self, path: str | Path, progress: Progress | None = None, *,
               refresh: bool = True) -> IngestReport:
        """Index a file or a folder, or a feed's or a page's URL (`ingest_urls`). With
        `refresh=False` the retrieval index catches up later, at `refresh_index()` or
        the next question: several ingests in a row (a multi-file upload) then pay for
        one refresh, not one each."""
        if isinstance(path, str) and is_url(path):
            return self.ingest_urls([path], progress, refresh=refresh)
        with self._write_lock, writer_lock(self.settings.home), self._counted_write():
            report = self._ingestor().ingest(Path(path), progress)
            # Only when something changed: an unchanged re-ingest must cost nothing.
            if refresh and report.changed:
                self.retriever.refresh()
            return report

    def ingest_urls(self, urls: Sequence[str], progress: Progress | None = None, *,
                    refresh: bool = True) -> IngestReport:
        """Fetch RSS/Atom feeds and article pages (`rag.ingest.web`: robots.txt, a pause
        between requests to one host, no private addresses unless allowed) into files
        under `home/web/`, and index those. Needs the `web` extra."""
        # Here, not at the top: feedparser and trafilatura only for those who fetch.
        from rag.ingest.web import fetch_urls

        fetched = fetch_urls(urls, self.settings, progress)
        report = IngestReport(failed=list(fetched.failed), warnings=list(fetched.notes),
                              seen=len(fetched.failed))
        for path in fetched.files:
            report.merge(self.ingest(path, refresh=False))
        if refresh and report.changed:
            self.retriever.refresh()
        return report

    @contextlib.contextmanager
    def _counted_write(self) -> Iterator[None]:
        # Counted when the write ends, even in failure: a listing read meanwhile must not
        # be kept as the one after it.
        try:
            yield
        finally:
            self._writes += 1

    def refresh_index(self) -> None:
        """Bring the retrieval index in line with the store (cheap when it already is)."""
        self.retriever.refresh()

    def _ingestor(self) -> Ingestor:
        # The retriever takes the sentence vectors ingest computes anyway, so its index
        # refresh needs no model pass of its own.
        return Ingestor(self.store, self.embedder, max_file_bytes=self.settings.max_file_bytes,
                        sentence_sink=self.retriever.sentence_sink())

    def delete(self, doc_id: str) -> None:
        self.document(doc_id)
        with self._write_lock, writer_lock(self.settings.home), self._counted_write():
            self.store.remove_document(doc_id)
            self.retriever.refresh()

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Rebuild every chunk from the stored documents (after a consistency error).
        Chunks are rewritten in place, so documents stay answerable meanwhile."""
        with self._write_lock, writer_lock(self.settings.home), self._counted_write():
            report = self._ingestor().reindex(progress)
            self.retriever.refresh()
            return report

    def close(self) -> None:
        """Release the store's connections (a Chroma server's HTTP sockets)."""
        self.store.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def document(self, doc_id: str) -> Document:
        return self.store.document(doc_id)

    def source_names(self, answer: Answer | Sequence[Citation]) -> dict[str, str]:
        """What to call each document an answer (or a timeline's citations) cites or
        lists: its title (from the metadata or the headline line), else its file name.
        The CLI and the UI both name sources this way."""
        names: dict[str, str] = {}
        items: list[Citation | Passage] = [*answer.citations, *answer.passages] \
            if isinstance(answer, Answer) else list(answer)
        for item in items:
            if item.doc_id in names:
                continue
            if item.title.strip():
                names[item.doc_id] = item.title.strip()
                continue
            try:
                document = self.store.document(item.doc_id)
            except DocumentNotFoundError:
                continue  # deleted since it was retrieved
            names[item.doc_id] = document.title.strip() or Path(document.path).name
        return names

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document's metadata and chunk count, newest first. The listing is
        kept until the store changes (reading it takes ~1 s per 20,000 documents), so a
        corpus view that lists it again and again costs one read per change."""
        self.store.sync()
        # The generation token changes with every write to an on-disk store. A Chroma
        # server has none: this assistant's own writes and the document count stand in
        # (another process's edit that keeps the count shows at its next change).
        key = (self.store.generation(), self._writes, self.store.document_count())
        with self._listing_lock:
            if self._listing is None or self._listing[0] != key:
                rows = sorted(self.store.document_rows(),
                              key=lambda r: (r["published_at"], r["title"]), reverse=True)
                self._listing = (key, rows)
            rows = self._listing[1]
        return [dict(row) for row in rows]

    def document_texts(self) -> dict[str, str]:
        """Every document's full text by id, in one pass (what evaluations check against)."""
        return {document.doc_id: document.text
                for document, _ in self.store.documents_with_text()}

    def stats(self) -> dict[str, Any]:
        return {
            "documents": self.store.document_count(),
            "chunks": self.store.chunk_count(),
            "home": str(self.settings.home.resolve()),
            "chroma": self.settings.chroma_url or str((self.settings.home / "chroma").resolve()),
            "collection": self.settings.collection,
            "embedding_model": self.embedder.name,
            "llm": self.settings.llm,
        }

    def check(self) -> None:
        """Raise `ConsistencyError` if committed documents lack their chunks."""
        self.store.check_consistency()

    # -- questions ----------------------------------------------------------

    def retrieve(self, question: str, *, k: int | None = None,
                 filters: Mapping[str, Any] | None = None) -> list[Passage]:
        question = validate_question(question)
        return self.retriever.retrieve(question, self.settings.top_k if k is None else k,
                                       filters)

    def timeline(self, query: str, *, k: int | None = None,
                 filters: Mapping[str, Any] | None = None) -> list[TimelineEntry]:
        """The dated, cited sentences about `query`, oldest first, one per story and date,
        from the `k` (default `TIMELINE_K`) passages retrieved for it
        (`rag.answer.timeline`)."""
        # Imported here: its date library is no work of `rag ask`'s.
        from rag.answer.timeline import build_timeline

        passages = self.retrieve(query, k=TIMELINE_K if k is None else k, filters=filters)
        scorer = self._timeline_scorer
        return build_timeline(scorer.score_sentences(query, passages), passages,
                              scorer.threshold)

    @functools.cached_property
    def _timeline_scorer(self) -> ExtractiveAnswerer:
        # The rule answerer's relevance (similarity and coverage, no slot bonus) ranks
        # the sentences whichever answerer is configured: a timeline has no answer slot.
        # Made once: it caches the sentence vectors it embeds.
        return self.answerer if isinstance(self.answerer, ExtractiveAnswerer) else \
            ExtractiveAnswerer(self.embedder)

    def ask(self, question: str, *, k: int | None = None,
            filters: Mapping[str, Any] | None = None, use_llm: bool = True) -> Answer:
        return final_answer(self.ask_stream(question, k=k, filters=filters, use_llm=use_llm))

    def ask_stream(self, question: str, *, k: int | None = None,
                   filters: Mapping[str, Any] | None = None, use_llm: bool = True,
                   extra_passages: Sequence[Passage] = ()) -> Iterator[str | Status | Answer]:
        """Yield text deltas, then the verified `Answer` (whose text is authoritative:
        deltas of a generation that fails half-way are replaced by the fallback). A
        generated draft is followed by a `Status` (`rag.schema.CHECKING`) while its
        sentences are checked against their sources."""
        started = time.perf_counter()
        passages = self.retrieve(question, k=k, filters=filters)
        seen = {p.chunk_id for p in passages}
        passages += as_stored_now(self.store,
                                  [p for p in extra_passages if p.chunk_id not in seen],
                                  filters)
        retrieved = time.perf_counter()
        if not passages:
            # An empty index and filters that exclude everything are different problems
            # with different fixes; "nothing matches" would hide both.
            answer = self.chain.nothing_found(question, self._why_nothing_found(filters))
            answer.timings["retrieve_ms"] = answer.timings["total_ms"] = \
                (retrieved - started) * 1000
            yield answer.text
            yield answer
            return
        def other_sources(sentence: str) -> list[Passage]:
            return self.retriever.retrieve(sentence, CONFLICT_K, filters)

        # One document has no other source to disagree with; the look-up would be waste.
        look_up = other_sources if self.store.document_count() > 1 else None
        for event in self.chain.stream(question, passages, use_llm=use_llm,
                                       look_up=look_up):
            if isinstance(event, Answer):
                event.timings["retrieve_ms"] = (retrieved - started) * 1000
                event.timings["total_ms"] = (time.perf_counter() - started) * 1000
            yield event

    def _why_nothing_found(self, filters: Mapping[str, Any] | None) -> str:
        if not self.store.document_count():
            return "Nothing is indexed yet: add articles with `rag ingest PATH` or the Corpus tab."
        if not filters:
            return "No indexed passage matches the question."
        return no_match_reason(filters, self.documents())

    def chat(self, question: str, history: Sequence[Mapping[str, Any] | Answer] = (), *,
             k: int | None = None, filters: Mapping[str, Any] | None = None,
             use_llm: bool = True) -> Answer:
        """Answer a follow-up in the context of `history` (chat messages as
        {"role", "content"} dicts, and/or earlier `Answer`s, oldest first)."""
        return final_answer(self.chat_stream(question, history, k=k, filters=filters,
                                             use_llm=use_llm))

    def chat_stream(self, question: str, history: Sequence[Mapping[str, Any] | Answer] = (),
                    *, k: int | None = None, filters: Mapping[str, Any] | None = None,
                    use_llm: bool = True) -> Iterator[str | Status | Answer]:
        question = validate_question(question)
        messages = followup.as_messages(history)
        standalone = question
        if messages:
            standalone = followup.rewrite(question, messages,
                                          self.generator if use_llm else None,
                                          self.settings.prompts_dir)
        previous = followup.previous_passages(history)
        for event in self.ask_stream(standalone, k=k, filters=filters, use_llm=use_llm,
                                     extra_passages=previous):
            if isinstance(event, Answer):
                event.question = standalone
            yield event


def no_match_reason(filters: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]
                    ) -> str:
    """Why `filters` leave no passage, with what the corpus does hold: its outlets (a
    wrong-case name is pointed at the right one) and the range of its dates."""
    parts = ["No indexed document matches these filters."]
    outlets = sorted({str(d.get("source") or "") for d in documents} - {""})
    wanted = filters.get("source")
    wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
    by_case = {name.casefold(): name for name in outlets}
    for name in wanted:
        if name not in outlets and name.casefold() in by_case:
            parts.append(f"Outlet names are exact: did you mean {by_case[name.casefold()]!r}?")
    if wanted:
        if not outlets:
            parts.append("No document names its outlet (a `source` in its metadata), so "
                         "an outlet filter matches nothing.")
        else:
            shown = ", ".join(outlets[:12]) + (f" and {len(outlets) - 12} more"
                                              if len(outlets) > 12 else "")
            parts.append(f"Outlets in the corpus: {shown}.")
    if filters.get("published_after") or filters.get("published_before"):
        dates = sorted(str(d["published_at"])[:10] for d in documents if d.get("published_at"))
        if not dates:
            parts.append("No document has a publication date, so a date range matches "
                         "nothing.")
        else:
            undated = sum(1 for d in documents if not d.get("published_at"))
            parts.append(f"Publication dates run from {dates[0]} to {dates[-1]}"
                         + (f"; {undated} undated documents never match a date range."
                            if undated else "."))
    return " ".join(parts)


def _make_generator(settings: Settings) -> Generator | None:
    # The openai client takes half a second to import; the offline default never needs it.
    if settings.llm == "none":
        return None
    from rag.answer.generation import get_generator

    return get_generator(settings)
