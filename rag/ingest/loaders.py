"""Turning files into `Document`s: plain text, Markdown with front matter, HTML, JSON and JSONL.

The text a loader returns is the text every offset indexes into, so loaders never
rewrite it beyond two deliberate steps: decoding bytes, and removing characters that
render as nothing (zero-width, bidi controls, Unicode tags, terminal control codes):
they hide instructions from a reader, smuggle them to a model or a terminal, and break
matching. A file either yields all its documents or fails as a whole with a `LoaderError`.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

from rag.errors import LoaderError
from rag.schema import ARTICLE_FIELDS, PAGE_BREAK, Document
from rag.text.lexicon import MONTHS

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl",
                                ".pdf"})

# Zero-width characters, bidi marks/embeddings/overrides/isolates, the BOM used as ZWNBSP,
# soft hyphen, combining grapheme joiner, Mongolian vowel separator, interlinear annotation
# marks, Unicode tag characters and the variation selector supplement (the last two can
# carry a whole hidden ASCII message), and C0/C1 controls other than tab, newline, carriage
# return and form feed (ANSI escapes would drive the terminal `rag ask` prints to).
INVISIBLE_CHARS = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\u00ad\u034f\u061c\u180e\ufff9-\ufffb\U000e0000-\U000e007f\U000e0100-\U000e01ef"
    "\x00-\x08\x0b\x0e-\x1f\x7f-\x84\x86-\x9f]"
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)

# Files whose first line may be the headline (`headline`); structured formats say
# where their title is.
HEADLINE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".pdf"})
HEADLINE_MAX_WORDS = 30
_INNER_STOP = re.compile(r"[.!?]\s")
# Far longer than any real title or byline; the longest are never metadata.
FRONT_MATTER_FIELD_CHARS = 2_000


def iter_files(path: Path, on_error: Callable[[OSError], None] | None = None,
               on_skip: Callable[[Path, str], None] | None = None) -> Iterator[Path]:
    """The supported files at `path` (a file, or a folder walked recursively), sorted,
    hidden files and folders left out. A folder that cannot be listed is skipped and
    passed to `on_error`: its files are unknown, not gone.

    Links: a file named directly is read wherever it points (the user chose it). Inside
    a folder, one rule for files and folders alike: links are not followed. What a link
    points to is indexed when it is in the folder itself (through the link it would be
    a second copy, or a loop); what lies outside is never reached (`ln -s /etc/passwd`).
    Each link skipped goes to `on_skip` with the reason."""
    if path.is_file():
        yield path
        return
    root = path.resolve()
    found: list[Path] = []

    def link_reason(link: Path) -> str:
        where = "inside" if link.resolve().is_relative_to(root) else "outside"
        return f"a link to a {'folder' if link.is_dir() else 'file'} {where} the folder; " \
               f"links are not followed"

    def skip(candidate: Path, reason: str) -> None:
        if on_skip is not None:
            on_skip(candidate, reason)

    for folder, subfolders, names in os.walk(path, onerror=on_error):
        kept = []
        for name in subfolders:
            if name.startswith("."):
                continue
            if Path(folder, name).is_symlink():
                skip(Path(folder, name), link_reason(Path(folder, name)))
                continue
            kept.append(name)
        subfolders[:] = kept
        for name in names:
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            candidate = Path(folder, name)
            if candidate.is_symlink():
                skip(candidate, link_reason(candidate))
                continue
            found.append(candidate)
    yield from sorted(candidate for candidate in found if candidate.is_file())


def doc_id_for(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def load_file(path: Path, *, max_bytes: int, problems: list[str] | None = None
              ) -> list[Document]:
    """All documents in one file, or a `LoaderError` saying why there are none.

    With `problems`, a JSON/JSONL file's broken records are listed there ("line 12:
    invalid JSON …") and the good ones still load: ten bad lines must not keep 50,000
    good ones out. Without it, the first broken record fails the file."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoaderError(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoaderError(_too_big(size, max_bytes))
        with path.open("rb") as handle:
            # A file still being written can outgrow its stat() size; never read past the limit.
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise LoaderError(_too_big(len(data), max_bytes))
        resolved = path.resolve()
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise LoaderError("file is empty")
    if suffix == ".pdf":
        return [_pdf(data, resolved, str(resolved))]
    text = decode(data)
    # The absolute path names the file however it was reached (relative, via another
    # cwd), so its id, content hash and manifest entry do not change with the caller.
    key = str(resolved)
    try:
        if suffix in {".json", ".jsonl"}:
            documents = _records(text, resolved, key, jsonl=suffix == ".jsonl",
                                 problems=problems)
        elif suffix in {".html", ".htm"}:
            documents = [_html(text, resolved, key)]
        elif suffix in {".md", ".markdown"}:
            documents = [_markdown(text, resolved, key)]
        else:
            documents = [_document(text, resolved, key, {})]
    except RecursionError:
        raise LoaderError("nested too deeply to parse") from None
    return documents


def _too_big(size: int, max_bytes: int) -> str:
    actual, limit = _size(size), _size(max_bytes)
    if actual == limit:  # rounding must not make the file look as big as the limit
        actual, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
    return f"file is {actual}, over the {limit} limit (RAG_MAX_FILE_MB)"


def _size(n: int) -> str:
    # Binary units, as RAG_MAX_FILE_MB is read.
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KB"
    return f"{n} bytes"


def decode(data: bytes) -> str:
    """Bytes to text: BOMs honoured, UTF-8 preferred, other encodings only when detected
    with confidence; binary data and undecodable text are refused, never guessed."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoaderError(f"invalid {encoding} after its byte-order mark") from exc
            # Checked after decoding: UTF-16 text is full of NUL bytes, never NUL characters.
            if "\x00" in text:
                raise LoaderError("binary file (contains NUL characters)")
            return text
    if b"\x00" in data:
        recovered = _utf16_without_bom(data)
        if recovered is None:
            raise LoaderError("binary file (contains NUL bytes)")
        return recovered
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    # A high chaos ratio means the "decoding" would be mojibake; refuse instead.
    plausible = [m for m in matches if m.chaos <= 0.1]
    if not plausible:
        raise LoaderError("not valid UTF-8 and no other text encoding could be detected")
    best = min(m.chaos for m in plausible)
    tied = [m for m in plausible if m.chaos <= best + 0.02]
    readings = {str(m) for m in tied}
    if len(readings) == 1:
        return readings.pop()
    # Short texts fit several 8-bit code pages equally well. Windows-1252 is by far the
    # most common legacy encoding of Western news text, so it wins a tie it is part of.
    western = from_bytes(data, cp_isolation=["cp1252"]).best()
    if western is not None and western.chaos <= best + 0.02:
        return str(western)
    names = ", ".join(sorted({m.encoding for m in tied})[:4])
    raise LoaderError(f"not UTF-8, and the encoding is ambiguous ({names}); save it as UTF-8")


UTF16_MIN_BYTES = 32


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark (some Windows tools do): Latin text then
    has a NUL byte beside nearly every character, all on one side of each pair. Read it
    when that pattern is plain and the result is text; otherwise None (binary)."""
    # A few bytes do not make a pattern: "0" then NUL is more likely a broken file than
    # the one-letter text "0" in UTF-16.
    if len(data) % 2 or len(data) < UTF16_MIN_BYTES:
        return None
    pairs = len(data) // 2
    for encoding, zeros in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        if zeros.count(0) < 0.6 * pairs:
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            return None
        readable = sum(ch.isprintable() or ch in "\t\n\r\f" for ch in text)
        return text if "\x00" not in text and readable >= 0.98 * len(text) else None
    return None


def _document(text: str, path: Path, key: str, meta: dict[str, Any]) -> Document:
    clean = INVISIBLE_CHARS.sub("", text)
    if not clean.strip():
        raise LoaderError("no readable text")
    fields = {name: _meta_str(meta.get(name)) for name in ARTICLE_FIELDS}
    # Only where no metadata was given at all: a front matter's empty title is its say.
    if "title" not in meta and path.suffix.lower() in HEADLINE_SUFFIXES:
        fields["title"] = headline(clean)
    if not fields["published_at"] and "published_at" not in meta \
            and path.suffix.lower() in HEADLINE_SUFFIXES:
        fields["published_at"] = dateline(clean)
    return Document(doc_id=doc_id_for(key), text=clean, path=str(path), **fields)


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
# "April 18, 2024", "Apr. 18 2024", "18 April 2024", "2024-04-18": day, month and year
# all written out. A date missing any of them is never completed by guessing.
_FULL_DATE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>(?:19|20)\d\d)"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH})\.?,?\s+(?P<y2>(?:19|20)\d\d)"
    r"|(?P<y3>(?:19|20)\d\d)-(?P<m3>\d\d)-(?P<d3>\d\d))\b", re.I)
DATELINE_LINES = 3


def dateline(text: str) -> str:
    """The publication date a plain-text article states before its story starts — on
    one of its first `DATELINE_LINES` lines ("LONDON, April 18, 2024 (Reuters) -",
    "Published 18 April 2024") — as YYYY-MM-DD; "" when none of them holds a whole
    date. Dates further down are events, not publication."""
    lines = [line for line in text.lstrip().splitlines() if line.strip()][:DATELINE_LINES]
    for line in lines:
        for m in _FULL_DATE.finditer(line):
            year = m.group("y1") or m.group("y2") or m.group("y3")
            month_text = m.group("m1") or m.group("m2") or m.group("m3")
            day = m.group("d1") or m.group("d2") or m.group("d3")
            month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower()]
            try:
                return date(int(year), month, int(day)).isoformat()
            except ValueError:
                continue  # "February 30, 2024"
    return ""


def headline(text: str) -> str:
    """The article's first line when it reads as a headline — a line of its own, before
    more text, of 2 to 30 words with a letter, one phrase (no ". " inside) not ending
    like a sentence or a clause (".", ",", ";", ":"), not a byline ("By …") — with a
    Markdown heading's "#" marks taken off; else "". Plain-text and Markdown articles
    carry their title this way far more often than in metadata."""
    lines = text.lstrip().splitlines()
    if len(lines) < 2 or not any(line.strip() for line in lines[1:]):
        return ""
    line = lines[0].strip().lstrip("#").strip()
    words = len(line.split())
    if (not 2 <= words <= HEADLINE_MAX_WORDS or line[-1] in ".,;:"
            or not any(ch.isalpha() for ch in line) or _INNER_STOP.search(line)
            or line.lower().startswith("by ")  # a byline, not a headline
            or len(_FULL_DATE.sub("", line).split()) < 2):  # a date line
        return ""
    return line


def _meta_str(value: Any) -> str:
    if value is None:
        return ""
    return INVISIBLE_CHARS.sub("", str(value)).strip()


def _markdown(text: str, path: Path, key: str) -> Document:
    match = _FRONT_MATTER.match(text)
    if not match:
        return _document(text, path, key, {})
    meta = _front_matter(match.group(1))
    if "date" in meta and "published_at" not in meta:
        meta["published_at"] = meta["date"]
    fields = {name: _meta_str(meta.get(name))[:FRONT_MATTER_FIELD_CHARS]
              for name in ARTICLE_FIELDS}
    return _document(text[match.end() :], path, key, fields)


def _front_matter(source: str) -> dict[Any, Any]:
    import yaml

    try:
        # Each alias repeats its anchor's whole value, and nested ones multiply: a few
        # hundred bytes expand to gigabytes ("billion laughs"). Articles never need them.
        if any(isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)
               for event in yaml.parse(source, Loader=yaml.SafeLoader)):
            raise LoaderError("YAML front matter uses anchors or aliases (& or *), "
                              "which are not allowed")
        meta = yaml.safe_load(source) or {}
    except yaml.YAMLError as exc:
        raise LoaderError(f"invalid YAML front matter: {exc.__class__.__name__}") from exc
    except ValueError as exc:  # a well-formed but impossible value, e.g. date: 2024-13-45
        raise LoaderError(f"invalid value in YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise LoaderError("YAML front matter is not a mapping")
    return meta


def _records(text: str, path: Path, key: str, *, jsonl: bool,
             problems: list[str] | None = None) -> list[Document]:
    found: list[str] = []

    def problem(message: str) -> None:
        if problems is None:
            raise LoaderError(message)
        found.append(message)

    records: list[tuple[int, Any]] = []
    if jsonl:
        # Only "\n" ends a JSONL line: str.splitlines() would also split on U+2028,
        # U+0085 and friends, which json.dumps(ensure_ascii=False) leaves raw in strings.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                problem(f"line {number}: invalid JSON ({exc.msg})")
            except ValueError as exc:  # e.g. an integer over Python's digit limit
                problem(f"line {number}: invalid JSON ({exc})")
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoaderError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        except ValueError as exc:
            raise LoaderError(f"invalid JSON ({exc})") from exc
        items = loaded if isinstance(loaded, list) else [loaded]
        records = list(enumerate(items, start=1))
    documents: list[Document] = []
    seen_ids: set[str] = set()
    for number, record in records:
        where = f"line {number}" if jsonl else f"record {number}"
        if not isinstance(record, dict):
            problem(f"{where}: expected an object")
            continue
        body = record.get("body", record.get("text"))
        if not isinstance(body, str) or not body.strip():
            problem(f"{where}: no 'body' or 'text' string")
            continue
        # The URL identifies an article wherever it is filed; without one, its place does.
        record_key = str(record.get("url") or f"{key}#{number}")
        # A repeated url, or one that spells another record's fallback key, must still
        # give each record an id of its own.
        while doc_id_for(record_key) in seen_ids:
            record_key = f"{record_key}#{number}"
        try:
            document = _document(body, path, record_key, record)
        except LoaderError as exc:
            problem(f"{where}: {exc}")
            continue
        seen_ids.add(document.doc_id)
        documents.append(document)
    if not documents:
        raise LoaderError("; ".join(found[:3]) + (f" (and {len(found) - 3} more)"
                                                  if len(found) > 3 else "")
                          if found else "no records")
    if problems is not None:
        problems.extend(found)
    return documents


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


_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})(\d{2})")


def _pdf(data: bytes, path: Path, key: str) -> Document:
    """A PDF's text layer, page by page with `PAGE_BREAK` between pages, so a citation can
    name its page; title, author and date from the document information where it has
    them (else the first line is the headline and a dateline dates it, as for text)."""
    # Imported here: only PDFs need it, and `rag ask` should not pay for it.
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoaderError("PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except LoaderError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"not a readable PDF: {exc}") from exc
    # A page's own form feeds would shift the page count; its trailing blanks are layout.
    text = PAGE_BREAK.join(page.replace(PAGE_BREAK, "\n").strip() for page in pages)
    if not text.replace(PAGE_BREAK, "").strip():
        raise LoaderError("PDF has no text layer (a scan needs OCR first)")
    meta: dict[str, Any] = {}
    if info is not None:
        if (info.title or "").strip():
            meta["title"] = info.title
        if (info.author or "").strip():
            meta["author"] = info.author
        created = _PDF_DATE.match(str(info.get("/CreationDate") or ""))
        # A month 13 in the metadata dates nothing.
        with contextlib.suppress(ValueError):
            if created:
                meta["published_at"] = date(*map(int, created.groups())).isoformat()
    return _document(text, path, key, meta)


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


def _html(text: str, path: Path, key: str) -> Document:
    readable, title = readable_text(text)
    if not readable.strip():
        raise LoaderError("HTML has no readable text")
    return _document(readable, path, key, {"title": title})


def is_url(text: str) -> bool:
    """Whether an ingest source is a web address (a feed or a page) rather than a path."""
    return text.strip().lower().startswith(("http://", "https://"))


def url_lines(text: str) -> list[str]:
    """The URLs of a list, one a line; blank lines and # comments skipped."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def read_url_list(path: Path) -> list[str]:
    """The URLs of a file (`url_lines`)."""
    return url_lines(path.read_text(encoding="utf-8"))
