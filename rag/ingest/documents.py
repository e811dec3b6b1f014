"""A file's text and metadata as a `Document`: where every format's reader ends.

The text is kept as read but for one step: characters that render as nothing
(zero-width, bidi controls, Unicode tags, terminal control codes) are removed from it
and from every metadata field. They hide instructions from a reader, smuggle them to a
model or a terminal, and break matching. A plain-text, Markdown or PDF article whose
metadata has no title takes its headline line (`headline`), one whose metadata has no
date its dateline's (`dateline`).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Any

from rag.errors import LoaderError
from rag.schema import ARTICLE_FIELDS, Document
from rag.text.lexicon import MONTHS

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

# Files whose first line may be the headline (`headline`); structured formats say
# where their title is.
HEADLINE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".pdf"})
HEADLINE_MAX_WORDS = 30
_INNER_STOP = re.compile(r"[.!?]\s")


def doc_id_for(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def text_document(text: str, path: Path, key: str, meta: dict[str, Any]) -> Document:
    """The document of `text` from the file at `path`, its id made from `key`, its fields
    from `meta`."""
    clean = INVISIBLE_CHARS.sub("", text)
    if not clean.strip():
        raise LoaderError("no readable text")
    fields = {name: meta_str(meta.get(name)) for name in ARTICLE_FIELDS}
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


def meta_str(value: Any) -> str:
    if value is None:
        return ""
    return INVISIBLE_CHARS.sub("", str(value)).strip()
