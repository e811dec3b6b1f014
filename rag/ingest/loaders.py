"""Turning files into `Document`s: plain text, Markdown with front matter, HTML, JSON and
JSONL, PDF.

The text a loader returns is the text every offset indexes into, so loaders never
rewrite it beyond two deliberate steps: decoding bytes (`rag.ingest.decoding`), and
removing characters that render as nothing (`rag.ingest.documents`). A file either
yields all its documents or fails as a whole with a `LoaderError`.

This module finds the files (`iter_files`) and reads one (`load_file`): its size checked,
its bytes decoded, its format's reader called (`markdown`, `records` for JSON/JSONL,
`html_text`, `pdf`; plain text goes straight to `documents`). Ingest sources that are
web addresses, and lists of them, are told apart here too (`is_url`, `url_lines`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.errors import LoaderError
from rag.ingest.decoding import decode
from rag.ingest.documents import text_document
from rag.ingest.html_text import html_document
from rag.ingest.markdown import markdown_document
from rag.ingest.pdf import pdf_document
from rag.ingest.records import json_documents
from rag.schema import Document

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl",
                                ".pdf"})


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
        return [pdf_document(data, resolved, str(resolved))]
    text = decode(data)
    # The absolute path names the file however it was reached (relative, via another
    # cwd), so its id, content hash and manifest entry do not change with the caller.
    key = str(resolved)
    try:
        if suffix in {".json", ".jsonl"}:
            documents = json_documents(text, resolved, key, jsonl=suffix == ".jsonl",
                                       problems=problems)
        elif suffix in {".html", ".htm"}:
            documents = [html_document(text, resolved, key)]
        elif suffix in {".md", ".markdown"}:
            documents = [markdown_document(text, resolved, key)]
        else:
            documents = [text_document(text, resolved, key, {})]
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
