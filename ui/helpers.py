"""The pure helpers behind the UI's handlers (unit-tested), and the feedback file."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from ui import render

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Letters and digits of every script stay ("Москва.md", "東京.md"); separators, controls,
# invisible characters and markup punctuation become "_".
_UNSAFE_NAME = re.compile(r"[^\w .-]+")
# Bytes, not characters: file systems allow 255 bytes, and a CJK character takes 3.
_NAME_BYTES = 150


# -- filters, uploads and the corpus table --------------------------------------------


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
    """A file name safe to create under the uploads folder, keeping the suffix. The same
    upload always gets the same name (re-uploading a corrected file updates it); a name
    that had to be changed gets a tag from the original, so two different uploads that
    clean to the same name never overwrite each other."""
    base = unicodedata.normalize("NFC", PurePosixPath(original.replace("\\", "/")).name)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE_NAME.sub("_", stem).strip(" .")
    suffix = _UNSAFE_NAME.sub("_", suffix).strip(" .")
    ending = f".{suffix[:16]}" if suffix else ""
    name = (stem or "upload") + ending
    if name != base or len(name.encode("utf-8")) > _NAME_BYTES:
        tag = hashlib.sha256(base.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        room = _NAME_BYTES - len(ending) - len(tag) - 1
        stem = (stem or "upload").encode("utf-8")[:room].decode("utf-8", "ignore")
        name = f"{stem}-{tag}{ending}"
    return name


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


def render_ingest_results(results: Sequence[tuple[str, str, str]]) -> str:
    rows = "".join(
        f'<tr class="rag-ingest-{render.escape(status)}"><td>{render.escape(name)}</td>'
        f"<td>{render.escape(status)}</td><td>{render.escape(detail)}</td></tr>"
        for name, status, detail in results
    )
    return (
        '<table class="rag-ingest"><thead><tr><th>File or URL</th><th>Result</th><th>Detail</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


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

