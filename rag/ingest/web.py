"""Articles from the web: RSS/Atom feeds and article pages, fetched politely and saved as
JSON-lines records under `$RAG_HOME/web/`, which the crash-safe pipeline then indexes
like any other file (`Assistant.ingest_urls`).

- A feed (RSS or Atom, read by feedparser) gives one record per entry: its title, the
  feed's title as the outlet, author, publication time and link; the text is the linked
  page's article text, or the entry's own summary when the page cannot be had.
- A page gives one record: trafilatura's article text and metadata (title, site name as
  the outlet, author, date).
- Each URL asked for has one file, named by the URL (`<host>-<hash>.jsonl`); fetching it
  again merges by entry link, so entries that fell off a feed stay indexed, and the
  pipeline skips what did not change (content hash), replaces what did.
- Politeness: robots.txt (RFC 9309: a 4xx robots file allows everything, an unreachable
  one nothing), `fetch_interval` seconds between two requests to one host, a timeout, at
  most `max_file_bytes` read, at most 5 redirects, a User-Agent that names the tool.
- Private networks are refused (every address a host resolves to must be public, at
  each redirect) unless `allow_private_urls` (`RAG_ALLOW_PRIVATE_URLS=1`) is set: a
  shared server must not be made to read its own network for whoever asks. Resolution
  is checked before connecting; a host that resolves differently a moment later (DNS
  rebinding) is not defended against.
"""

from __future__ import annotations

import calendar
import hashlib
import ipaddress
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from rag.config import Settings
from rag.errors import FetchError
from rag.ingest.html_text import readable_text

try:
    import feedparser
    import httpx
    import trafilatura
except ImportError as exc:  # the `web` extra is not installed
    raise ImportError("fetching feeds and pages needs the web extra: "
                      "pip install 'rag[web]'") from exc

WEB_DIR = "web"
USER_AGENT = "rag-news-assistant/0.1 (analyst tool; respects robots.txt)"
MAX_REDIRECTS = 5
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml",
               "text/xml", "application/rdf+xml", "application/feed+json")
_FEED_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b",
                         re.DOTALL)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Reply(NamedTuple):
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


def check_public(url: str, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to an address that is
    not public (loopback, private, link-local, reserved), unless `allow_private`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise FetchError(f"{parts.hostname} is a private address ({address}); set "
                             "RAG_ALLOW_PRIVATE_URLS=1 to fetch from your own network")


class Fetcher:
    """GETs with the rules of the module docstring; one per ingest run (robots files and
    each host's last request time are remembered for the run)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._client = httpx.Client(timeout=settings.fetch_timeout, follow_redirects=False,
                                    headers={"User-Agent": USER_AGENT}, trust_env=False)
        self._robots: dict[str, RobotFileParser | None] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def close(self) -> None:
        self._client.close()

    def get(self, url: str) -> Fetched:
        return self._get(url, robots=True)

    def _get(self, url: str, *, robots: bool) -> Fetched:
        for _ in range(MAX_REDIRECTS + 1):
            check_public(url, self.settings.allow_private_urls)
            if robots and not self._allowed(url):
                raise FetchError(f"robots.txt of {urlsplit(url).netloc} disallows {url}")
            reply = self._request(url)
            if reply.status in _REDIRECTS and "location" in reply.headers:
                url = urljoin(url, reply.headers["location"])
                continue
            if reply.status >= 400:
                raise HTTPStatusError(f"{url} answered HTTP {reply.status}", reply.status)
            content_type = reply.headers.get("content-type", "").split(";")[0]
            return Fetched(url, content_type.strip().lower(), reply.body)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str) -> _Reply:
        self._wait(urlsplit(url).netloc)
        limit = self.settings.max_file_bytes
        try:
            with self._client.stream("GET", url) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"{url} is {int(declared):,} bytes, over the "
                                     f"{limit:,} limit (RAG_MAX_FILE_MB)")
                body = bytearray()
                for part in response.iter_bytes():
                    body += part
                    if len(body) > limit:  # never read past the limit, whatever it said
                        raise FetchError(f"{url} is over the {limit:,} byte limit "
                                         "(RAG_MAX_FILE_MB)")
                return _Reply(response.status_code, response.headers, bytes(body))
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _wait(self, host: str) -> None:
        with self._lock:
            due = self._last.get(host, -1e9) + self.settings.fetch_interval
            now = self._clock()
            if now < due:
                self._sleep(due - now)
            self._last[host] = max(now, due)

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        robots = self._robots[origin]
        return robots is not None and robots.can_fetch(USER_AGENT, url)

    def _read_robots(self, origin: str) -> RobotFileParser | None:
        """The origin's robots rules; everything allowed without a robots file (4xx),
        None (nothing allowed) when it cannot be read (5xx, network failure)."""
        robots = RobotFileParser()
        try:
            # Redirects followed (an http origin's robots file often moves to https).
            fetched = self._get(f"{origin}/robots.txt", robots=False)
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                robots.parse([])
                return robots
            return None
        except FetchError:
            return None
        robots.parse(fetched.body.decode("utf-8", "replace").splitlines())
        return robots


def is_feed(fetched: Fetched) -> bool:
    return fetched.content_type in _FEED_TYPES or bool(_FEED_START.match(fetched.body[:4096]))


def page_record(html: bytes | str, url: str) -> dict[str, str]:
    """An article page's text and metadata, as a record."""
    found = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    # trafilatura 2 returns a Document (its `as_dict` argument is deprecated).
    data = found if isinstance(found, dict) else found.as_dict() if found is not None else {}
    if not str(data.get("text") or "").strip():
        raise FetchError(f"{url}: no article text found")
    return {"title": str(data.get("title") or ""), "source": str(data.get("sitename") or ""),
            "author": str(data.get("author") or ""),
            "published_at": str(data.get("date") or ""), "url": url,
            "body": str(data["text"])}


def _entry_time(entry: Any) -> str:
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    if not when:
        return ""
    return datetime.fromtimestamp(calendar.timegm(when), tz=UTC).isoformat()


def feed_records(fetched: Fetched, fetcher: Fetcher) -> tuple[list[dict[str, str]], list[str]]:
    """One record per entry, and a note for each entry whose page could not be read
    (its summary stands in) or that had no text at all (left out)."""
    parsed = feedparser.parse(fetched.body)
    if not parsed.entries:
        raise FetchError(f"{fetched.url}: a feed without entries"
                         + (f" ({parsed.bozo_exception})" if parsed.bozo else ""))
    outlet = str(parsed.feed.get("title") or urlsplit(fetched.url).netloc)
    records, notes = [], []
    for entry in parsed.entries:
        own = str(entry.get("link") or "")
        # An entry without a link is known by its id (or title) within the feed.
        key = str(entry.get("id") or entry.get("title") or "")
        link = urljoin(fetched.url, own) if own else f"{fetched.url}#{key}"
        meta = {"title": str(entry.get("title") or ""), "source": outlet,
                "author": str(entry.get("author") or ""),
                "published_at": _entry_time(entry), "url": link}
        try:
            if not own:
                raise FetchError("the entry links to no page")
            page = page_record(fetcher.get(link).body, link)
            body = page["body"]
            meta["author"] = meta["author"] or page["author"]
        except FetchError as exc:
            summary = _entry_text(entry)
            if not summary:
                notes.append(f"{link}: left out, no text ({exc})")
                continue
            notes.append(f"{link}: the feed's summary stands in ({exc})")
            body = summary
        records.append({**meta, "body": body})
    return records, notes


def _entry_text(entry: Any) -> str:
    """An entry's own text (its content, else its summary), as the HTML loader reads it."""
    parts = [c.get("value", "") for c in entry.get("content") or []] or \
        [str(entry.get("summary") or "")]
    return readable_text("\n".join(p for p in parts if p))[0]


def url_file(web_dir: Path, url: str) -> Path:
    host = re.sub(r"[^a-z0-9.-]", "_", (urlsplit(url).hostname or "web").lower())
    return web_dir / f"{host}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}.jsonl"


def _save(path: Path, records: list[dict[str, str]]) -> None:
    """Merge by URL into the file's records (an entry gone from a feed stays), written
    whole or not at all."""
    kept: dict[str, dict[str, str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                old = json.loads(line)
                kept[str(old.get("url", ""))] = old
    for record in records:
        kept[record["url"]] = record
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".web-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in kept.values())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass
class Fetch:
    """What fetching a list of URLs gave: the files to index, and per URL what failed
    or what the reader should know."""

    files: list[Path]
    failed: list[tuple[str, str]]
    notes: list[tuple[str, str]]
    items: int = 0


def fetch_urls(urls: Iterable[str], settings: Settings,
               progress: Callable[[int, int, str], None] | None = None) -> Fetch:
    """Fetch each URL (a feed or an article page) into its file under
    `settings.home / WEB_DIR`."""
    asked = list(dict.fromkeys(u.strip() for u in urls if u.strip()))
    web_dir = settings.home / WEB_DIR
    web_dir.mkdir(parents=True, exist_ok=True)
    result = Fetch([], [], [])
    fetcher = Fetcher(settings)
    try:
        for number, url in enumerate(asked):
            if progress:
                progress(number, len(asked), url)
            try:
                fetched = fetcher.get(url)
                if is_feed(fetched):
                    records, notes = feed_records(fetched, fetcher)
                    result.notes += [(url, n) for n in notes]
                else:
                    records = [page_record(fetched.body, fetched.url)]
            except FetchError as exc:
                result.failed.append((url, str(exc)))
                continue
            if not records:
                result.failed.append((url, "no entry had any text"))
                continue
            path = url_file(web_dir, url)
            _save(path, records)
            result.files.append(path)
            result.items += len(records)
    finally:
        fetcher.close()
    return result

