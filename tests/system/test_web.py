"""Feeds and pages from the web (`rag.ingest.web`), served by a real HTTP server on
127.0.0.1: entries indexed with their outlet, date and link, re-fetching incremental,
robots.txt and the size cap obeyed, private addresses refused unless allowed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag import Assistant
from rag.config import Settings
from rag.ingest.loaders import read_url_list
from rag.ingest.web import Fetcher, url_file
from tests.system.test_cli import rag

PAGE = """<html><head><title>{title} | Coast News</title>
<meta property="og:site_name" content="Coast News"><meta name="author" content="Ann Lee">
<meta property="article:published_time" content="{day}T09:00:00Z"></head>
<body><nav>Home | World | Sport</nav><article><h1>{title}</h1><p>{text}</p></article>
<footer>Copyright Coast News</footer></body></html>"""

ARTICLES = {
    "/harbour": ("Harbour reopens", "2024-04-18",
                 "The harbour master said 57 ships docked at the river port on Thursday "
                 "after the storm had closed it for a week."),
    "/dredging": ("Dredging to finish in May", "2024-04-19",
                  "Dredging of the outer channel is due to finish in May, the port "
                  "authority said in a statement on Friday."),
    "/private/memo": ("Internal memo", "2024-04-19", "Not for crawlers."),
}


def rss(items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><pubDate>{when}</pubDate>"
        f"<description>{summary}</description></item>" for title, link, when in items
        for summary in ["The fishing fleet stayed in port while quotas were negotiated."])
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Coast News</title>'
            f"{entries}</channel></rss>")


class Site:
    def __init__(self) -> None:
        self.feed = ""
        self.requests: list[str] = []
        self.robots_status = 200  # 301: moved to /robots-moved.txt


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path == "/robots.txt" and state.robots_status == 301:
                self.send_response(301)
                self.send_header("Location", "/robots-moved.txt")
                self.end_headers()
            elif self.path in ("/robots.txt", "/robots-moved.txt"):
                self._send(state.robots_status if state.robots_status != 301 else 200,
                           "text/plain", "User-agent: *\nDisallow: /private/\n")
            elif self.path == "/feed.xml":
                self._send(200, "application/rss+xml", state.feed)
            elif self.path == "/moved":
                self.send_response(301)
                self.send_header("Location", "/harbour")
                self.end_headers()
            elif self.path == "/huge":
                self._send(200, "text/html", "<p>" + "x" * 300_000 + "</p>")
            elif self.path in ARTICLES:
                title, day, text = ARTICLES[self.path]
                self._send(200, "text/html", PAGE.format(title=title, day=day, text=text))
            else:
                self._send(404, "text/plain", "not found")

        def _send(self, status: int, kind: str, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    state.feed = rss([("Harbour reopens", f"{base}/harbour", "Thu, 18 Apr 2024 09:00:00 GMT"),
                      ("Dredging to finish in May", f"{base}/dredging",
                       "Fri, 19 Apr 2024 10:00:00 GMT"),
                      ("Quota talks", f"{base}/gone", "Sat, 20 Apr 2024 08:00:00 GMT")])
    try:
        yield state, base
    finally:
        server.shutdown()
        server.server_close()


def web_assistant(make: Callable[..., Assistant], **settings: object) -> Assistant:
    return make(allow_private_urls=True, fetch_interval=0.0, **settings)


def test_a_feed_is_indexed_entry_by_entry_with_outlet_date_and_link(
        site: tuple[Site, str], make_assistant: Callable[..., Assistant]) -> None:
    state, base = site
    assistant = web_assistant(make_assistant)
    report = assistant.ingest(f"{base}/feed.xml")
    assert report.ok, report.failed
    assert len(report.added) == 3
    # The page that is gone: the feed's summary stands in, and the report says so.
    assert any("summary stands in" in note for _, note in report.warnings)
    rows = {row["url"]: row for row in assistant.documents()}
    assert rows[f"{base}/harbour"]["source"] == "Coast News"
    assert rows[f"{base}/harbour"]["published_at"].startswith("2024-04-18")
    answer = assistant.ask("How many ships docked at the river port on Thursday?")
    assert not answer.refused, answer.reason
    cited = answer.citations[0]
    assert cited.url == f"{base}/harbour" and "57 ships" in cited.quote
    assert assistant.document(cited.doc_id).text[cited.start:cited.end] == cited.quote
    # Pages are read only where robots.txt allows, once per origin.
    assert state.requests.count("/robots.txt") == 1

    # Fetched again: nothing changed, nothing rewritten. Then an entry falls off the
    # feed and another is updated: the first stays indexed, the second is replaced.
    again = assistant.ingest(f"{base}/feed.xml")
    assert again.ok and not again.added and not again.updated and len(again.unchanged) == 3
    state.feed = rss([("Dredging to finish in June", f"{base}/dredging",
                       "Fri, 19 Apr 2024 10:00:00 GMT")])
    changed = assistant.ingest(f"{base}/feed.xml")
    assert len(changed.updated) == 1 and not changed.removed
    titles = {row["title"] for row in assistant.documents()}
    assert {"Harbour reopens", "Dredging to finish in June"} <= titles


def test_a_page_url_robots_redirects_and_the_size_cap(
        site: tuple[Site, str], make_assistant: Callable[..., Assistant]) -> None:
    _, base = site
    assistant = web_assistant(make_assistant, max_file_bytes=100_000)
    report = assistant.ingest_urls([f"{base}/moved", f"{base}/private/memo", f"{base}/huge",
                                    f"{base}/nowhere", "ftp://example.org/x"])
    assert len(report.added) == 1
    (row,) = assistant.documents()
    # The redirect was followed; the page's own metadata names it.
    assert row["url"] == f"{base}/harbour" and row["title"] == "Harbour reopens"
    assert row["author"] == "Ann Lee" and row["published_at"].startswith("2024-04-18")
    reasons = dict(report.failed)
    assert "robots.txt" in reasons[f"{base}/private/memo"]
    assert "limit" in reasons[f"{base}/huge"]
    assert "HTTP 404" in reasons[f"{base}/nowhere"]
    assert "not an http(s) URL" in reasons["ftp://example.org/x"]


@pytest.mark.parametrize(("status", "memo_allowed", "page_allowed"),
                         [(301, False, True), (404, True, True), (503, False, False)])
def test_robots_files_moved_missing_or_failing(
        site: tuple[Site, str], make_assistant: Callable[..., Assistant], status: int,
        memo_allowed: bool, page_allowed: bool) -> None:
    """RFC 9309: a moved robots file is followed, a missing one (4xx) allows everything,
    one that fails (5xx) allows nothing."""
    state, base = site
    state.robots_status = status
    report = web_assistant(make_assistant).ingest_urls([f"{base}/harbour",
                                                        f"{base}/private/memo"])
    failed = dict(report.failed)
    assert (f"{base}/private/memo" not in failed) == memo_allowed
    assert (f"{base}/harbour" not in failed) == page_allowed
    assert all("robots.txt" in reason for reason in failed.values())


def test_private_addresses_are_refused_by_default_and_nothing_indexed_is_lost(
        site: tuple[Site, str], make_assistant: Callable[..., Assistant],
        tmp_path: Path) -> None:
    _, base = site
    note = tmp_path / "note.txt"
    note.write_text("Fishing quotas\nThe fleet stayed in port.\n", encoding="utf-8")
    assistant = make_assistant()
    assert assistant.ingest(note).ok
    report = assistant.ingest(f"{base}/feed.xml")
    ((url, reason),) = report.failed
    assert url == f"{base}/feed.xml" and "private address" in reason
    assert "RAG_ALLOW_PRIVATE_URLS" in reason
    assert [row["title"] for row in assistant.documents()] == ["Fishing quotas"]


def test_requests_to_one_host_wait_for_the_interval(tmp_path: Path) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    fetcher = Fetcher(Settings(home=tmp_path, fetch_interval=2.0), clock=lambda: now[0],
                      sleep=sleep)
    try:
        fetcher._wait("a.example")
        now[0] += 0.5
        fetcher._wait("a.example")
        fetcher._wait("b.example")  # another host: no wait
    finally:
        fetcher.close()
    assert slept == [1.5]


def test_rag_ingest_takes_urls_and_a_url_file(site: tuple[Site, str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = site
    monkeypatch.setenv("RAG_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("RAG_FETCH_INTERVAL", "0")
    home = tmp_path / "home"
    listed = tmp_path / "urls.txt"
    listed.write_text(f"# today's reading\n{base}/dredging\n\n", encoding="utf-8")
    assert read_url_list(listed) == [f"{base}/dredging"]
    done = rag(home, "ingest", f"{base}/harbour", "--from-file", str(listed))
    assert done.returncode == 0, done.stderr
    assert "2 documents added" in done.stdout
    assert url_file(home / "web", f"{base}/harbour").exists()
    nothing = rag(home, "ingest")
    assert nothing.returncode == 2 and "give a file" in nothing.stderr
