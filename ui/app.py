"""The analysts' web UI: a cited-answer chat, the article behind each citation, corpus upkeep.

`build_app(assistant, settings)` returns the Blocks; `serve(...)` launches them locally.
All rendering of untrusted text (articles, model output) goes through `ui.render`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

# Importing this module runs ui/__init__.py first, which disables Gradio analytics.
import gradio as gr

from rag.assistant import Assistant
from rag.config import MAX_K, MAX_QUESTION_CHARS, Settings
from rag.errors import ConfigError, ConsistencyError, DocumentNotFoundError, RagError
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.schema import Answer, Citation, Passage, Status
from ui import render

_T = TypeVar("_T")
logger = logging.getLogger(__name__)

EXAMPLES = [
    "Why did the peacekeepers leave?",
    "When did the withdrawal of Russian peacekeepers start?",
    "How many Russian peacekeepers were deployed in Nagorno-Karabakh?",
    "What did the EU say about the withdrawal?",
]
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
# Enough queued requests for a team, few enough that a stuck model cannot pile up memory.
QUEUE_MAX_SIZE = 64
CONCURRENCY = 4
MAX_SLIDER_K = min(MAX_K, 20)
# Rows of the corpus table (and choices of the delete list): enough to browse, and a page
# never carries the whole corpus; the search box finds the rest.
CORPUS_ROWS = 500

CSS_PATH = Path(__file__).with_name("style.css")

# Runs in the sources panel: bring the highlighted span into view whenever the panel changes.
SCROLL_TO_CITE_JS = """
watch('value', () => {
  const mark = element.querySelector('mark#cite');
  if (mark) { mark.scrollIntoView({block: 'center', inline: 'nearest'}); }
});
"""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


# -- pure helpers (unit-tested) ------------------------------------------------------


def parse_day(label: str, value: str | None) -> str | None:
    """A YYYY-MM-DD string, None when blank; ValueError with a user-facing message."""
    value = (value or "").strip()
    if not value:
        return None
    if not _DAY.fullmatch(value):
        raise ValueError(f"{label} must be a date like 2024-04-18, got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{label} {value!r} is not a calendar date") from None
    return value


def build_filters(
    sources: Sequence[str] | None, after: str | None, before: str | None
) -> dict[str, Any] | None:
    filters: dict[str, Any] = {}
    if sources:
        filters["source"] = list(sources)
    start = parse_day("From date", after)
    end = parse_day("To date", before)
    if start and end and start > end:
        raise ValueError(f"From date {start} is after To date {end}")
    if start:
        filters["published_after"] = start
    if end:
        filters["published_before"] = end
    return filters or None


def upload_name(original: str) -> str:
    """A file name safe to create under the uploads folder, keeping the suffix."""
    name = _SAFE_NAME.sub("_", Path(original).name).strip(" .") or "upload"
    return name[-120:]


# -- feedback ------------------------------------------------------------------------

_feedback_lock = threading.Lock()


def append_feedback(home: Path, record: Mapping[str, Any]) -> Path:
    path = home / "feedback.jsonl"
    line = json.dumps(record, ensure_ascii=False)
    with _feedback_lock:
        home.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return path


# -- session state -------------------------------------------------------------------


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


def _sources_for(turn: Mapping[str, Any] | None) -> str:
    if turn is None:
        return render.message_html("Sources of the selected answer appear here.")
    answer: Answer = turn["answer"]
    return render.sources_html(answer.citations, answer.passages, turn["names"])


def _badge_for(turn: Mapping[str, Any] | None) -> str:
    if turn is None:
        return ""
    answer: Answer = turn["answer"]
    return render.badge_html(answer.mode, answer.reason, answer.refused, turn["message_index"])


# -- the app -------------------------------------------------------------------------


def build_app(assistant: Assistant, settings: Settings) -> gr.Blocks:
    uploads = settings.home / "uploads"
    llm_configured = settings.llm != "none"
    llm_label = (f"Use local model ({getattr(assistant.generator, 'model', 'local')})"
                 if settings.llm == "local" else f"Use LLM ({settings.llm_model})")

    def corpus_views(
        selected_sources: Sequence[str] | None = None, search: str | None = None
    ) -> tuple[Any, Any, Any]:
        documents = assistant.documents()
        matching = find_documents(documents, search or "")
        rows = [
            [
                render.display_title(d["title"], d.get("path", ""), d["doc_id"]),
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
            gr.Dropdown(choices=names, value=kept),
        )

    def document_names(answer: Answer) -> dict[str, str]:
        names: dict[str, str] = {}
        items: list[Citation | Passage] = [*answer.citations, *answer.passages]
        for item in items:
            if item.doc_id in names or item.title:
                continue
            try:
                document = assistant.document(item.doc_id)
            except DocumentNotFoundError:
                continue
            names[item.doc_id] = render.display_title(
                document.title, document.path, document.doc_id
            )
        return names

    def chat_turn(
        question: str,
        session: dict[str, Any],
        k: float,
        sources: list[str] | None,
        after: str,
        before: str,
        use_llm: bool,
    ) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        try:
            filters = build_filters(sources, after, before)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
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
            items = assistant.chat_stream(question, _history(session), k=int(k),
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
        names = document_names(answer)
        messages[index] = {
            "role": "assistant",
            "content": render.answer_markdown(answer, names=names),
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
            _sources_for(turn),
        )

    def show_citation(marker: str | None, session: dict[str, Any]) -> str:
        turn = _active_turn(session)
        if turn is None or not marker:
            return _sources_for(turn)
        citation = next((c for c in _turn_citations(turn) if str(c.marker) == str(marker)), None)
        if citation is None:
            return render.message_html(f"No citation [{marker}] in this answer.", kind="error")
        try:
            document = assistant.document(citation.doc_id)
        except DocumentNotFoundError:
            return render.message_html(
                "This article has been deleted since the answer was given.", kind="error"
            )
        meta = dict(
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
            **meta,
        )

    def focus_message(session: dict[str, Any], event: gr.SelectData) -> tuple[Any, ...]:
        index = event.index if isinstance(event.index, int) else event.index[0]
        turns: list[dict[str, Any]] = session["turns"]
        # Selecting the question focuses its answer too.
        turn = next((t for t in turns if t["message_index"] in (index, index + 1)), None)
        if turn is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        session = {**session, "active": turn["message_index"]}
        return session, _badge_for(turn), _chips_update(turn), _sources_for(turn)

    def record_feedback(session: dict[str, Any], event: gr.LikeData) -> None:
        index = event.index if isinstance(event.index, int) else event.index[0]
        turn = next((t for t in session["turns"] if t["message_index"] == index), None)
        if turn is None:
            return
        answer: Answer = turn["answer"]
        # Gradio sends True/False for the thumbs and a string for any other feedback option.
        liked = event.liked
        rating = ("up" if liked else "down") if isinstance(liked, bool) else str(liked)
        append_feedback(
            settings.home,
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

    def clear_chat() -> tuple[Any, ...]:
        return (
            new_session(),
            [],
            "",
            gr.Radio(choices=[], value=None, visible=False),
            _sources_for(None),
        )

    def ingest_files(
        files: list[str] | None,
        selected: list[str] | None,
        search: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (how Gradio injects progress)
    ) -> tuple[Any, ...]:
        files = [f for f in (files or []) if f]
        if not files:
            return (gr.skip(),) * 5
        results: list[tuple[str, str, str]] = []
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
            uploads.mkdir(parents=True, exist_ok=True)
            # A stable path makes re-uploading a corrected file update its document
            # instead of adding a duplicate, and keeps it out of Gradio's temp cache.
            target = uploads / name
            shutil.copyfile(source, target)

            def step(
                done: int, count: int, _path: str, number: int = number, name: str = name
            ) -> None:
                fraction = (number + (done / count if count else 1)) / total
                progress(fraction, desc=f"Indexing {name}")

            try:
                report = assistant.ingest(target, progress=step, refresh=False)
            except RagError as exc:
                target.unlink(missing_ok=True)
                results.append((name, "failed", str(exc)))
                continue
            if report.failed:
                target.unlink(missing_ok=True)  # nothing of it was indexed; keep no copy
            results.extend(_describe(name, report))
        # Once for the whole upload: a refresh per file rewrote the whole index each time.
        progress(1.0, desc="Updating the search index")
        assistant.refresh_index()
        table, delete_choices, filter_choices = corpus_views(selected, search)
        return (
            render_ingest_results(results),
            table,
            delete_choices,
            filter_choices,
            gr.File(value=None),
        )

    def delete_document(
        doc_id: str | None, selected: list[str] | None, search: str | None
    ) -> tuple[Any, ...]:
        if not doc_id:
            raise gr.Error("Choose a document to delete.")
        try:
            document = assistant.document(doc_id)
            assistant.delete(doc_id)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        path = Path(document.path) if document.path else None
        if path is not None and path.resolve().is_relative_to(uploads.resolve()):
            # An uploaded copy exists only for this document; deleting means deleting it.
            with contextlib.suppress(OSError):
                path.unlink()
        message = render.message_html(
            f"Deleted {render.display_title(document.title, document.path, doc_id)}."
        )
        return (message, *corpus_views(selected, search))

    def reindex(
        selected: list[str] | None,
        search: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (how Gradio injects progress)
    ) -> tuple[Any, ...]:
        def step(done: int, count: int, path: str) -> None:
            progress(done / count if count else 1.0, desc="Re-indexing")

        try:
            report = assistant.reindex(progress=step)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        message = render.message_html(
            f"Re-indexed {report.indexed} documents into {report.chunks} chunks "
            f"in {report.seconds:.1f} s."
        )
        return (message, *corpus_views(selected, search))

    def api_ask(question: str) -> str:
        """Answer a question from the indexed articles: Markdown with numbered sources."""
        try:
            answer = assistant.ask(question)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return render.answer_markdown(answer, names=document_names(answer))

    with gr.Blocks(title="rag — cited answers from the news", delete_cache=(3600, 3600)) as demo:
        # A value, not a callable: Gradio copies it per browser session, and a callable
        # would be published as an extra API endpoint.
        session = gr.State(new_session())
        gr.Markdown("## rag — cited answers from the news")
        with gr.Tab("Ask", id="ask"):
            with gr.Accordion("Search options", open=True), gr.Row(equal_height=True):
                k = gr.Slider(
                    1,
                    MAX_SLIDER_K,
                    value=min(settings.top_k, MAX_SLIDER_K),
                    step=1,
                    label="Passages",
                    elem_id="k",
                    scale=2,
                )
                source_filter = gr.Dropdown(
                    choices=[],
                    value=[],
                    multiselect=True,
                    label="Outlets (all when empty)",
                    elem_id="source-filter",
                    scale=3,
                )
                after = gr.Textbox(
                    label="From date",
                    placeholder="YYYY-MM-DD",
                    max_length=10,
                    elem_id="after",
                    scale=1,
                )
                before = gr.Textbox(
                    label="To date",
                    placeholder="YYYY-MM-DD",
                    max_length=10,
                    elem_id="before",
                    scale=1,
                )
                use_llm = gr.Checkbox(
                    value=llm_configured,
                    label=llm_label,
                    visible=llm_configured,
                    elem_id="use-llm",
                    scale=1,
                )
            with gr.Row():
                with gr.Column(scale=3):
                    badge = gr.HTML("", elem_id="mode-badge", js_on_load=None)
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        label="Answers",
                        height=460,
                        sanitize_html=True,
                        render_markdown=True,
                        latex_delimiters=[],
                        allow_tags=False,
                        allow_file_downloads=False,
                        feedback_options=("Like", "Dislike"),
                        buttons=["copy"],
                        placeholder="Ask a question about the articles. Every sentence of "
                        "the answer cites the passage it comes from.",
                    )
                    chips = gr.Radio(
                        choices=[],
                        value=None,
                        visible=False,
                        label="Citations (choose one to read the article)",
                        elem_id="citations",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask about the news…",
                            show_label=False,
                            lines=1,
                            scale=6,
                            max_length=MAX_QUESTION_CHARS,
                            elem_id="question",
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                        stop = gr.Button("Stop", scale=1, elem_id="stop",
                                         visible=llm_configured)
                        clear = gr.Button("New conversation", scale=1, elem_id="clear")
                    gr.Examples([[e] for e in EXAMPLES], inputs=[question], label="Examples")
                with gr.Column(scale=2):
                    sources = gr.HTML(
                        _sources_for(None),
                        elem_id="sources-panel",
                        js_on_load=SCROLL_TO_CITE_JS,
                        max_height=720,
                        padding=False,
                        container=True,
                    )
        with gr.Tab("Corpus", id="corpus"):
            corpus_search = gr.Textbox(
                label="Find documents",
                placeholder="Words of a title, an outlet or an id",
                elem_id="corpus-search",
            )
            documents = gr.Dataframe(
                headers=["Title", "Outlet", "Date", "Chunks", "Id"],
                datatype=["str", "str", "str", "number", "str"],
                interactive=False,
                elem_id="documents",
                label="Indexed documents",
                wrap=True,
            )
            with gr.Row():
                with gr.Column():
                    upload = gr.File(
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        type="filepath",
                        elem_id="upload",
                        label=f"Add articles ({', '.join(UPLOAD_TYPES)}; up to "
                        f"{render.human_size(settings.max_file_bytes)} each)",
                    )
                    ingest_result = gr.HTML("", elem_id="ingest-result", js_on_load=None)
                with gr.Column():
                    delete_choice = gr.Dropdown(
                        choices=[], value=None, label="Document", elem_id="delete-choice"
                    )
                    delete = gr.Button("Delete document", variant="stop", elem_id="delete")
                    reindex_button = gr.Button("Re-index everything", elem_id="reindex")
                    corpus_message = gr.HTML("", elem_id="corpus-message", js_on_load=None)

        ask_inputs = [question, session, k, source_filter, after, before, use_llm]
        ask_outputs = [question, chatbot, session, badge, chips, sources]
        answering = [
            trigger(
                chat_turn,
                ask_inputs,
                ask_outputs,
                api_visibility="private",
                concurrency_id="answer",
                show_progress="hidden",
            )
            for trigger in (question.submit, send.click)
        ]
        # Cancelling closes the answer stream, which stops the model at its next token.
        stop.click(None, None, None, cancels=cast(list[dict[str, Any]], answering),
                   api_visibility="private")
        chips.input(show_citation, [chips, session], [sources], api_visibility="private")
        chatbot.select(
            focus_message, [session], [session, badge, chips, sources], api_visibility="private"
        )
        chatbot.like(record_feedback, [session], None, api_visibility="private")
        # The Chatbot's own trash button empties the component; the session must follow or
        # the next answer would bring the old conversation back.
        chatbot.clear(
            clear_chat, None, [session, chatbot, badge, chips, sources], api_visibility="private"
        )
        clear.click(
            clear_chat, None, [session, chatbot, badge, chips, sources], api_visibility="private"
        )

        corpus_outputs = [documents, delete_choice, source_filter]
        upload.upload(
            ingest_files,
            [upload, source_filter, corpus_search],
            [ingest_result, *corpus_outputs, upload],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="corpus-write",
        )
        delete.click(
            delete_document,
            [delete_choice, source_filter, corpus_search],
            [corpus_message, *corpus_outputs],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="corpus-write",
        )
        reindex_button.click(
            reindex,
            [source_filter, corpus_search],
            [corpus_message, *corpus_outputs],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="corpus-write",
        )
        demo.load(corpus_views, [source_filter, corpus_search], corpus_outputs,
                  api_visibility="private")
        corpus_search.change(
            corpus_views,
            [source_filter, corpus_search],
            corpus_outputs,
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="hidden",
        )

        # gr.api types the endpoint from the hints, and cannot resolve postponed ones.
        api_ask.__annotations__ = {"question": str, "return": str}
        gr.api(api_ask, api_name="ask", concurrency_id="answer")
    return demo


def find_documents(documents: Sequence[Mapping[str, Any]], search: str
                   ) -> list[Mapping[str, Any]]:
    """The documents whose title, outlet, id or file name contains every word of
    `search` (any case), in their order; all of them for an empty search."""
    words = search.casefold().split()
    if not words:
        return list(documents)
    found = []
    for document in documents:
        text = " ".join(str(document.get(name) or "")
                        for name in ("title", "source", "doc_id", "path")).casefold()
        if all(word in text for word in words):
            found.append(document)
    return found


def corpus_label(total: int, matching: int, shown: int, searched: bool) -> str:
    """The corpus table's caption: how many documents there are, match and are shown."""
    label = f"Indexed documents: {total:,}"
    if searched:
        label += f"; {matching:,} match"
    if shown < matching:
        label += f"; the newest {shown:,} shown, find the others by name"
    return label


def _describe(name: str, report: Any) -> list[tuple[str, str, str]]:
    if report.failed:
        return [(name, "failed", reason) for _path, reason in report.failed]
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
    return [(name, status, f"{detail}; {report.chunks} chunks")]


def render_ingest_results(results: Sequence[tuple[str, str, str]]) -> str:
    rows = "".join(
        f'<tr class="rag-ingest-{render.escape(status)}"><td>{render.escape(name)}</td>'
        f"<td>{render.escape(status)}</td><td>{render.escape(detail)}</td></tr>"
        for name, status, detail in results
    )
    return (
        '<table class="rag-ingest"><thead><tr><th>File</th><th>Result</th><th>Detail</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


# -- serving -------------------------------------------------------------------------


def launch(
    demo: gr.Blocks,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
) -> str:
    """Start the server in a background thread and return its local URL."""
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY)
    try:
        _, url, _ = demo.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            share=False,
            prevent_thread_lock=True,
            quiet=True,
            max_file_size=settings.max_file_bytes,
            # The app serves no files of its own; uploads are copied into `home`, never
            # served.
            allowed_paths=[],
            blocked_paths=[str(settings.home.resolve())],
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
            show_error=False,
            css=CSS_PATH.read_text(encoding="utf-8"),
        )
    except OSError as exc:
        # Gradio's own words point at its environment variable, not at our --port.
        if "empty port" in str(exc):
            raise ConfigError(f"port {port} on {host} is in use (another `rag serve`?); "
                              "choose a free one with --port") from None
        raise ConfigError(f"cannot serve on {host}:{port}: {exc}") from None
    return str(url)


def in_running_loop(setup: Callable[[], _T]) -> _T:
    """Run Gradio's synchronous set-up with an event loop running.

    Gradio's `safe_get_lock()` (Blocks, queue and server construction) creates and installs
    a new event loop whenever none is running, and never closes the one it replaces; every
    start would leak loops and their sockets until the garbage collector reports them as
    ResourceWarnings. Inside `asyncio.run` it finds a running loop instead, and that one
    loop is closed properly on the way out.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return setup()

    async def run() -> _T:
        return setup()

    return asyncio.run(run())


def serve(
    assistant: Assistant,
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    *,
    block: bool = True,
) -> gr.Blocks:
    """Build and launch the UI; with `block`, wait until interrupted."""

    def start() -> tuple[gr.Blocks, str]:
        demo = build_app(assistant, settings)
        return demo, launch(demo, settings, host=host, port=port, auth=auth)

    demo, url = in_running_loop(start)
    if host not in {"127.0.0.1", "localhost", "::1"} and auth is None:
        print(
            f"warning: serving on {host} without a password; anyone who can reach it "
            "can read and change the corpus",
            file=sys.stderr,
            flush=True,
        )
    print(f"rag UI running at {url}", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo
