"""What the command line prints: answers, timelines and report lines as terminal text.

Every string that comes from a document (a title, a file name, a quote) passes `shown`,
so control characters are written as escapes instead of driving the terminal. Text is
wrapped at word boundaries when stdout is a terminal, and left as it is for pipes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """`text` with control characters written as escapes (`\\x1b`, `\\n`): a file name or
    title may carry ESC sequences that would drive the terminal, or a newline that would
    break a row."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def plural(count: int, noun: str, nouns: str = "") -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {nouns or noun + 's'}"


def format_timeline(entries: Sequence[Any], *, width: int | None = None) -> str:
    """One block an entry: the date and how it was read, the quote, its source."""
    # Here, not at the top: `rag ask` need not import the timeline (and python-dateutil).
    from rag.answer.timeline import NO_ENTRIES

    if not entries:
        return NO_ENTRIES
    lines = []
    for e in entries:
        how = f"“{shown(e.date_text)}”, {e.rule}" if e.date_text else e.rule
        c = e.citation
        source = ", ".join(x for x in (shown(c.source), c.published_at[:10],
                                       shown(c.title)) if x)
        lines += [f"{e.date}  ({how})", f"    {shown(c.quote)}",
                  f"    — {source or c.doc_id}", ""]
    return wrapped(lines[:-1], width)


def hardening_lines(hardening: dict[str, Any]) -> list[str]:
    """One line per hardening benchmark the report shows (`rag.eval.runner.HARDENING`)."""
    lines = []
    injection = hardening.get("injection")
    if injection:
        per_mode = ", ".join(f"{mode} {t.get('obeyed')}/{injection.get('cases')}"
                             for mode, t in (injection.get("modes") or {}).items())
        lines.append(f"{'planted obeyed':>22}: {per_mode} ({injection['file']}, commit "
                     f"{str(injection.get('commit'))[:7]})")
    chaos = hardening.get("chaos")
    if chaos:
        lines.append(f"{'kill -9 ingests':>22}: {chaos.get('identical')}/{chaos.get('runs')} "
                     f"identical, {chaos.get('inside_a_write')} of {chaos.get('kills')} kills "
                     f"inside a write ({chaos['file']}, commit {str(chaos.get('commit'))[:7]})")
    return lines


def terminal_width() -> int | None:
    """Columns to wrap to when stdout is a terminal; None (no wrapping) for pipes."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return max(40, shutil.get_terminal_size().columns - 1)


def wrapped(lines: list[str], width: int | None) -> str:
    """`lines` wrapped at word boundaries to `width`, continuation lines indented like
    the line they continue; never a word broken in the middle."""
    if width is None:
        return "\n".join(lines)
    import textwrap

    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent + "  " if indent
                                 else "", break_long_words=False, break_on_hyphens=False)
                   or [""])
    return "\n".join(out)


def format_answer(answer: Any, *, width: int | None = None,
                  names: Mapping[str, str] | None = None) -> str:
    """`names`: what to call each document by id (`Assistant.source_names`) where the
    answer itself carries no title."""
    names = names or {}
    lines = [answer.text, ""]
    if answer.mode != "extractive":
        lines.insert(0, f"[{answer.mode}{': ' + answer.reason if answer.reason else ''}]")
    elif answer.refused and answer.reason:
        lines.insert(1, f"({answer.reason})")
    if answer.as_of:
        lines.insert(len(lines) - 1, f"(As of {answer.as_of}, the date of the newest cited "
                                     "source.)")
    for warning in answer.warnings:
        lines.insert(len(lines) - 1, f"Warning: {shown(warning)}")
    if answer.citations:
        lines.append("Sources:")
        for citation in answer.citations:
            name = citation.title or names.get(citation.doc_id, "")
            where = ", ".join(shown(x) for x in (citation.source, citation.published_at[:10],
                                                 name) if x) or "untitled article"
            page = f"page {citation.page}, " if citation.page is not None else ""
            lines.append(f"  [{citation.marker}] {where} (doc {citation.doc_id}, {page}"
                         f"chars {citation.start}-{citation.end})")
            lines.append(f"      {_quoted(citation.quote)}")
            if citation.also_in:
                lines.append(f"      ({shown(citation.carried_by())})")
    elif answer.passages:
        lines.append("Closest passages, closest first:")
        for number, passage in enumerate(answer.passages[:3], start=1):
            text = " ".join(passage.text.split())  # one indented line per passage
            snippet = text if len(text) < 240 else text[:237].rstrip() + "…"
            name = shown(passage.title or names.get(passage.doc_id) or passage.source
                         or f"doc {passage.doc_id}")
            lines.append(f"  {number}. {name}: {snippet}")
    return wrapped(lines, width).rstrip()


def _quoted(quote: str) -> str:
    # A quote that already ends with a closing mark (“…no.”) gets no second one.
    return f"“{quote}" + ("" if quote.endswith("”") else "”")
