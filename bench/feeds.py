"""Feed and page ingest without the model: items a second that `rag.ingest.web` fetches,
extracts and saves, from a real HTTP server on 127.0.0.1.

    python -m bench.feeds --items 1000 --json evals/results/feeds.json

One RSS feed of `--items` entries, each linking to its own article page (the MultiHop-RAG
articles' titles and bodies as HTML, in turn), fetched as `rag ingest URL` does (robots.txt,
redirect and private-address checks; the pause between requests set to 0, as for a local
mirror). Timed: fetching the feed and every page, trafilatura's extraction and the JSON-lines
write; not the embedding, which `make bench` measures. Target (#18): >= 20 items/s.
"""

from __future__ import annotations

import argparse
import html
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench._common import environment, report, shown_path
from rag.config import Settings
from rag.ingest.web import fetch_urls


def _site(articles: list[dict[str, Any]], items: int) -> tuple[ThreadingHTTPServer, str]:
    pages: dict[str, bytes] = {}
    for n in range(items):
        a = articles[n % len(articles)]
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in a["body"].splitlines())
        pages[f"/a/{n}"] = (
            f"<html><head><title>{html.escape(a['title'])}</title></head><body><nav>Home</nav>"
            f"<article><h1>{html.escape(a['title'])}</h1>{paragraphs}</article></body></html>"
        ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            elif self.path == "/feed.xml":
                body, kind = feed, "application/rss+xml"
            elif self.path in pages:
                body, kind = pages[self.path], "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    entries = []
    for n in range(items):
        a = articles[n % len(articles)]
        when = datetime.fromisoformat(a["published_at"]) if a.get("published_at") else None
        date = f"<pubDate>{format_datetime(when)}</pubDate>" if when else ""
        entries.append(f"<item><title>{html.escape(a['title'])}</title>"
                       f"<link>{base}/a/{n}</link>{date}</item>")
    feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Mirror</title>'
            f"{''.join(entries)}</channel></rss>").encode()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base


def run(articles_path: Path, items: int) -> dict[str, Any]:
    articles = [json.loads(line) for line in articles_path.read_text("utf-8").splitlines()
                if line]
    server, base = _site(articles, items)
    try:
        with tempfile.TemporaryDirectory(prefix="rag-feeds-") as home:
            settings = Settings(home=Path(home), fetch_interval=0.0, allow_private_urls=True)
            started = time.perf_counter()
            fetched = fetch_urls([f"{base}/feed.xml"], settings)
            seconds = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    return {"items": fetched.items, "failed": fetched.failed, "notes": len(fetched.notes),
            "seconds": round(seconds, 2), "items_per_s": round(fetched.items / seconds, 1),
            "target_items_per_s": 20}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feeds",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--articles", type=Path,
                        default=Path("../shared/bench/multihop-rag/articles.jsonl"))
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    result = {"meta": environment(), "data": shown_path(args.articles),
              **run(args.articles, args.items)}
    return report(result, args.json, [
        f"{result['items']} items in {result['seconds']} s: {result['items_per_s']} items/s "
        f"(target {result['target_items_per_s']}); {len(result['failed'])} URLs failed"])


if __name__ == "__main__":
    raise SystemExit(main())
