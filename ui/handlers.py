"""What the UI's events do: answer in a chat session, show a cited article, keep the corpus.

`Handlers` holds one method per event; `ui.app` lays the components out and wires them to it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answer.chain import CLOSEST_BELOW
from rag.answer.timeline import NO_ENTRIES
from rag.assistant import Assistant
from rag.config import Settings
from rag.errors import (
    ConsistencyError,
    DocumentNotFoundError,
    InvalidQuestionError,
    RagError,
)
from rag.ingest.loaders import SUPPORTED_SUFFIXES, url_lines
from rag.schema import Answer, Citation, Status, TimelineEntry
from rag.validation import validate_question
from ui import render
from ui.helpers import (
    append_feedback,
    build_filters,
    corpus_label,
    find_documents,
    render_ingest_results,
    upload_name,
)

logger = logging.getLogger(__name__)

UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
# Rows of the corpus table (and choices of the delete list): enough to browse, and a page
# never carries the whole corpus; the search box finds the rest.
CORPUS_ROWS = 500


# -- session state -------------------------------------------------------------------


MAX_UPLOAD_FILES = 100
TIMELINE_HINT = render.message_html("Choose an entry to read its article.")
# What the delete button's confirmation sends instead of the id when it is declined.
DELETE_CANCELLED = "\x00cancelled"


def _copies_note(copies: Sequence[str]) -> str:
    """The same article saved in other files is one document: say where else it is."""
    if not copies:
        return ""
    names = ", ".join(Path(p).name for p in copies[:3]) + (" …" if len(copies) > 3 else "")
    return f" (same text also in {names})"


def _story_note(mates: Sequence[str]) -> str:
    """A near-duplicate of other documents (a reprint) is one story with them."""
    if not mates:
        return ""
    return f" (one story with {len(mates)} other document{'s' if len(mates) > 1 else ''})"


def new_session() -> dict[str, Any]:
    # "messages" mirrors the Chatbot so the handlers never parse the component's value;
    # "turns" holds the answers behind it, keyed by the chat message index.
    return {"messages": [], "turns": [], "active": None}


def _turn_citations(turn: Mapping[str, Any] | None) -> list[Citation]:
    return list(turn["answer"].citations) if turn else []


def _active_turn(session: Mapping[str, Any]) -> dict[str, Any] | None:
    active = session.get("active")
    turns: list[dict[str, Any]] = session.get("turns", [])
    return next((t for t in turns if t["message_index"] == active), None)


def _history(session: Mapping[str, Any]) -> list[Answer]:
    return [turn["answer"] for turn in session.get("turns", [])]


def _chips_update(turn: Mapping[str, Any] | None) -> Any:
    choices = render.citation_choices(_turn_citations(turn), turn["names"] if turn else None)
    return gr.Radio(choices=choices, value=None, visible=bool(choices))


def sources_for(turn: Mapping[str, Any] | None) -> str:
    if turn is None:
        return render.message_html("Sources of the selected answer appear here.")
    answer: Answer = turn["answer"]
    return render.sources_html(answer.citations, answer.passages, turn["names"])


def _badge_for(turn: Mapping[str, Any] | None) -> str:
    if turn is None:
        return ""
    answer: Answer = turn["answer"]
    return render.badge_html(answer.mode, answer.reason, answer.refused, turn["message_index"])


# -- the handlers --------------------------------------------------------------------


def _describe(name: str, report: Any) -> list[tuple[str, str, str]]:
    if report.failed:
        return [(name, "failed", reason) for _path, reason in report.failed]
    return [(name, *_outcome(report))]


def _outcome(report: Any) -> tuple[str, str]:
    """(result, detail) of what an ingest indexed: "added", "2 added, 1 unchanged; 9 chunks"."""
    parts = []
    for label, ids in (
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ):
        if ids:
            parts.append(f"{len(ids)} {label}")
    detail = ", ".join(parts) or "nothing to index"
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    return status, f"{detail}; {report.chunks} chunks"


class Handlers:
    """The UI's event handlers, answering from `assistant` and writing under `settings.home`."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.uploads = settings.home / "uploads"

    def corpus_views(
        self, selected_sources: Sequence[str] | None = None, search: str | None = None
    ) -> tuple[Any, Any, Any]:
        documents = self.assistant.documents()
        matching = find_documents(documents, search or "")
        rows = [
            [
                render.display_title(d["title"], d.get("path", ""), d["doc_id"])
                + _copies_note(d.get("copies") or []) + _story_note(d.get("story_mates") or []),
                d.get("source", ""),
                render.display_date(d.get("published_at", "")),
                d["chunks"],
                d["doc_id"],
            ]
            for d in matching[:CORPUS_ROWS]
        ]
        names = sorted({str(d.get("source") or "") for d in documents} - {""})
        kept = [s for s in (selected_sources or []) if s in names]
        delete_choices = [
            (f"{row[0]} — {row[1] or 'unknown outlet'} ({row[4]})", str(row[4])) for row in rows
        ]
        return (
            gr.Dataframe(value=rows, label=corpus_label(len(documents), len(matching),
                                                        len(rows), bool((search or "").strip()))),
            gr.Dropdown(choices=delete_choices, value=None),
            # With no outlet names in the corpus an empty list would look broken: say why.
            # (No value at all without names: Gradio warns that [] is not a choice.)
            # multiselect, as the component is: otherwise Gradio reads [] as one value
            # missing from the choices, and warns on every corpus view.
            gr.Dropdown(choices=names, value=kept if names else None, interactive=bool(names),
                        multiselect=True,
                        label="Outlets (all when empty)" if names
                        else "Outlets: no indexed document names its outlet"),
        )

    def document_names(self, answer: Answer) -> dict[str, str]:
        return self.assistant.source_names(answer)

    def chat_turn(
        self,
        question: str,
        session: dict[str, Any],
        k: float,
        sources: list[str] | None,
        after: str,
        before: str,
        use_llm: bool,
    ) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        # Bad input is a toast: raising gr.Error would replace every output, the whole
        # conversation included, with an "Error" pill until the next valid question.
        if not question:
            gr.Warning("Type a question first.")
            yield (gr.skip(),) * 6
            return
        try:
            # Checked here, not by the browser: a pasted 5,000 characters is not cut
            # to the limit silently, the analyst is told its length and the limit.
            validate_question(question)
            filters = build_filters(sources, after, before)
        except (ValueError, InvalidQuestionError) as exc:
            gr.Warning(f"The {str(exc).removeprefix('the ')}" if isinstance(
                exc, InvalidQuestionError) else str(exc))
            yield (gr.skip(),) * 6
            return
        messages = [
            *session["messages"],
            {"role": "user", "content": render.sanitize_markdown(question)},
            {"role": "assistant", "content": "…"},
        ]
        index = len(messages) - 1
        session = {**session, "messages": messages}
        waiting = render.message_html("Searching the articles…")
        yield (
            "",
            messages,
            session,
            render.pending_badge_html(),
            gr.Radio(choices=[], value=None, visible=False),
            waiting,
        )
        partial = ""
        try:
            # With earlier turns the question is a follow-up: rewritten against them,
            # reusing their passages; with none, chat_stream is a plain ask.
            items = self.assistant.chat_stream(question, _history(session), k=int(k),
                                               filters=filters, use_llm=bool(use_llm))
            answer: Answer | None = None
            for item in items:
                if isinstance(item, str):
                    partial += item
                    messages[index] = {
                        "role": "assistant",
                        "content": render.sanitize_markdown(partial) + " ▌",
                    }
                    yield gr.skip(), messages, gr.skip(), gr.skip(), gr.skip(), gr.skip()
                elif isinstance(item, Status):
                    # The draft is done; its sentences are being checked against the
                    # passages they cite, and the verified answer will replace it.
                    messages[index] = {
                        "role": "assistant",
                        "content": render.sanitize_markdown(partial)
                        + f"\n\n*{render.sanitize_markdown(item.message)}*",
                    }
                    yield (gr.skip(), messages, gr.skip(), render.pending_badge_html(item.message),
                           gr.skip(), render.message_html(item.message.capitalize()))
                else:
                    answer = item
            if answer is None:
                raise RagError("the assistant returned no answer")
        except Exception as exc:
            if isinstance(exc, RagError):
                problem = str(exc)
                if isinstance(exc, ConsistencyError):
                    problem += " Re-index the corpus from the Corpus tab."
            else:
                # Unexpected failures keep their details in the server log, not the page.
                logger.exception("answering %r failed", question)
                problem = "Something went wrong while answering; the details are in the server log."
            messages[index] = {
                "role": "assistant",
                "content": render.sanitize_markdown(f"⚠ {problem}"),
            }
            session = {**session, "messages": messages}
            yield (
                gr.skip(),
                messages,
                session,
                render.message_html("error", kind="error"),
                gr.skip(),
                render.message_html(problem, kind="error"),
            )
            return
        names = self.document_names(answer)
        messages[index] = {
            "role": "assistant",
            # The CLI lists the closest passages below a refusal; here they are beside it.
            "content": render.answer_markdown(answer, names=names, message_index=index).replace(
                CLOSEST_BELOW, "The closest passages are in the Sources panel."),
        }
        # `question` is what the analyst typed; `answer.question` may be the rewritten one.
        turn = {
            "message_index": index,
            "question": question,
            "answer": answer,
            "names": names,
            "k": int(k),
            "filters": filters,
        }
        session = {"messages": messages, "turns": [*session["turns"], turn], "active": index}
        yield (
            gr.skip(),
            messages,
            session,
            _badge_for(turn),
            _chips_update(turn),
            sources_for(turn),
        )

    def show_citation(self, marker: str | None, session: dict[str, Any]) -> str:
        turn = _active_turn(session)
        if turn is None or not marker:
            return sources_for(turn)
        citation = next((c for c in _turn_citations(turn) if str(c.marker) == str(marker)), None)
        if citation is None:
            return render.message_html(f"No citation [{marker}] in this answer.", kind="error")
        return self.cited_article(citation)

    def cited_article(self, citation: Citation) -> str:
        """The article behind `citation`, its span highlighted while the text still holds
        it there."""
        try:
            document = self.assistant.document(citation.doc_id)
        except DocumentNotFoundError:
            return render.message_html(
                "This article has been deleted since the answer was given.", kind="error"
            )
        meta: dict[str, Any] = dict(
            title=document.title,
            source=document.source,
            published_at=document.published_at,
            url=document.url,
            path=document.path,
            doc_id=document.doc_id,
        )
        if document.text[citation.start : citation.end] != citation.quote:
            # The article was re-ingested with different text; stale offsets would
            # highlight the wrong words, so show it unhighlighted and say why.
            return render.article_html(
                text=document.text,
                start=None,
                end=None,
                marker=citation.marker,
                note="The article changed after this answer; the cited span is no longer "
                "at the same place.",
                **meta,
            )
        return render.article_html(
            text=document.text,
            start=citation.start,
            end=citation.end,
            marker=citation.marker,
            page=citation.page,
            **meta,
        )

    def timeline(self, query: str, after: str, before: str
                 ) -> tuple[str, Any, list[TimelineEntry], str]:
        """The Timeline tab's answer to `query`: the entries, the chips that open their
        articles, the entries for those chips, and the article panel's hint. Bad input is
        said in the entries' place; the previous timeline is not kept behind it."""
        query = (query or "").strip()
        try:
            if not query:
                raise ValueError("Type a subject first, e.g. the peacekeepers' withdrawal.")
            filters = build_filters(None, after, before)
            entries = self.assistant.timeline(query, filters=filters)
        except (ValueError, RagError) as exc:
            return (render.message_html(str(exc), kind="error"),
                    gr.Radio(choices=[], value=None, visible=False), [], TIMELINE_HINT)
        citations = [e.citation for e in entries]
        names = self.assistant.source_names(citations)
        chips = render.citation_choices(citations, names)
        return (render.timeline_html(entries, names, empty=NO_ENTRIES),
                gr.Radio(choices=chips, value=None, visible=bool(chips)), entries,
                TIMELINE_HINT)

    def show_timeline_entry(self, marker: str | None, entries: Sequence[TimelineEntry]) -> str:
        entry = next((e for e in entries if str(e.citation.marker) == str(marker)), None)
        return self.cited_article(entry.citation) if entry else TIMELINE_HINT

    def open_marker(self, link: str, session: dict[str, Any]) -> tuple[Any, ...]:
        """A clicked [n] in an answer: that answer becomes the focused one and its
        citation n opens, as choosing chip n would. `link` is "<message>-<marker>:<nonce>"
        (`ui.app.PAGE_JS`); the nonce makes a second click on the same marker an
        event too."""
        message, _, marker = (link or "").partition(":")[0].partition("-")
        turn = next((t for t in session["turns"]
                     if str(t["message_index"]) == message), None)
        if turn is None or not marker.isdigit():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        session = {**session, "active": turn["message_index"]}
        chips = _chips_update(turn)
        if any(value == marker for _label, value in chips.choices or ()):
            chips = gr.Radio(choices=chips.choices, value=marker, visible=True)
        return session, _badge_for(turn), chips, self.show_citation(marker, session)

    def focus_message(self, session: dict[str, Any], event: gr.SelectData) -> tuple[Any, ...]:
        index = event.index if isinstance(event.index, int) else event.index[0]
        turns: list[dict[str, Any]] = session["turns"]
        # Selecting the question focuses its answer too.
        turn = next((t for t in turns if t["message_index"] in (index, index + 1)), None)
        if turn is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        session = {**session, "active": turn["message_index"]}
        return session, _badge_for(turn), _chips_update(turn), sources_for(turn)

    def record_feedback(self, session: dict[str, Any], event: gr.LikeData) -> None:
        index = event.index if isinstance(event.index, int) else event.index[0]
        turn = next((t for t in session["turns"] if t["message_index"] == index), None)
        if turn is None:
            return
        answer: Answer = turn["answer"]
        # Gradio sends True/False for the thumbs and a string for any other feedback option.
        liked = event.liked
        rating = ("up" if liked else "down") if isinstance(liked, bool) else str(liked)
        append_feedback(
            self.settings.home,
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "rating": rating,
                "question": turn["question"],
                "answer": answer.text,
                "mode": answer.mode,
                "reason": answer.reason,
                "k": turn["k"],
                "filters": turn["filters"],
                "citations": [c.to_dict() for c in answer.citations],
            },
        )
        gr.Info("Thanks, your feedback was saved.")

    def clear_chat(self) -> tuple[Any, ...]:
        return (
            new_session(),
            [],
            "",
            gr.Radio(choices=[], value=None, visible=False),
            sources_for(None),
        )

    def ingest_files(
        self,
        files: list[str] | None,
        selected: list[str] | None,
        search: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (how Gradio injects progress)
    ) -> tuple[Any, ...]:
        files = [f for f in (files or []) if f]
        if not files:
            return (gr.skip(),) * 5
        results: list[tuple[str, str, str]] = []
        if len(files) > MAX_UPLOAD_FILES:
            # One request must not hold the indexer (and every other user) for hours.
            extra = len(files) - MAX_UPLOAD_FILES
            files = files[:MAX_UPLOAD_FILES]
            results.append((f"{extra:,} more file{'s' if extra != 1 else ''}", "failed",
                            f"one upload takes at most {MAX_UPLOAD_FILES} files; upload the "
                            "rest separately, or index a folder with `rag ingest PATH`"))
        total = len(files)
        for number, file in enumerate(files):
            source = Path(file)
            name = upload_name(source.name)
            progress(number / total, desc=f"Indexing {name}")
            if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                results.append(
                    (name, "failed", "unsupported file type; use " + ", ".join(UPLOAD_TYPES))
                )
                continue
            self.uploads.mkdir(parents=True, exist_ok=True)
            # A stable path makes re-uploading a corrected file update its document
            # instead of adding a duplicate, and keeps it out of Gradio's temp cache.
            target = self.uploads / name
            shutil.copyfile(source, target)

            def step(
                done: int, count: int, _path: str, number: int = number, name: str = name
            ) -> None:
                fraction = (number + (done / count if count else 1)) / total
                progress(fraction, desc=f"Indexing {name}")

            try:
                report = self.assistant.ingest(target, progress=step, refresh=False)
            except RagError as exc:
                target.unlink(missing_ok=True)
                results.append((name, "failed", str(exc)))
                continue
            if report.failed:
                target.unlink(missing_ok=True)  # nothing of it was indexed; keep no copy
            results.extend(_describe(name, report))
        # Once for the whole upload: a refresh per file rewrote the whole index each time.
        progress(1.0, desc="Updating the search index")
        self.assistant.refresh_index()
        table, delete_choices, filter_choices = self.corpus_views(selected, search)
        return (
            render_ingest_results(results),
            table,
            delete_choices,
            filter_choices,
            gr.File(value=None),
        )

    def ingest_url(self, urls: str, selected: list[str] | None, search: str | None
                   ) -> tuple[Any, ...]:
        """Fetch the feeds or pages in the box (one URL a line) and index them; what
        failed or came from a feed's summary is listed per URL."""
        asked = url_lines(urls or "")
        if not asked:
            gr.Warning("Paste the URL of a feed or an article page first.")
            return (gr.skip(),) * 5
        try:
            report = self.assistant.ingest_urls(asked)
        except (RagError, ImportError) as exc:  # ImportError: the web extra is missing
            return (render_ingest_results([(", ".join(asked), "failed", str(exc))]),
                    *self.corpus_views(selected, search), gr.skip())
        results = [(url, "failed", reason) for url, reason in report.failed]
        results += [(url, "note", note) for url, note in report.warnings]
        if report.added or report.updated or report.unchanged:
            results.append((f"{len(asked) - len(report.failed)} of {len(asked)} URLs",
                            *_outcome(report)))
        return (render_ingest_results(results), *self.corpus_views(selected, search), "")

    def delete_document(
        self, doc_id: str | None, selected: list[str] | None, search: str | None
    ) -> tuple[Any, ...]:
        if doc_id == DELETE_CANCELLED:
            return (gr.skip(),) * 4  # the analyst said no in the confirmation
        if not doc_id:
            gr.Warning("Choose a document to delete first.")
            return (gr.skip(),) * 4
        try:
            document = self.assistant.document(doc_id)
            self.assistant.delete(doc_id)
        except RagError as exc:
            # The table stays as it was, and usable; the reason is a toast.
            gr.Warning(str(exc))
            return (gr.skip(),) * 4
        path = Path(document.path) if document.path else None
        if path is not None and path.resolve().is_relative_to(self.uploads.resolve()):
            # An uploaded copy exists only for this document; deleting means deleting it.
            with contextlib.suppress(OSError):
                path.unlink()
        message = render.message_html(
            f"Deleted {render.display_title(document.title, document.path, doc_id)}."
        )
        return (message, *self.corpus_views(selected, search))

    def reindex(
        self,
        selected: list[str] | None,
        search: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (how Gradio injects progress)
    ) -> tuple[Any, ...]:
        def step(done: int, count: int, path: str) -> None:
            progress(done / count if count else 1.0, desc="Re-indexing")

        try:
            report = self.assistant.reindex(progress=step)
        except RagError as exc:
            gr.Warning(str(exc))
            return (gr.skip(),) * 4
        message = render.message_html(
            f"Re-indexed {report.indexed} documents into {report.chunks} chunks "
            f"in {report.seconds:.1f} s."
        )
        return (message, *self.corpus_views(selected, search))

    def api_ask(self, question: str) -> str:
        """Answer a question from the indexed articles: Markdown with numbered sources."""
        try:
            answer = self.assistant.ask(question)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return render.answer_markdown(answer, names=self.document_names(answer))


# gr.api types the endpoint from the hints, and cannot resolve postponed ones.
Handlers.api_ask.__annotations__ = {"question": str, "return": str}
