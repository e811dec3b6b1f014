"""The analysts' web UI: a cited-answer chat, the article behind each citation, corpus upkeep.

`build_app(assistant, settings)` returns the Blocks; `serve(...)` launches them locally.
All rendering of untrusted text (articles, model output) goes through `ui.render`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

# Importing this module runs ui/__init__.py first, which disables Gradio analytics.
import gradio as gr

from rag.assistant import Assistant
from rag.config import MAX_K, Settings
from rag.errors import ConfigError
from ui import render
from ui.handlers import (
    DELETE_CANCELLED,
    TIMELINE_HINT,
    UPLOAD_TYPES,
    Handlers,
    new_session,
    sources_for,
)

_T = TypeVar("_T")

EXAMPLES = [
    "Why did the peacekeepers leave?",
    "When did the withdrawal of Russian peacekeepers start?",
    "How many Russian peacekeepers were deployed in Nagorno-Karabakh?",
    "What did the EU say about the withdrawal?",
]
# Enough queued requests for a team, few enough that a stuck model cannot pile up memory.
QUEUE_MAX_SIZE = 64
CONCURRENCY = 4
MAX_SLIDER_K = min(MAX_K, 20)

CSS_PATH = Path(__file__).with_name("style.css")

# Runs in the sources panel: bring the highlighted span into view whenever the panel changes.
SCROLL_TO_CITE_JS = """
watch('value', () => {
  const mark = element.querySelector('mark#cite');
  if (mark) { mark.scrollIntoView({block: 'center', inline: 'nearest'}); }
});
"""

# Narrower than this, the columns stack (a phone): the search options start closed.
NARROW_PX = 640

# Runs once when the page loads (`launch(js=...)`).
# - An [n] in an answer is a link to "#cite-<message>-<n>" (`ui.render.link_markers`).
#   Clicking it writes "<message>-<n>:<time>" into the hidden #marker-link box (an input
#   event, so Gradio takes the value); the box's change event opens that citation
#   (`Handlers.open_marker`); the link itself goes nowhere. The
#   listener runs in the capture phase, before the chat's own click handling.
# - On a narrow screen the open search options would fill the first screen: close them.
PAGE_JS = f"""
() => {{
  document.addEventListener('click', (event) => {{
    const link = event.target.closest && event.target.closest('#chat a[href^="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const box = document.querySelector('#marker-link textarea, #marker-link input');
    if (!box) return;
    box.value = link.getAttribute('href').slice('#cite-'.length) + ':' + Date.now();
    box.dispatchEvent(new Event('input', {{bubbles: true}}));
  }}, true);
  if (window.innerWidth < {NARROW_PX}) {{
    const close = () => {{
      const toggle = document.querySelector('#search-options > button.label-wrap.open');
      if (toggle) {{ toggle.click(); return true; }}
      return false;
    }};
    if (!close()) {{
      const watcher = new MutationObserver(() => {{ if (close()) watcher.disconnect(); }});
      watcher.observe(document.body, {{childList: true, subtree: true}});
      setTimeout(() => watcher.disconnect(), 10000);
    }}
  }}
}}
"""

# -- layout --------------------------------------------------------------------------


@dataclass(frozen=True)
class AskTab:
    """The Ask tab's components that events are wired to."""

    k: gr.Slider
    source_filter: gr.Dropdown
    after: gr.Textbox
    before: gr.Textbox
    use_llm: gr.Checkbox
    badge: gr.HTML
    chatbot: gr.Chatbot
    chips: gr.Radio
    marker_link: gr.Textbox
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    sources: gr.HTML


@dataclass(frozen=True)
class TimelineTab:
    """The Timeline tab's components that events are wired to."""

    query: gr.Textbox
    after: gr.Textbox
    before: gr.Textbox
    build: gr.Button
    entries: gr.HTML
    chips: gr.Radio
    article: gr.HTML
    shown: gr.State  # the entries behind the chips


@dataclass(frozen=True)
class CorpusTab:
    """The Corpus tab's components that events are wired to."""

    search: gr.Textbox
    documents: gr.Dataframe
    upload: gr.File
    urls: gr.Textbox
    fetch: gr.Button
    ingest_result: gr.HTML
    delete_choice: gr.Dropdown
    delete: gr.Button
    reindex: gr.Button
    message: gr.HTML


def _ask_tab(settings: Settings, llm_label: str) -> AskTab:
    llm_configured = settings.llm != "none"
    with gr.Tab("Ask", id="ask"):
        # Open on a desktop; the page script closes it on a phone, where it would fill
        # the first screen.
        with gr.Accordion("Search options", open=True, elem_id="search-options"), \
                gr.Row(equal_height=True):
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
                interactive=llm_configured,
                elem_id="use-llm",
                scale=1,
            )
        with gr.Row():
            with gr.Column(scale=3):
                badge = gr.HTML("", elem_id="mode-badge", js_on_load=None)
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Answers",
                    # The floating label covered the first line of every answer.
                    show_label=False,
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
                # Written by the page script when an [n] in an answer is clicked; never
                # shown (CSS), but rendered, so the script can fill it.
                marker_link = gr.Textbox(
                    show_label=False, container=False, elem_id="marker-link",
                    elem_classes=["rag-hidden"])
                with gr.Row(elem_id="question-row"):
                    question = gr.Textbox(
                        placeholder="Ask about the news…",
                        show_label=False,
                        lines=1,
                        scale=1,
                        # No max_length: the browser would cut a long paste silently;
                        # the check after submitting says how long it is and the limit.
                        elem_id="question",
                    )
                    # Buttons as wide as their words: the question gets the rest.
                    send = gr.Button("Ask", variant="primary", scale=0, min_width=72,
                                     elem_id="ask")
                    stop = gr.Button("Stop", scale=0, min_width=72, elem_id="stop",
                                     visible=llm_configured)
                    clear = gr.Button("New conversation", scale=0, min_width=72,
                                      elem_id="clear")
            with gr.Column(scale=2):
                sources = gr.HTML(
                    sources_for(None),
                    elem_id="sources-panel",
                    js_on_load=SCROLL_TO_CITE_JS,
                    max_height=720,
                    padding=False,
                    container=True,
                )
        # Below both columns: on a phone, where the columns stack, the sources come right
        # after the chat, and the examples after them.
        gr.Examples([[e] for e in EXAMPLES], inputs=[question], label="Examples",
                    elem_id="examples")
    return AskTab(
        k=k,
        source_filter=source_filter,
        after=after,
        before=before,
        use_llm=use_llm,
        badge=badge,
        chatbot=chatbot,
        chips=chips,
        marker_link=marker_link,
        question=question,
        send=send,
        stop=stop,
        clear=clear,
        sources=sources,
    )


def _timeline_tab() -> TimelineTab:
    with gr.Tab("Timeline", id="timeline"):
        with gr.Row(equal_height=True):
            query = gr.Textbox(placeholder="A subject, e.g. the peacekeepers' withdrawal",
                               show_label=False, lines=1, scale=4, elem_id="timeline-query")
            after = gr.Textbox(label="From date", placeholder="YYYY-MM-DD", max_length=10,
                               scale=1, elem_id="timeline-after")
            before = gr.Textbox(label="To date", placeholder="YYYY-MM-DD", max_length=10,
                                scale=1, elem_id="timeline-before")
            build = gr.Button("Build timeline", variant="primary", scale=0, min_width=120,
                              elem_id="timeline-build")
        with gr.Row():
            with gr.Column(scale=3):
                entries = gr.HTML(
                    render.message_html("The dated, cited sentences about a subject, oldest "
                                        "first, each date read from the sentence against its "
                                        "article's publication date."),
                    elem_id="timeline-entries", js_on_load=None)
                chips = gr.Radio(choices=[], value=None, visible=False,
                                 label="Entries (choose one to read the article)",
                                 elem_id="timeline-chips")
            with gr.Column(scale=2):
                article = gr.HTML(TIMELINE_HINT, elem_id="timeline-article",
                                  js_on_load=SCROLL_TO_CITE_JS, max_height=720,
                                  padding=False, container=True)
        shown = gr.State([])
    return TimelineTab(query=query, after=after, before=before, build=build,
                       entries=entries, chips=chips, article=article, shown=shown)


def _corpus_tab(settings: Settings) -> CorpusTab:
    with gr.Tab("Corpus", id="corpus"):
        search = gr.Textbox(
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
                # No `file_types`: the browser would refuse another type in a toast that
                # vanishes; the server lists it in the per-file table with the reason.
                upload = gr.File(
                    file_count="multiple",
                    type="filepath",
                    elem_id="upload",
                    label=f"Add articles ({', '.join(UPLOAD_TYPES)}; up to "
                    f"{render.human_size(settings.max_file_bytes)} each)",
                )
                with gr.Row(equal_height=True):
                    urls = gr.Textbox(label="Or fetch feeds and pages (one URL a line)",
                                      placeholder="https://example.org/feed.xml",
                                      lines=1, max_lines=6, scale=4, elem_id="urls")
                    fetch = gr.Button("Fetch", scale=0, min_width=80, elem_id="fetch")
                ingest_result = gr.HTML("", elem_id="ingest-result", js_on_load=None)
            with gr.Column():
                delete_choice = gr.Dropdown(
                    choices=[], value=None, label="Document", elem_id="delete-choice"
                )
                delete = gr.Button("Delete document", variant="stop", elem_id="delete")
                reindex = gr.Button("Re-index everything", elem_id="reindex")
                message = gr.HTML("", elem_id="corpus-message", js_on_load=None)
    return CorpusTab(
        search=search,
        documents=documents,
        upload=upload,
        urls=urls,
        fetch=fetch,
        ingest_result=ingest_result,
        delete_choice=delete_choice,
        delete=delete,
        reindex=reindex,
        message=message,
    )


# -- wiring --------------------------------------------------------------------------


def _wire_ask(handlers: Handlers, ask: AskTab, session: gr.State) -> None:
    inputs = [ask.question, session, ask.k, ask.source_filter, ask.after, ask.before, ask.use_llm]
    outputs = [ask.question, ask.chatbot, session, ask.badge, ask.chips, ask.sources]
    answering = [
        trigger(
            handlers.chat_turn,
            inputs,
            outputs,
            api_visibility="private",
            concurrency_id="answer",
            show_progress="hidden",
        )
        for trigger in (ask.question.submit, ask.send.click)
    ]
    # Cancelling closes the answer stream, which stops the model at its next token.
    ask.stop.click(None, None, None, cancels=cast(list[dict[str, Any]], answering),
                   api_visibility="private")
    ask.chips.input(
        handlers.show_citation, [ask.chips, session], [ask.sources], api_visibility="private"
    )
    ask.marker_link.change(
        handlers.open_marker,
        [ask.marker_link, session],
        [session, ask.badge, ask.chips, ask.sources],
        api_visibility="private",
        show_progress="hidden",
    )
    ask.chatbot.select(
        handlers.focus_message,
        [session],
        [session, ask.badge, ask.chips, ask.sources],
        api_visibility="private",
    )
    ask.chatbot.like(handlers.record_feedback, [session], None, api_visibility="private")
    # Bound once: an event without a concurrency_id queues in a group named after its
    # function's id, and both ways of clearing share one group.
    clear_chat = handlers.clear_chat
    cleared = [session, ask.chatbot, ask.badge, ask.chips, ask.sources]
    # The Chatbot's own trash button empties the component; the session must follow or
    # the next answer would bring the old conversation back.
    ask.chatbot.clear(clear_chat, None, cleared, api_visibility="private")
    ask.clear.click(clear_chat, None, cleared, api_visibility="private")


def _wire_timeline(handlers: Handlers, tab: TimelineTab) -> None:
    inputs = [tab.query, tab.after, tab.before]
    outputs = [tab.entries, tab.chips, tab.shown, tab.article]
    for trigger in (tab.query.submit, tab.build.click):
        trigger(handlers.timeline, inputs, outputs, api_visibility="private",
                concurrency_id="answer")
    tab.chips.input(handlers.show_timeline_entry, [tab.chips, tab.shown], [tab.article],
                    api_visibility="private")


# Every change to the corpus (upload, fetch, delete, reset) queues behind the others: one
# writer at a time, as the store's lock demands, and none of them in the public API.
CORPUS_WRITE: dict[str, Any] = {"api_visibility": "private", "concurrency_limit": 1,
                                "concurrency_id": "corpus-write"}


def _wire_corpus(
    demo: gr.Blocks, handlers: Handlers, corpus: CorpusTab, source_filter: gr.Dropdown
) -> None:
    corpus_outputs = [corpus.documents, corpus.delete_choice, source_filter]
    corpus.upload.upload(
        handlers.ingest_files,
        [corpus.upload, source_filter, corpus.search],
        [corpus.ingest_result, *corpus_outputs, corpus.upload],
        **CORPUS_WRITE,
    )
    corpus.fetch.click(
        handlers.ingest_url,
        [corpus.urls, source_filter, corpus.search],
        [corpus.ingest_result, *corpus_outputs, corpus.urls],
        **CORPUS_WRITE,
    )
    corpus.delete.click(
        handlers.delete_document,
        [corpus.delete_choice, source_filter, corpus.search],
        [corpus.message, *corpus_outputs],
        # Deleting cannot be undone from the UI: ask first (only when a document is
        # chosen; with none the handler says to choose one).
        js=DELETE_CONFIRM_JS,
        **CORPUS_WRITE,
    )
    corpus.reindex.click(
        handlers.reindex,
        [source_filter, corpus.search],
        [corpus.message, *corpus_outputs],
        **CORPUS_WRITE,
    )
    # Bound once, as clear_chat is: loading and searching share one concurrency group.
    corpus_views = handlers.corpus_views
    demo.load(corpus_views, [source_filter, corpus.search], corpus_outputs,
              api_visibility="private")
    corpus.search.change(
        corpus_views,
        [source_filter, corpus.search],
        corpus_outputs,
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
    )


# -- the app -------------------------------------------------------------------------


def build_app(assistant: Assistant, settings: Settings) -> gr.Blocks:
    handlers = Handlers(assistant, settings)
    if settings.llm == "none":
        # Shown, not hidden: the README promises the switch, and a user should see why it
        # cannot be turned on.
        llm_label = "LLM off: none configured (set RAG_LLM=local or OPENAI_BASE_URL)"
    elif settings.llm == "local":
        llm_label = f"Use local model ({getattr(assistant.generator, 'model', 'local')})"
    else:
        llm_label = f"Use LLM ({settings.llm_model})"

    with gr.Blocks(title="rag — cited answers from the news", delete_cache=(3600, 3600)) as demo:
        # A value, not a callable: Gradio copies it per browser session, and a callable
        # would be published as an extra API endpoint.
        session = gr.State(new_session())
        gr.Markdown("## rag — cited answers from the news")
        ask = _ask_tab(settings, llm_label)
        timeline = _timeline_tab()
        corpus = _corpus_tab(settings)
        _wire_ask(handlers, ask, session)
        _wire_timeline(handlers, timeline)
        _wire_corpus(demo, handlers, corpus, ask.source_filter)
        gr.api(handlers.api_ask, api_name="ask", concurrency_id="answer")
    return demo


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
            auth=LoginGuard(*auth) if auth else None,
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
            js=PAGE_JS,
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


DELETE_CONFIRM_JS = (
    "(doc, sources, search) => (doc && !window.confirm("
    "'Delete this document from the index? Its file is kept unless it was uploaded here.'))"
    f" ? [{json.dumps(DELETE_CANCELLED)}, sources, search] : [doc, sources, search]"
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class LoginGuard:
    """The password check handed to Gradio, with a limit on guessing: Gradio's own
    accepts any number of tries (200 wrong passwords took 3.7 s). After `max_failures`
    wrong logins within `window` seconds every login is refused for `lockout` seconds,
    the right password too: an attacker gets a handful of guesses a minute, the user a
    short wait. Gradio calls it with (username, password) and expects a bool."""

    def __init__(self, username: str, password: str, *, max_failures: int = 5,
                 window: float = 60.0, lockout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._username, self._password = username.encode(), password.encode()
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self._clock = clock
        self._failures: list[float] = []
        self._locked_until = 0.0
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        with self._lock:
            now = self._clock()
            if now < self._locked_until:
                return False
            # Both compared in constant time, and both always: no early exit to time.
            right = hmac.compare_digest(username.encode(), self._username)
            right &= hmac.compare_digest(password.encode(), self._password)
            if right:
                return True
            self._failures = [t for t in self._failures if now - t < self.window]
            self._failures.append(now)
            if len(self._failures) >= self.max_failures:
                self._locked_until, self._failures = now + self.lockout, []
            return False


def require_password(host: str, auth: tuple[str, str] | None) -> None:
    """Anyone who reaches the UI can read and change the corpus: beyond this machine
    it needs a password, from Python as from the CLI."""
    if host not in LOOPBACK_HOSTS and auth is None:
        raise ConfigError(
            f"serving on {host}, beyond this machine, needs a password: --auth "
            "USER:PASSWORD or RAG_UI_AUTH (from Python, serve(..., auth=(user, password)))")


def serve(
    assistant: Assistant,
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    *,
    block: bool = True,
) -> gr.Blocks:
    """Build and launch the UI; with `block`, wait until interrupted. Refuses an
    address beyond this machine without `auth`, as `rag serve` does."""
    require_password(host, auth)

    def start() -> tuple[gr.Blocks, str]:
        demo = build_app(assistant, settings)
        return demo, launch(demo, settings, host=host, port=port, auth=auth)

    demo, url = in_running_loop(start)
    print(f"rag UI running at {url}", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo
