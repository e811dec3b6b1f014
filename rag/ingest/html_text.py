"""HTML's readable text (`readable_text`): what a reader of the page sees, line by line,
and its `<title>`. Scripts, styles, the head and hidden elements are left out. HTML files
are read with it, and so are feed entries (`rag.ingest.web`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from rag.errors import LoaderError
from rag.ingest.documents import text_document
from rag.schema import Document


class _ReadableText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
         "article", "blockquote", "pre", "header", "footer", "ul", "ol", "table", "hr"}
    )
    _VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                       "meta", "source", "track", "wbr"})
    # HTML lets `</head>` be left out: any other element starts the body.
    _HEAD_CONTENT = frozenset({"title", "base", "link", "meta", "style", "script",
                               "noscript", "template"})
    # Elements whose end tag HTML lets authors leave out, and the start tags that close
    # them: without this, one hidden `<li>` would hide every item after it.
    _CLOSED_BY: ClassVar[dict[str, frozenset[str]]] = {
        "li": frozenset({"li"}),
        "dt": frozenset({"dt", "dd"}),
        "dd": frozenset({"dt", "dd"}),
        "option": frozenset({"option", "optgroup"}),
        "tr": frozenset({"tr"}),
        "td": frozenset({"td", "th", "tr"}),
        "th": frozenset({"td", "th", "tr"}),
        "p": frozenset({"address", "article", "aside", "blockquote", "details", "div", "dl",
                        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
                        "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "main", "menu",
                        "nav", "ol", "p", "pre", "section", "table", "ul"}),
    }
    # Text a reader of the page never sees is where hidden instructions go; it is not
    # part of the article, so it is not indexed.
    _HIDDEN_STYLE = re.compile(
        r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])",
        re.IGNORECASE)

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip_depth = 0
        self._in_head = False
        self._in_title = False
        # The elements open inside a hidden one, itself first; empty when none is open.
        self._hidden: list[str] = []

    def _is_hidden(self, attrs: list[tuple[str, str | None]]) -> bool:
        for name, value in attrs:
            if name == "hidden":
                return True
            if name == "aria-hidden" and (value or "").strip().lower() == "true":
                return True
            if name == "style" and value and self._HIDDEN_STYLE.search(value):
                return True
        return False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        while self._hidden and tag in self._CLOSED_BY.get(self._hidden[-1], ()):
            self._close_hidden(self._hidden[-1])
        if self._hidden:
            if tag not in self._VOID:
                self._hidden.append(tag)
            return
        self._in_head = tag == "head" or (self._in_head and tag in self._HEAD_CONTENT)
        if tag not in self._VOID and self._is_hidden(attrs):
            self._hidden.append(tag)
            return
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            # An end tag of nothing open inside is stray: a browser ignores it too.
            if tag in self._hidden:
                self._close_hidden(tag)
            return
        if tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def _close_hidden(self, tag: str) -> None:
        """Close the innermost open `tag`, and the elements left open inside it."""
        del self._hidden[len(self._hidden) - self._hidden[::-1].index(tag) - 1 :]
        if not self._hidden:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth and not self._in_head:
            self.parts.append(data)


def readable_text(html: str) -> tuple[str, str]:
    """An HTML text's readable lines (no scripts, styles or hidden elements) and its
    `<title>`."""
    parser = _ReadableText()
    parser.feed(html)
    parser.close()
    raw_lines = "".join(parser.parts).split("\n")
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in raw_lines)
    return ("\n".join(line for line in lines if line),
            " ".join("".join(parser.title_parts).split()))


def html_document(text: str, path: Path, key: str) -> Document:
    readable, title = readable_text(text)
    if not readable.strip():
        raise LoaderError("HTML has no readable text")
    return text_document(readable, path, key, {"title": title})
