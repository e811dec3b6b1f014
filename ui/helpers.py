"""The pure helpers behind the UI's handlers (unit-tested), and the feedback file."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from ui import render

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


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
    """A file name safe to create under the uploads folder, keeping the suffix."""
    name = _SAFE_NAME.sub("_", Path(original).name).strip(" .") or "upload"
    return name[-120:]


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
        '<table class="rag-ingest"><thead><tr><th>File</th><th>Result</th><th>Detail</th>'
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

