"""JSON and JSONL files: a `Document` per record, an object whose `body` (or `text`) string
is the text and whose other fields are the article's metadata. A record is identified by
its `url`, else by its place in the file; each gets an id of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import LoaderError
from rag.ingest.documents import doc_id_for, text_document
from rag.schema import Document


def json_documents(text: str, path: Path, key: str, *, jsonl: bool,
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
            document = text_document(body, path, record_key, record)
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
