"""PDF files: a `Document` each, read from the text layer with pypdf (a scan without one
is refused: there is no OCR here).
"""

from __future__ import annotations

import contextlib
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from rag.errors import LoaderError
from rag.ingest.documents import text_document
from rag.schema import PAGE_BREAK, Document

_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})(\d{2})")


def pdf_document(data: bytes, path: Path, key: str) -> Document:
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
    return text_document(text, path, key, meta)
