"""Pure rendering for the UI: answers as sanitised Markdown, articles and sources as HTML.

Everything that reaches the browser from an article or a model passes through here.
Article text is untrusted (anyone can upload a file), model output doubly so (a prompt
injected into an article can steer it), so the rules are strict: HTML is always escaped,
Markdown from a model can never form a link or an image, and the only links rendered are
article URLs from corpus metadata, and only when they are plain http(s).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol
from urllib.parse import urlsplit

from rag.answer.citations import UNSUPPORTED_PREFIX
from rag.schema import PAGE_BREAK


class CitationLike(Protocol):
    marker: int
    doc_id: str
    start: int
    end: int
    quote: str
    title: str
    source: str
    published_at: str
    url: str
    also_in: list[dict[str, str]]
    page: int | None

    def carried_by(self) -> str: ...


def escape(text: str) -> str:
    return html.escape(text, quote=True)


# -- articles -----------------------------------------------------------------------


def highlight(text: str, start: int, end: int) -> str:
    """`text` as HTML with `text[start:end]` in `<mark id="cite">`.

    The three slices are escaped separately: escaping first and slicing later would
    shift every offset after the first `&` or `<`.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}-{end} is outside a text of {len(text)} characters")
    return (
        f'{escape(text[:start])}<mark id="cite">{escape(text[start:end])}</mark>'
        f"{escape(text[end:])}"
    )


def paged(body: str) -> str:
    """Article HTML with each page break (`PAGE_BREAK`, kept by escaping) turned into a
    heading for the next page. The heading is a span, so a highlight that runs across
    a page break stays one well-nested `<mark>`."""
    if PAGE_BREAK not in body:
        return body
    return "".join(f'<span class="rag-page" role="heading" aria-level="4">Page {n}</span>{part}'
                   for n, part in enumerate(body.split(PAGE_BREAK), start=1))


def safe_url(url: str) -> str | None:
    """`url` if it is a plain http(s) URL with a host, else None (javascript:, data:, …)."""
    url = url.strip()
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def display_title(title: str, path: str = "", doc_id: str = "") -> str:
    return title.strip() or (PurePath(path).name if path else "") or doc_id or "Untitled"


def _name(item: Any, names: Mapping[str, str]) -> str:
    """A citation's or passage's title, else the name the caller knows its document by
    (its file name: many plain-text articles have no title)."""
    return item.title.strip() or names.get(item.doc_id, "") or display_title("", "", item.doc_id)


def human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def display_date(published_at: str) -> str:
    # Dates are stored as given (date or full ISO datetime); the day is what analysts scan.
    return published_at.strip()[:10]


def _byline(source: str, published_at: str, page: int | None = None) -> str:
    parts = [p for p in (source.strip(), display_date(published_at),
                         f"page {page}" if page is not None else "") if p]
    return " · ".join(parts)


def article_header_html(
    *, title: str, source: str, published_at: str, url: str, path: str = "", doc_id: str = ""
) -> str:
    heading = escape(display_title(title, path, doc_id))
    byline = escape(_byline(source, published_at) or "outlet and date unknown")
    link = safe_url(url)
    link_html = (
        f'<a class="rag-link" href="{escape(link)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{escape(link)}</a>'
        if link
        else ""
    )
    return (
        f'<div class="rag-article-head"><h3 class="rag-title">{heading}</h3>'
        f'<div class="rag-byline">{byline}</div>{link_html}</div>'
    )


def article_html(
    *,
    text: str,
    start: int | None,
    end: int | None,
    title: str = "",
    source: str = "",
    published_at: str = "",
    url: str = "",
    path: str = "",
    doc_id: str = "",
    marker: int | None = None,
    note: str = "",
    page: int | None = None,
) -> str:
    """The full article with the cited span highlighted (no highlight if `start` is None);
    a PDF's pages each headed by their number, so the reader sees which page the cited
    span is on."""
    body = escape(text) if start is None or end is None else highlight(text, start, end)
    body = paged(body)
    on_page = f", page {int(page)}" if page is not None else ""
    label = (f'<div class="rag-cite-label">Citation [{int(marker)}]{on_page}</div>'
             if marker else "")
    notice = f'<div class="rag-note">{escape(note)}</div>' if note else ""
    head = article_header_html(
        title=title, source=source, published_at=published_at, url=url, path=path, doc_id=doc_id
    )
    return (
        # The header stays pinned while the text scrolls to the highlight.
        f'<div class="rag-article"><div class="rag-article-top">{label}{head}{notice}</div>'
        f'<div class="rag-article-text">{body}</div></div>'
    )


def message_html(text: str, *, kind: str = "info") -> str:
    return f'<div class="rag-note rag-note-{escape(kind)}">{escape(text)}</div>'


def _carried(citation: CitationLike) -> str:
    """The other outlets that carried the cited story (`Citation.carried_by`)."""
    carried = citation.carried_by()
    return f'<div class="rag-note rag-carried">{escape(carried[:1].upper() + carried[1:])}</div>' \
        if carried else ""


def sources_html(
    citations: Sequence[CitationLike],
    passages: Sequence[Any] = (),
    names: Mapping[str, str] | None = None,
) -> str:
    """The numbered sources of an answer; for an answer without citations (a refusal),
    the closest passages instead."""
    if citations:
        items = []
        for c in citations:
            head = escape(_name(c, names or {}))
            byline = escape(_byline(c.source, c.published_at, c.page))
            items.append(
                f'<li class="rag-source"><span class="rag-chip">[{int(c.marker)}]</span> '
                f'<b>{head}</b> <span class="rag-byline">{byline}</span>'
                f'<blockquote class="rag-quote">{escape(c.quote)}</blockquote>{_carried(c)}</li>'
            )
        return (
            '<div class="rag-sources"><p class="rag-hint">Choose a citation under the chat to '
            f'read the full article.</p><ul class="rag-source-list">{"".join(items)}</ul></div>'
        )
    if passages:
        items = [
            f'<li class="rag-source"><b>{escape(_name(p, names or {}))}</b> '
            f'<span class="rag-byline">{escape(_byline(p.source, p.published_at))}</span>'
            f'<blockquote class="rag-quote">{escape(p.text)}</blockquote></li>'
            for p in passages
        ]
        return (
            '<div class="rag-sources"><p class="rag-hint">Closest passages (not cited):</p>'
            f'<ul class="rag-source-list">{"".join(items)}</ul></div>'
        )
    return message_html("No sources for this answer.")


# -- answers (Markdown) -------------------------------------------------------------

# Bare URLs and e-mail addresses are autolinked by GFM renderers; backslash escapes do not
# stop that, a code span does. Backticks are excluded so the span cannot be closed early.
_AUTOLINK = re.compile(
    r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[^\s<>\"'`]+"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
# Characters that start links, images, inline HTML, code spans, entities, math, or escapes.
_MD_SPECIAL = {
    "\\": "\\\\",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "!": "\\!",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "$": "\\$",
    "|": "\\|",
}
_MD_SPECIAL_RE = re.compile("[" + re.escape("".join(_MD_SPECIAL)) + "]")


def _escape_plain(text: str) -> str:
    return _MD_SPECIAL_RE.sub(lambda m: _MD_SPECIAL[m.group()], text)


def sanitize_markdown(text: str) -> str:
    """Untrusted text as Markdown that renders as the same visible words but cannot
    produce HTML, links or images; URLs stay visible, as code."""
    out: list[str] = []
    position = 0
    for match in _AUTOLINK.finditer(text):
        out.append(_escape_plain(text[position : match.start()]))
        out.append(f"`{match.group()}`")
        position = match.end()
    out.append(_escape_plain(text[position:]))
    return "".join(out)


@dataclass(frozen=True)
class Badge:
    label: str
    css: str
    detail: str = ""


def mode_badge(mode: str, reason: str | None = None, refused: bool = False) -> Badge:
    if mode == "generative":
        badge = Badge("generative", "generative")
    elif mode == "extractive-fallback":
        badge = Badge(
            "fallback",
            "fallback",
            f"extractive fallback: {reason}" if reason else "extractive fallback",
        )
    else:
        badge = Badge("extractive", "extractive")
    if refused:
        detail = "the sources don't answer this"
        if reason and mode == "extractive":
            detail = f"{detail}: {reason}"
        return Badge(
            badge.label, badge.css, f"{badge.detail}; {detail}" if badge.detail else detail
        )
    return badge


def badge_html(
    mode: str, reason: str | None = None, refused: bool = False, turn: int | None = None
) -> str:
    """The answer's mode; `turn` (the chat message index) lets scripts and tests tell a
    new answer's badge from the previous one."""
    badge = mode_badge(mode, reason, refused)
    detail = (
        f' <span class="rag-badge-detail">{escape(badge.detail)}</span>' if badge.detail else ""
    )
    return (
        f'<span class="rag-badge rag-badge-{badge.css}" data-mode="{escape(mode)}"'
        f"{f' data-turn={int(turn)}' if turn is not None else ''}>"
        f"{escape(badge.label)}</span>{detail}"
    )


def pending_badge_html(step: str = "answering…") -> str:
    return f'<span class="rag-badge rag-badge-pending">{html.escape(step)}</span>'


UNSUPPORTED_MARK = "⚠ unsupported:"
# What `rag.answer.citations.compose` puts before a generated sentence the checker could not
# support (kept only with `keep_unsupported`). `Answer.text` is authoritative (it carries
# the renumbered markers, and leaves out dropped sentences), so the mark is applied there.


def answer_body_markdown(text: str, sentences: Iterable[Any] = ()) -> str:
    """The answer text, sanitised, with unsupported sentences visibly marked so a reader
    does not take them for checked claims."""
    body = sanitize_markdown(text)
    if any(not getattr(s, "supported", True) for s in sentences):
        body = body.replace(UNSUPPORTED_PREFIX, f"**{UNSUPPORTED_MARK}** ")
    return body


def sources_markdown(
    citations: Sequence[CitationLike], names: Mapping[str, str] | None = None
) -> str:
    if not citations:
        return ""
    lines = ["**Sources**", ""]
    for c in citations:
        title = sanitize_markdown(_name(c, names or {}))
        byline = sanitize_markdown(_byline(c.source, c.published_at, c.page))
        url = safe_url(c.url)
        line = f"- \\[{int(c.marker)}\\] {title}"
        if byline:
            line += f" — {byline}"
        if url:
            line += f" — {sanitize_markdown(url)}"
        if c.also_in:
            line += f" ({sanitize_markdown(c.carried_by())})"
        lines.append(line)
    return "\n".join(lines)


# A marker as `sanitize_markdown` writes it: "[2]" escaped to "\\[2\\]".
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")
MARKER_HREF = "#cite-"


def link_markers(body: str, markers: Iterable[int], message_index: int) -> str:
    """Each citation marker of a sanitised answer body as a link the page's script
    (`ui.app.PAGE_JS`) turns into "open this citation", as the chips do. Only the
    answer's own markers: a "[7]" quoted from an article stays text."""
    known = {int(m) for m in markers}

    def link(match: re.Match[str]) -> str:
        marker = int(match.group(1))
        if marker not in known:
            return match.group()
        return f"[{match.group()}]({MARKER_HREF}{int(message_index)}-{marker})"

    return _ESCAPED_MARKER.sub(link, body)


def answer_markdown(
    answer: Any, *, with_sources: bool = True, names: Mapping[str, str] | None = None,
    message_index: int | None = None,
) -> str:
    """An `Answer` as safe Markdown: body, its warnings, then its numbered sources. With
    `message_index` (its place in the chat), its markers link to their citations."""
    body = answer_body_markdown(answer.text, getattr(answer, "sentences", ()) or ())
    if message_index is not None:
        body = link_markers(body, (c.marker for c in answer.citations), message_index)
    if getattr(answer, "as_of", ""):
        body += (f"\n\n*As of {sanitize_markdown(answer.as_of)}, the date of the newest "
                 "cited source.*")
    for warning in getattr(answer, "warnings", ()) or ():
        body += f"\n\n> **⚠ Warning:** {sanitize_markdown(warning)}"
    sources = sources_markdown(answer.citations, names) if with_sources else ""
    return f"{body}\n\n{sources}" if sources else body


def timeline_html(entries: Sequence[Any], names: Mapping[str, str] | None = None,
                  empty: str = "") -> str:
    """A timeline (`rag.schema.TimelineEntry` items) as an ordered list: each entry's date
    and how it was read, the quote with its marker, and its source."""
    if not entries:
        return message_html(empty)
    items = []
    for e in entries:
        c = e.citation
        how = f"“{e.date_text}”, {e.rule}" if e.date_text else e.rule
        source = " · ".join(x for x in (_byline(c.source, c.published_at, c.page),
                                        _name(c, names or {})) if x)
        items.append(
            f'<li class="rag-tl-entry"><div class="rag-tl-date">{escape(e.date)} '
            f'<span class="rag-hint">({escape(how)})</span></div>'
            f'<blockquote class="rag-quote"><span class="rag-chip">[{int(c.marker)}]</span> '
            f'{escape(c.quote)}</blockquote>'
            f'<div class="rag-byline">{escape(source)}</div></li>')
    return f'<ol class="rag-timeline">{"".join(items)}</ol>'


def citation_choices(
    citations: Sequence[CitationLike], names: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """(label, value) pairs for the citation chips, one per marker."""
    seen: set[int] = set()
    choices = []
    # Sources of different days: each chip says its day, so the reader sees which fact
    # is older.
    dated = len({c.published_at[:10] for c in citations if c.published_at}) > 1
    for c in citations:
        if c.marker in seen:
            continue
        seen.add(c.marker)
        # The title alone would make every chip of a one-article answer read the same;
        # the first cited words tell them apart.
        title = _name(c, names or {})
        short = title if len(title) <= 32 else title[:31] + "…"
        words = " ".join(c.quote.split()[:6])
        cited = words if len(words) <= 40 else words[:39] + "…"
        if len(c.quote.split()) > 6 and not cited.endswith("…"):
            cited += "…"
        day = f" ({c.published_at[:10]})" if dated and c.published_at else ""
        choices.append((f"[{c.marker}] {short}{day}: “{cited}”", str(c.marker)))
    return choices
