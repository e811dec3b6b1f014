"""The web UI end to end: a real server on loopback, driven by headless Chromium.

Two servers, each over a temporary data directory holding `corpus/`: an offline one, and
one whose LLM is a scripted OpenAI-compatible stub on loopback. The browser tests need
Debian's `chromium` at /usr/bin/chromium and are skipped, with that reason, without it.
Set RAG_UPDATE_SCREENSHOT=1 to refresh docs/screenshot.png from the citation test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from rag import Assistant, Settings
from tests.conftest import REPO
from tests.openai_stub import ScriptedOpenAI
from tests.system.test_timeline import ARTICLES as TIMELINE_ARTICLES
from ui.app import serve

CORPUS = REPO / "corpus"
SCREENSHOT = REPO / "docs" / "screenshot.png"
# Screenshots the browser tests take as evidence; ignored by git.
ARTIFACTS = REPO / "build" / "ui-screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Small enough that the oversized upload below is cheap, large enough for the corpus files.
UI_MAX_FILE_BYTES = 64 * 1024
TIMEOUT_MS = 60_000
QUESTION = "Why did the peacekeepers leave?"

pytestmark = [
    # Gradio's queue summarises its events after each one with pandas calls that pandas 3
    # deprecates; the warnings come from the server's threads, outside our code.
    pytest.mark.filterwarnings(
        "ignore:'future.no_silent_downcasting' is deprecated:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)


@dataclass
class Running:
    url: str
    assistant: Assistant
    home: Path
    endpoint: ScriptedOpenAI | None = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("ui-home")
    with pytest.MonkeyPatch.context() as patch:
        # Keep Gradio's upload cache out of the machine-wide temporary directory.
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-tmp")))
        assistant = Assistant(settings=Settings(home=home))
        report = assistant.ingest(CORPUS)
        assert report.ok, report.failed
        settings = assistant.settings.with_(max_file_bytes=UI_MAX_FILE_BYTES)
        port = free_port()
        demo = serve(assistant, settings, host="127.0.0.1", port=port, block=False)
        try:
            yield Running(f"http://127.0.0.1:{port}/", assistant, home)
        finally:
            demo.close()


@pytest.fixture(scope="module")
def llm_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A second server with a scripted LLM endpoint; unsupported sentences are kept."""
    home = tmp_path_factory.mktemp("ui-llm-home")
    with ScriptedOpenAI() as endpoint:
        settings = Settings(
            home=home,
            llm="openai",
            llm_model="stub-model",
            openai_base_url=endpoint.base_url,
            llm_timeout=5.0,
            llm_retries=0,
            keep_unsupported=True,
        )
        assistant = Assistant(settings=settings)
        assert assistant.ingest(CORPUS).ok
        port = free_port()
        demo = serve(assistant, settings, port=port, block=False)
        try:
            yield Running(f"http://127.0.0.1:{port}/", assistant, home, endpoint)
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, app: Running) -> Iterator[Page]:
    with open_page(browser, app) as page:
        yield page


@contextlib.contextmanager
def open_page(browser: Browser, app: Running, width: int = 1400, height: int = 1000
              ) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    dialogs: list[str] = []

    # An alert() would mean article or model text ran as script.
    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(app.url)
    page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()
    assert not dialogs, f"page opened dialogs: {dialogs}"


def ask(page: Page, question: str, turn: int) -> str:
    """Ask in the chat; return the text of answer message number `turn` (0-based)."""
    page.fill("#question textarea", question)
    page.click("#ask")
    # The badge carries the chat index of the answer it describes: user 2n, answer 2n+1.
    page.wait_for_selector(f'#mode-badge [data-turn="{2 * turn + 1}"]', timeout=TIMEOUT_MS)
    answers = page.locator('#chat [data-testid="bot"]')
    assert answers.count() == turn + 1
    return str(answers.nth(turn).inner_text())


def open_citation(page: Page, marker: int) -> str:
    page.locator("#citations label").filter(has_text=f"[{marker}]").click()
    mark = page.locator("#sources-panel mark#cite")
    mark.wait_for(timeout=TIMEOUT_MS)
    return str(mark.text_content())


def in_viewport(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(selector) => {
                const box = document.querySelector(selector).getBoundingClientRect();
                return box.top >= 0 && box.bottom <= window.innerHeight;
            }""",
            selector,
        )
    )


@needs_chromium
def test_answer_citation_opens_the_article_with_the_quote_highlighted(
    app: Running, page: Page, tmp_path: Path
) -> None:
    expected = app.assistant.ask(QUESTION, k=app.assistant.settings.top_k)
    assert expected.citations, "the demo question should be answered with citations"

    text = ask(page, QUESTION, 0)

    assert "[1]" in text and "Sources" in text
    assert page.inner_text("#mode-badge").strip().lower().startswith("extractive")
    assert open_citation(page, 1) == expected.citations[0].quote
    assert in_viewport(page, "#sources-panel mark#cite")
    panel = page.inner_text("#sources-panel")
    document = app.assistant.document(expected.citations[0].doc_id)
    assert document.text.strip()[:60] in panel, "the panel shows the full article"

    page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
    if os.environ.get("RAG_UPDATE_SCREENSHOT") == "1":
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # A follow-up is answered in the same conversation, and the chips follow it.
    follow_up = ask(page, "And who decided that?", 1)
    assert follow_up.strip()
    assert page.locator("#citations label").count() >= 1

    # Thumbs up on the first answer lands in feedback.jsonl with its citations.
    page.locator('#chat button[aria-label="Like"]').first.click()
    feedback = app.home / "feedback.jsonl"
    page.wait_for_function(
        "() => document.body.innerText.includes('feedback was saved')", timeout=TIMEOUT_MS
    )
    records = [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]
    assert records[-1]["rating"] == "up"
    assert records[-1]["question"] == QUESTION
    assert records[-1]["citations"][0]["quote"] == expected.citations[0].quote


def document_top(page: Page, selector: str) -> float:
    return float(page.evaluate(
        "(s) => document.querySelector(s).getBoundingClientRect().top + window.scrollY",
        selector))


@needs_chromium
def test_answer_markers_open_their_citation_and_focus_their_answer(
    app: Running, page: Page
) -> None:
    expected = app.assistant.ask(QUESTION, k=app.assistant.settings.top_k)
    assert len(expected.citations) >= 2
    ask(page, QUESTION, 0)
    ask(page, "When did the withdrawal of Russian peacekeepers start?", 1)
    url = page.url

    # Marker [2] of the first answer, while the second answer is the focused one.
    page.locator('#chat [data-testid="bot"]').nth(0).locator(
        'a[href^="#cite-"]').filter(has_text="[2]").click()

    page.wait_for_selector('#mode-badge [data-turn="1"]', timeout=TIMEOUT_MS)
    chip = page.locator("#citations label").filter(has_text="[2]").locator("input")
    expect(chip).to_be_checked(timeout=TIMEOUT_MS)
    mark = page.locator("#sources-panel mark#cite")
    expect(mark).to_have_text(expected.citations[1].quote, timeout=TIMEOUT_MS)
    assert page.url == url, "a marker opens its citation; the page goes nowhere"
    # A second click on the same marker is an event too (after choosing another chip).
    open_citation(page, 1)
    page.locator('#chat [data-testid="bot"]').nth(0).locator(
        'a[href^="#cite-"]').filter(has_text="[2]").click()
    expect(mark).to_have_text(expected.citations[1].quote, timeout=TIMEOUT_MS)


@needs_chromium
@pytest.mark.parametrize("width", [1400, 390])
def test_layout_at_desktop_and_phone_widths(browser: Browser, app: Running, width: int) -> None:
    phone = width < 640
    with open_page(browser, app, width=width, height=844 if phone else 1000) as page:
        # The search options are open on a desktop and closed on a phone, where they
        # filled the first screen.
        if phone:
            expect(page.locator("#k")).to_be_hidden(timeout=TIMEOUT_MS)
            assert document_top(page, "#chat") < 844 / 2
        else:
            expect(page.locator("#k")).to_be_visible()
        ask(page, QUESTION, 0)
        # The question box takes the row; the buttons only their words (a phone gives
        # them the next line).
        box = page.locator("#question").bounding_box()
        row = page.locator("#question-row").bounding_box()
        assert box is not None and row is not None
        assert box["width"] >= (0.9 if phone else 0.55) * row["width"], (box, row)
        for button in ("#ask", "#clear"):
            assert page.evaluate(
                "(s) => { const b = document.querySelector(s);"
                " return b.scrollWidth <= b.clientWidth + 1; }", button), button
        # The sources come before the examples, which on a phone are below both columns.
        assert document_top(page, "#sources-panel") < document_top(page, "#examples")
        page.screenshot(path=str(ARTIFACTS / f"ask-{width}.png"), full_page=True)

        page.get_by_role("tab", name="Corpus").click()
        expect(page.locator("#documents")).to_contain_text("000_4289d46f5f19964e.txt",
                                                          timeout=TIMEOUT_MS)
        headers = page.evaluate("""() => Array.from(document.querySelectorAll('#documents th'))
            .filter((th) => th.innerText.trim())
            .map((th) => ({text: th.innerText.trim(), height: th.getBoundingClientRect().height,
                           fits: th.scrollWidth <= th.clientWidth + 1}))""")
        names = [h["text"] for h in headers]
        assert {"Title", "Outlet", "Date", "Chunks", "Id"} <= set(names), names
        # One line each (they wrapped a letter per line), none cut off.
        assert max(h["height"] for h in headers) < 2 * min(h["height"] for h in headers)
        assert all(h["fits"] for h in headers), headers
        page.screenshot(path=str(ARTIFACTS / f"corpus-{width}.png"), full_page=True)


@needs_chromium
def test_uploaded_article_becomes_answerable_and_oversized_upload_is_refused(
    app: Running, page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fact = (
        "The Zephyr Institute announced on Tuesday that its chief archivist is Marisol "
        'Quenby. <img src=x onerror="alert(1)"> <script>alert(2)</script>\n'
        "Quenby has catalogued 4,812 maps of the Baltic coast since 2019.\n"
    )
    upload = tmp_path / "zephyr-institute.txt"
    upload.write_text(fact, encoding="utf-8")
    hostile_title = '<img src=x onerror="alert(3)">'
    titled = tmp_path / "hostile-title.md"
    titled.write_text(
        f"---\ntitle: '{hostile_title}'\nsource: '<b>Outlet</b>'\n---\nA short note.\n",
        encoding="utf-8",
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    # Not an article type: refused in the table with the others, not in a passing toast.
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    before = len(app.assistant.documents())
    refreshes: list[int] = []
    refresh = app.assistant.retriever.refresh

    def counted_refresh() -> None:
        refreshes.append(1)
        refresh()

    monkeypatch.setattr(app.assistant.retriever, "refresh", counted_refresh)

    page.get_by_role("tab", name="Corpus").click()
    page.set_input_files("#upload input[type=file]",
                         [str(upload), str(titled), str(empty), str(picture)])
    rows = page.locator("#ingest-result tbody tr")
    rows.first.wait_for(timeout=TIMEOUT_MS)
    results = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert len(results) == 4, results
    assert "zephyr-institute.txt" in results[0] and "added" in results[0]
    assert "hostile-title.md" in results[1] and "added" in results[1]
    assert "empty.txt" in results[2] and "failed" in results[2] and "file is empty" in results[2]
    assert "photo.png" in results[3] and "failed" in results[3]
    assert "unsupported file type" in results[3] and ".txt" in results[3]
    assert len(app.assistant.documents()) == before + 2
    assert len(refreshes) == 1  # one index refresh for the whole upload, not one per file
    documents = page.locator("#documents")
    documents.get_by_text("zephyr-institute.txt").first.wait_for(timeout=TIMEOUT_MS)
    # Titles and outlets are shown as text in the table, not parsed as markup.
    expect(documents).to_contain_text(hostile_title, timeout=TIMEOUT_MS)
    assert page.locator("#documents img, #documents b").count() == 0

    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "Who is the chief archivist of the Zephyr Institute?", 0)
    assert "Marisol Quenby" in answer
    quote = open_citation(page, 1)
    assert "Marisol Quenby" in quote
    # The hostile markup in the article is shown as text, never run or rendered.
    panel = page.inner_text("#sources-panel")
    assert '<img src=x onerror="alert(1)">' in panel
    assert page.locator("#sources-panel img, #chat img, #sources-panel script").count() == 0

    oversized = tmp_path / "oversized.txt"
    oversized.write_text("filler words " * (UI_MAX_FILE_BYTES // 6), encoding="utf-8")
    page.get_by_role("tab", name="Corpus").click()
    page.set_input_files("#upload input[type=file]", str(oversized))
    page.get_by_text("exceed the maximum allowed size").first.wait_for(timeout=TIMEOUT_MS)
    assert len(app.assistant.documents()) == before + 2
    assert not (app.home / "uploads" / "oversized.txt").exists()


@needs_chromium
def test_fetching_a_private_address_is_refused_in_place_and_the_corpus_stays(
        page: Page, app: Running) -> None:
    before = len(app.assistant.documents())
    page.get_by_role("tab", name="Corpus").click()
    page.fill("#urls textarea", f"{app.url}feed.xml")
    page.click("#fetch")
    result = page.locator("#ingest-result")
    expect(result).to_contain_text("private address", timeout=TIMEOUT_MS)
    expect(result).to_contain_text("RAG_ALLOW_PRIVATE_URLS")
    assert len(app.assistant.documents()) == before
    expect(page.locator("#documents")).to_contain_text(f"Indexed documents: {before}")


@needs_chromium
def test_corpus_search_narrows_the_table_and_the_delete_list(page: Page) -> None:
    page.get_by_role("tab", name="Corpus").click()
    documents = page.locator("#documents")
    # .first: the table may render a cell's text twice (its view and its editor).
    documents.get_by_text("000_4289d46f5f19964e.txt").first.wait_for(timeout=TIMEOUT_MS)
    page.fill("#corpus-search input, #corpus-search textarea", "no such words anywhere")
    expect(page.locator("#documents")).to_contain_text("0 match", timeout=TIMEOUT_MS)
    expect(documents).not_to_contain_text("000_4289d46f5f19964e.txt")
    page.fill("#corpus-search input, #corpus-search textarea", "4289D46F")
    expect(documents).to_contain_text("1 match", timeout=TIMEOUT_MS)
    expect(documents).to_contain_text("000_4289d46f5f19964e.txt")
    page.locator("#delete-choice input").click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=TIMEOUT_MS)
    assert options.count() == 1
    assert "000_4289d46f5f19964e.txt" in options.first.inner_text()


@needs_chromium
def test_bad_input_is_a_notice_and_the_conversation_stays(page: Page) -> None:
    first = ask(page, QUESTION, 0)

    page.fill("#after textarea, #after input", "2024-02-30")
    page.fill("#question textarea", QUESTION)
    page.click("#ask")
    page.get_by_text("is not a calendar date").first.wait_for(timeout=TIMEOUT_MS)
    page.fill("#after textarea, #after input", "")
    page.fill("#question textarea", "")
    page.click("#ask")
    page.get_by_text("Type a question first.").first.wait_for(timeout=TIMEOUT_MS)
    # A long paste is kept whole and refused with its length, not cut to the limit.
    page.fill("#question textarea", "why?" * 1250)
    assert len(page.input_value("#question textarea")) == 5000
    page.click("#ask")
    page.get_by_text("5000 characters long; the limit is 2000").first.wait_for(
        timeout=TIMEOUT_MS)

    # Neither notice replaced the answer, its badge or its sources with an error.
    answers = page.locator('#chat [data-testid="bot"]')
    assert answers.count() == 1 and answers.first.inner_text() == first
    assert page.locator('#chat [data-testid="user"]').count() == 1
    expect(page.locator("#mode-badge")).not_to_contain_text("rror")
    expect(page.locator("#sources-panel")).not_to_contain_text("rror")
    page.screenshot(path=str(ARTIFACTS / "bad-input-keeps-the-conversation.png"))


@pytest.fixture(scope="module")
def dated_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server over dated articles from several outlets (the seed article is undated)."""
    home = tmp_path_factory.mktemp("ui-dated-home")
    news = tmp_path_factory.mktemp("ui-dated-news") / "news.jsonl"
    news.write_text("\n".join(json.dumps(a) for a in TIMELINE_ARTICLES), encoding="utf-8")
    assistant = Assistant(settings=Settings(home=home))
    assert assistant.ingest(news).ok
    port = free_port()
    demo = serve(assistant, assistant.settings, host="127.0.0.1", port=port, block=False)
    try:
        yield Running(f"http://127.0.0.1:{port}/", assistant, home)
    finally:
        demo.close()


@needs_chromium
@pytest.mark.parametrize("width", [1400, 390])
def test_timeline_tab_lists_dated_entries_and_opens_each_article(
        browser: Browser, dated_app: Running, width: int) -> None:
    subject = "river port ceasefire"
    expected = dated_app.assistant.timeline(subject)
    assert len(expected) >= 3
    with open_page(browser, dated_app, width=width) as page:
        page.get_by_role("tab", name="Timeline").click()
        # Bad input is said in place of the entries; the tab stays usable.
        page.fill("#timeline-query textarea", subject)
        page.fill("#timeline-after textarea, #timeline-after input", "2024-02-30")
        page.click("#timeline-build")
        expect(page.locator("#timeline-entries")).to_contain_text(
            "is not a calendar date", timeout=TIMEOUT_MS)
        page.fill("#timeline-after textarea, #timeline-after input", "")
        page.click("#timeline-build")
        page.locator("#timeline-entries .rag-tl-entry").first.wait_for(timeout=TIMEOUT_MS)
        shown = page.locator("#timeline-entries .rag-tl-date").all_inner_texts()
        assert [d.split(" ")[0] for d in shown] == [e.date for e in expected]
        last = expected[-1].citation
        page.locator("#timeline-chips label").filter(has_text=f"[{last.marker}]").click()
        mark = page.locator("#timeline-article mark#cite")
        mark.wait_for(timeout=TIMEOUT_MS)
        assert mark.text_content() == last.quote
        page.screenshot(path=str(ARTIFACTS / f"timeline-{width}.png"), full_page=True)
        # A date range narrows it to the articles published then.
        page.fill("#timeline-after textarea, #timeline-after input", "2024-05-01")
        page.click("#timeline-build")
        expect(page.locator("#timeline-entries .rag-tl-entry")).to_have_count(
            len(dated_app.assistant.timeline(subject, filters={"published_after": "2024-05-01"})),
            timeout=TIMEOUT_MS)


@needs_chromium
def test_an_undated_corpus_says_why_its_timeline_is_empty(page: Page) -> None:
    page.get_by_role("tab", name="Timeline").click()
    page.fill("#timeline-query textarea", "the peacekeepers' withdrawal")
    page.click("#timeline-build")
    expect(page.locator("#timeline-entries")).to_contain_text(
        "No dated sentence about this", timeout=TIMEOUT_MS)


@needs_chromium
def test_without_an_llm_the_switch_says_why_and_a_refusal_points_at_the_sources(
        page: Page) -> None:
    switch = page.locator("#use-llm input[type=checkbox]")
    assert switch.is_disabled() and not switch.is_checked()
    expect(page.locator("#use-llm")).to_contain_text("none configured")
    refusal = ask(page, "What did the Chinese foreign ministry say about the pipeline?", 0)
    assert "The sources don't say." in refusal and "Sources panel" in refusal, refusal
    assert "listed below" not in refusal


@needs_chromium
def test_delete_with_nothing_chosen_keeps_the_corpus_view(page: Page) -> None:
    page.get_by_role("tab", name="Corpus").click()
    documents = page.locator("#documents")
    expect(documents).to_contain_text("000_4289d46f5f19964e.txt", timeout=TIMEOUT_MS)
    page.locator("#delete").click()
    page.get_by_text("Choose a document to delete first.").first.wait_for(timeout=TIMEOUT_MS)
    expect(documents).to_contain_text("000_4289d46f5f19964e.txt")
    # The delete list still works.
    page.locator("#delete-choice input").click()
    page.get_by_role("option").first.wait_for(timeout=TIMEOUT_MS)


@needs_chromium
def test_delete_asks_first_and_declining_keeps_the_document(
        browser: Browser, app: Running, tmp_path: Path) -> None:
    note = tmp_path / "delete-me-note.txt"
    note.write_text("The Brennholt council met on Friday to discuss tram fares.\n",
                    encoding="utf-8")
    assert app.assistant.ingest(note).ok
    answers = iter([False, True])  # decline the first confirmation, accept the second
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.on("dialog", on_dialog)
        page.goto(app.url)
        page.get_by_role("tab", name="Corpus").click()
        documents = page.locator("#documents")
        expect(documents).to_contain_text("delete-me-note.txt", timeout=TIMEOUT_MS)
        page.locator("#delete-choice input").click()
        page.get_by_role("option", name="delete-me-note.txt").first.click()
        page.locator("#delete").click()
        page.wait_for_timeout(1500)
        assert len(asked) == 1 and "Delete this document" in asked[0]
        assert any(Path(d["path"]).name == "delete-me-note.txt"
                   for d in app.assistant.documents())
        page.locator("#delete").click()
        expect(documents).not_to_contain_text("delete-me-note.txt", timeout=TIMEOUT_MS)
        assert len(asked) == 2
        assert not any(Path(d["path"]).name == "delete-me-note.txt"
                       for d in app.assistant.documents())
    finally:
        context.close()


@needs_chromium
def test_llm_failure_shows_the_fallback_badge_and_the_llm_can_be_switched_off(
    browser: Browser, llm_app: Running
) -> None:
    assert llm_app.endpoint is not None
    llm_app.endpoint.script(status=500)
    with open_page(browser, llm_app) as page:
        assert page.locator("#use-llm input[type=checkbox]").is_checked()
        ask(page, QUESTION, 0)
        badge = page.inner_text("#mode-badge").lower()
        assert "fallback" in badge and "500" in badge, badge

        page.locator("#use-llm input[type=checkbox]").uncheck()
        ask(page, QUESTION, 1)
        assert page.inner_text("#mode-badge").strip().lower() == "extractive"


SUPPORTED = "The Russian peacekeepers were deployed for a period of five years"


def cite_the_supporting_source(request: dict[str, Any]) -> str:
    """A reply with one supported sentence (citing the source that holds it), one invented
    sentence, and hostile Markdown/HTML that must never reach the page as markup."""
    prompt = request["messages"][-1]["content"]
    sources = re.findall(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', prompt, re.DOTALL)
    number = next(n for n, text in sources if SUPPORTED in text)
    return (
        f"{SUPPORTED} to protect the local Armenian population [{number}]. "
        f"The peacekeepers were secretly paid in gold bars by aliens from Mars [{number}]. "
        "![pixel](http://127.0.0.1:9/pixel.png) <img src=x onerror=alert(1)>"
    )


@needs_chromium
def test_generative_answer_streams_safely_and_marks_unsupported_sentences(
    browser: Browser, llm_app: Running
) -> None:
    assert llm_app.endpoint is not None
    llm_app.endpoint.script(responder=cite_the_supporting_source)
    requested: list[str] = []
    with open_page(browser, llm_app) as page:
        page.on("request", lambda request: requested.append(request.url))

        text = ask(page, QUESTION, 0)

        assert page.inner_text("#mode-badge").strip().lower() == "generative"
        assert SUPPORTED in text
        assert "⚠ unsupported:" in text and "aliens from Mars" in text
        assert text.index("⚠ unsupported:") < text.index("aliens from Mars")
        assert page.locator("#chat img").count() == 0
        assert not [url for url in requested if "pixel.png" in url]
        assert SUPPORTED in open_citation(page, 1)


def test_ask_is_exposed_as_an_http_api(app: Running) -> None:
    with httpx.Client(base_url=app.url, timeout=60) as client:
        started = client.post("gradio_api/call/ask", json={"data": [QUESTION]})
        started.raise_for_status()
        event_id = started.json()["event_id"]
        events = client.get(f"gradio_api/call/ask/{event_id}").text

    assert "event: complete" in events, events
    data_line = events.split("event: complete", 1)[1].split("data:", 1)[1].splitlines()[0]
    (markdown,) = json.loads(data_line)
    expected = app.assistant.ask(QUESTION, k=app.assistant.settings.top_k)
    assert "**Sources**" in markdown
    for citation in expected.citations:
        assert f"\\[{citation.marker}\\]" in markdown
