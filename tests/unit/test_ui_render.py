"""The UI's rendering of untrusted text: articles, model answers, sources, filters."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest

from rag import Assistant, Settings
from rag.schema import Answer, AnswerSentence, Citation, Passage
from ui import render
from ui.app import build_app, in_running_loop
from ui.helpers import (
    append_feedback,
    build_filters,
    corpus_label,
    find_documents,
    parse_day,
    upload_name,
)

MARK = re.compile(r'<mark id="cite">(.*?)</mark>', re.DOTALL)

HOSTILE = (
    'Intro & <b>bold</b>. <script>alert(1)</script> then </mark><mark id="cite">fake'
    " <img src=x onerror=alert(2)> and ${value} {{value}} \"quoted\" 'single'.\nEnd."
)


def marked(page: str) -> str:
    (inner,) = MARK.findall(page)
    return html.unescape(inner)


def citation(text: str, start: int, end: int, marker: int = 1, **meta: Any) -> Citation:
    return Citation(marker=marker, doc_id="d1", start=start, end=end, quote=text[start:end],
                    **meta)


# -- highlight ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 5), (6, 19), (20, 55), (56, 110), (0, len(HOSTILE)), (len(HOSTILE), len(HOSTILE))],
)
def test_highlight_marks_exactly_the_span_of_hostile_text(start: int, end: int) -> None:
    page = render.highlight(HOSTILE, start, end)

    assert marked(page) == HOSTILE[start:end]
    # Everything outside the mark is the escaped remainder, so the whole page unescapes
    # back to the article with nothing added or lost.
    assert html.unescape(page.replace('<mark id="cite">', "").replace("</mark>", "")) == HOSTILE


def test_highlight_leaves_no_live_markup_from_the_article() -> None:
    page = render.highlight(HOSTILE, 0, len(HOSTILE))

    assert page.count("<mark") == 1 and page.count("</mark>") == 1
    for tag in ("<script", "<img", "<b>", "</script"):
        assert tag not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;/mark&gt;" in page
    assert "&quot;quoted&quot;" in page and "&#x27;single&#x27;" in page


def test_highlight_offsets_survive_characters_that_escaping_lengthens() -> None:
    text = "a&b<c>d " * 3 + "TARGET & <tail>"
    start = text.index("TARGET")

    assert marked(render.highlight(text, start, start + 8)) == "TARGET &"


def test_highlight_rejects_spans_outside_the_text() -> None:
    with pytest.raises(ValueError):
        render.highlight("short", 2, 10)
    with pytest.raises(ValueError):
        render.highlight("short", 3, 2)


def test_article_html_escapes_metadata_and_only_links_http_urls() -> None:
    text = "Body with the cited words in it."
    start = text.index("cited")
    page = render.article_html(
        text=text,
        start=start,
        end=start + 11,
        marker=1,
        title="<script>x</script>Title",
        source="Out<let>",
        published_at="2024-04-18T10:00:00",
        url='https://example.org/a?b=1&c="2"',
    )

    assert marked(page) == "cited words"
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;Title" in page
    assert "Out&lt;let&gt;" in page and "2024-04-18" in page and "10:00" not in page
    assert 'href="https://example.org/a?b=1&amp;c=&quot;2&quot;"' in page
    assert 'rel="noopener noreferrer nofollow"' in page


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<b>x</b>",
        "//evil.example/x",
        "vbscript:x",
        "https://",
        "java\nscript:alert(1)",
        " https://ex ample.org",
        "",
    ],
)
def test_unsafe_article_urls_are_not_linked(url: str) -> None:
    assert render.safe_url(url) is None
    page = render.article_html(text="t", start=0, end=1, url=url)
    assert "<a " not in page and "href" not in page


def test_article_without_a_span_is_escaped_and_unhighlighted() -> None:
    page = render.article_html(text=HOSTILE, start=None, end=None, note="changed <since>")

    assert "<mark" not in page and "<script" not in page
    assert "changed &lt;since&gt;" in page


def test_sources_html_escapes_quotes_titles_and_passages() -> None:
    text = "x <img src=x onerror=alert(1)> y"
    cited = citation(text, 0, len(text), title="<b>T</b>", source="S", published_at="2024-01-02")
    page = render.sources_html([cited])

    assert "<img" not in page and "<b>T</b>" not in page and "&lt;b&gt;T&lt;/b&gt;" in page
    passage = Passage(doc_id="d2", text="<script>p</script>", start=0, end=18, score=0.5)
    refused = render.sources_html([], [passage], {"d2": "file<1>.txt"})
    assert "<script" not in refused and "file&lt;1&gt;.txt" in refused


def test_names_stand_in_for_missing_titles() -> None:
    cited = citation("abc", 0, 3)

    assert render.citation_choices([cited], {"d1": "story.txt"}) == \
        [("[1] story.txt: “abc”", "1")]
    assert render.citation_choices([cited]) == [("[1] d1: “abc”", "1")]
    titled = citation("abc", 0, 3, title="A title")
    assert render.citation_choices([titled, titled], {"d1": "story.txt"}) == \
        [("[1] A title: “abc”", "1")]


def test_chips_of_one_article_differ_by_the_words_they_cite() -> None:
    text = "Troops left in April after the deal. They had arrived in 2020 under a truce."
    first = citation(text, 0, 36, title="Peacekeepers leave Karabakh")
    second = citation(text, 37, len(text), title="Peacekeepers leave Karabakh", marker=2)
    labels = [label for label, _ in render.citation_choices([first, second])]
    assert labels == ["[1] Peacekeepers leave Karabakh: “Troops left in April after the…”",
                      "[2] Peacekeepers leave Karabakh: “They had arrived in 2020 under…”"]


def test_chips_say_the_day_only_when_the_sources_differ_in_it() -> None:
    monday = citation("Harbour reopened.", 0, 17, title="Harbour", published_at="2024-04-15")
    thursday = citation("57 ships docked.", 0, 16, title="Harbour", marker=2,
                        published_at="2024-04-18T09:00:00")
    labels = [label for label, _ in render.citation_choices([monday, thursday])]
    assert labels == ["[1] Harbour (2024-04-15): “Harbour reopened.”",
                      "[2] Harbour (2024-04-18): “57 ships docked.”"]
    same_day = citation("More ships.", 0, 11, title="Harbour", marker=2,
                        published_at="2024-04-15")
    assert "(2024-04-15)" not in render.citation_choices([monday, same_day])[0][0]


# -- answers as Markdown ------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "forbidden"),
    [
        ("See ![pixel](https://evil.example/p.png?leak=1) now", "!["),
        ("Click [here](https://evil.example) please", "[here]("),
        ("Ref [x][1]\n\n[1]: https://evil.example", "[1]:"),
        ("Auto <https://evil.example> link", "<https"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("<script>alert(1)</script>", "<script"),
        ("<a href='https://evil.example'>x</a>", "<a "),
        ("Inline `code` and ``more``", "`code`"),
        ("Entity &#60;script&#62;", "&#60;"),
        ("Math $x$ and $$y$$", "$x$"),
    ],
)
def test_sanitize_markdown_neutralises_links_images_and_html(hostile: str, forbidden: str) -> None:
    safe = render.sanitize_markdown(hostile)

    assert forbidden not in safe
    assert "<" not in safe and ">" not in safe
    assert not re.search(r"(?<!\\)\[", safe), "an unescaped [ could open a link"


def test_sanitize_markdown_turns_bare_urls_and_emails_into_code() -> None:
    safe = render.sanitize_markdown(
        "Visit https://evil.example/x?a=1 or www.evil.example or write to a.b@evil.example."
    )

    assert "`https://evil.example/x?a=1`" in safe
    assert "`www.evil.example`" in safe
    assert "`a.b@evil.example`" in safe


def test_sanitize_markdown_keeps_citation_markers_readable() -> None:
    assert render.sanitize_markdown("Fact [1] and [2].") == "Fact \\[1\\] and \\[2\\]."


def test_answer_markdown_marks_unsupported_sentences_and_lists_sources() -> None:
    cited = citation(
        "Supported claim here",
        0,
        15,
        title="Title",
        source="Outlet",
        published_at="2024-04-18",
        url="https://example.org/a",
    )
    invented = "Invented claim ![x](http://e/x.png)."
    answer = Answer(
        question="q",
        # As composed with keep_unsupported: markers renumbered, the unsupported one prefixed.
        text=f"Supported claim [1]. {render.UNSUPPORTED_PREFIX}{invented}",
        refused=False,
        citations=[cited],
        passages=[],
        mode="generative",
        sentences=[
            AnswerSentence("Supported claim.", [cited], True),
            AnswerSentence(invented, [], False, 0.1),
        ],
    )

    markdown = render.answer_markdown(answer)

    body, sources = markdown.split("**Sources**")
    assert body.startswith("Supported claim \\[1\\]. ")
    assert body.count(render.UNSUPPORTED_MARK) == 1
    assert body.index(render.UNSUPPORTED_MARK) < body.index("Invented claim")
    assert "![" not in markdown and "](http" not in markdown
    assert "\\[1\\] Title — Outlet · 2024-04-18 — `https://example.org/a`" in sources


def test_answer_markers_link_to_their_own_citations_only() -> None:
    cited = [citation("First fact", 0, 10), citation("Second fact", 0, 11, marker=2)]
    # "[7]" is article text the answer quotes, not one of its markers.
    answer = Answer(question="q", text="First fact [1]. Second fact, see note [7] [2].",
                    refused=False, citations=cited, passages=[], mode="extractive")

    linked = render.answer_markdown(answer, message_index=5, with_sources=False)

    assert linked == ("First fact [\\[1\\]](#cite-5-1). Second fact, see note \\[7\\] "
                      "[\\[2\\]](#cite-5-2).")
    # Without a place in a chat (the HTTP API, the CLI) markers stay plain text.
    assert "](#cite-" not in render.answer_markdown(answer)


def test_answer_markdown_shows_the_text_not_dropped_sentences() -> None:
    dropped = AnswerSentence("Dropped invention.", [], False, 0.1)
    answer = Answer(
        question="q",
        text="Extracted sentence [1].",
        refused=False,
        citations=[],
        passages=[],
        mode="extractive-fallback",
        reason="no sentence of the generated answer was supported by its sources",
        sentences=[dropped],
    )

    assert render.answer_markdown(answer) == "Extracted sentence \\[1\\]."


def test_answer_markdown_without_sentences_uses_the_text() -> None:
    answer = Answer(
        question="q", text="Plain <b>answer</b> [1].", refused=False, citations=[], passages=[]
    )

    assert render.answer_markdown(answer) == "Plain &lt;b&gt;answer&lt;/b&gt; \\[1\\]."


@pytest.mark.parametrize(
    ("mode", "reason", "refused", "label", "detail"),
    [
        ("extractive", None, False, "extractive", ""),
        ("generative", None, False, "generative", ""),
        (
            "extractive-fallback",
            "timed out after 30 s",
            False,
            "fallback",
            "extractive fallback: timed out after 30 s",
        ),
        ("extractive", None, True, "extractive", "the sources don't answer this"),
    ],
)
def test_mode_badge(mode: str, reason: str | None, refused: bool, label: str, detail: str) -> None:
    badge = render.mode_badge(mode, reason, refused)
    assert (badge.label, badge.detail) == (label, detail)


def test_badge_html_escapes_the_fallback_reason() -> None:
    page = render.badge_html("extractive-fallback", "<img src=x onerror=alert(1)>")

    assert "<img" not in page and "&lt;img" in page and 'data-mode="extractive-fallback"' in page


# -- app helpers --------------------------------------------------------------------


def test_build_filters_accepts_blank_and_valid_dates() -> None:
    assert build_filters(None, "", " ") is None
    assert build_filters(["Reuters", "AP"], "2024-01-01", "2024-04-30") == {
        "source": ["Reuters", "AP"],
        "published_after": "2024-01-01",
        "published_before": "2024-04-30",
    }


@pytest.mark.parametrize(
    ("after", "before", "message"),
    [
        ("2024-1-1", "", "like 2024-04-18"),
        ("yesterday", "", "like 2024-04-18"),
        ("2024-02-30", "", "not a calendar date"),
        ("", "2024-13-01", "not a calendar date"),
        ("2024-05-01", "2024-04-01", "after"),
    ],
)
def test_build_filters_rejects_bad_dates(after: str, before: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_filters(None, after, before)


def test_parse_day_blank_is_none() -> None:
    assert parse_day("From date", None) is None


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("Москва.md", "Москва.md"),
        ("東京.md", "東京.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("a b<c>.json", "a b_c_-{tag}.json"),
        ("..", "upload-{tag}"),
        ("..md", "upload-{tag}.md"),
        (".md", "upload-{tag}.md"),
        ("C:\\Users\\x\\report.txt", "report.txt"),  # a Windows path from the client
        ("/a/b/.hidden.txt", "hidden-{tag}.txt"),  # an absolute path from the client
        ("bad\x1b]0;title\x07name.txt", "bad_0_title_name-{tag}.txt"),
    ],
)
def test_upload_name_stays_inside_the_uploads_folder(original: str, expected: str) -> None:
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    tag = hashlib.sha256(base.encode()).hexdigest()[:8]
    assert upload_name(original) == expected.format(tag=tag)


def test_upload_names_never_collide_and_fit_the_file_system() -> None:
    originals = ["Москва.md", "Киев.md", "東京.md", "北京.md", "a?b.md", "a*b.md", ".md",
                 "..md", "東" * 200 + ".txt", "東" * 201 + ".txt"]
    names = [upload_name(original) for original in originals]
    assert len(set(names)) == len(names)
    assert all(len(name.encode()) <= 150 and "/" not in name for name in names)
    assert all(name.endswith("." + original.rpartition(".")[2])
               for name, original in zip(names, originals, strict=True))


def test_feedback_is_appended_as_json_lines(tmp_path: Path) -> None:
    append_feedback(tmp_path, {"rating": "up", "question": "q1"})
    path = append_feedback(tmp_path, {"rating": "down", "question": "q2 \u2014 é"})

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["rating"] for line in lines] == ["up", "down"]
    assert "é" in lines[1]


# -- app wiring ---------------------------------------------------------------------


def _component(demo: Any, elem_id: str) -> Any:
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


@pytest.mark.parametrize(("llm", "configured"), [("none", False), ("openai", True)])
def test_llm_switch_is_always_shown_and_says_why_it_is_off(
    tmp_path: Path, llm: str, configured: bool
) -> None:
    settings = Settings(home=tmp_path, llm=llm)
    # Nothing is asked while the Blocks are built, so no real assistant is needed.
    demo = in_running_loop(lambda: build_app(cast(Assistant, object()), settings))

    switch = _component(demo, "use-llm")
    assert switch.visible is True
    assert switch.value is configured and switch.interactive is configured
    assert ("none configured" in switch.label) is not configured
    api_names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert api_names == {"ask"}, "only the ask endpoint is meant to be public"


DOCUMENTS = [
    {"title": "Peacekeepers leave Karabakh", "source": "Reuters", "doc_id": "a1", "path": ""},
    {"title": "EU notes withdrawal", "source": "Turan", "doc_id": "b2",
     "path": "uploads/eu-note.md"},
    {"title": "", "source": "", "doc_id": "c3", "path": "uploads/untitled.txt"},
]


@pytest.mark.parametrize(("search", "expected"), [
    ("", ["a1", "b2", "c3"]),
    ("  ", ["a1", "b2", "c3"]),
    ("KARABAKH", ["a1"]),
    ("withdrawal turan", ["b2"]),
    ("withdrawal reuters", []),
    ("untitled", ["c3"]),
    ("b2", ["b2"]),
])
def test_corpus_search_needs_every_word_in_a_documents_names(search: str,
                                                              expected: list[str]) -> None:
    assert [d["doc_id"] for d in find_documents(DOCUMENTS, search)] == expected


def test_corpus_label_says_what_is_shown() -> None:
    assert corpus_label(3, 3, 3, False) == "Indexed documents: 3"
    assert corpus_label(20000, 20000, 500, False) == (
        "Indexed documents: 20,000; the newest 500 shown, find the others by name")
    assert corpus_label(20000, 12, 12, True) == "Indexed documents: 20,000; 12 match"


def test_sources_name_the_other_outlets_of_a_story_as_text() -> None:
    cited = citation("A fact", 0, 6, source="Outlet", also_in=[
        {"doc_id": "d2", "source": "<b>Wire</b>", "published_at": "2024-04-19T18:00:00"},
        {"doc_id": "d3", "path": "/x/copy.txt"}])

    panel = render.sources_html([cited])
    markdown = render.sources_markdown([cited])

    assert "Also in &lt;b&gt;Wire&lt;/b&gt; (2024-04-19), copy.txt" in panel
    assert "(also in &lt;b&gt;Wire&lt;/b&gt; (2024-04-19), copy.txt)" in markdown
    assert "rag-carried" not in render.sources_html([citation("A fact", 0, 6)])


def test_timeline_entries_are_escaped_in_order_with_their_rule() -> None:
    from rag.schema import TimelineEntry

    cite = citation(HOSTILE, 0, len(HOSTILE), source="<i>Wire</i>", published_at="2024-04-19")
    entries = [TimelineEntry("2024-04-18", "Thursday", "weekday before publication", cite),
               TimelineEntry("2024-04-19", "", "publication date", cite)]
    page = render.timeline_html(entries)
    assert "<script>" not in page and "<img" not in page and "<i>" not in page
    assert page.index("2024-04-18") < page.index("2024-04-19")
    assert "(“Thursday”, weekday before publication)" in html.unescape(page)
    assert "(publication date)" in page
    assert render.timeline_html([], empty="Nothing dated.") == render.message_html("Nothing dated.")


def test_a_pdf_article_shows_its_pages_with_the_span_on_its_own_page() -> None:
    text = "First page text.\fSecond page, where the cited words are.\fThird <page>."
    start = text.index("cited")
    page = render.article_html(text=text, start=start, end=start + 11, marker=1, page=2)

    headings = re.findall(r'<span class="rag-page"[^>]*>(Page \d+)</span>', page)
    assert headings == ["Page 1", "Page 2", "Page 3"]
    # The highlight sits after page 2's heading and before page 3's.
    assert page.index("Page 2</span>") < page.index('<mark id="cite">') < page.index(
        "Page 3</span>")
    assert marked(page) == "cited words" and "\f" not in page
    assert "Third &lt;page&gt;." in page and "Citation [1], page 2" in page


def test_a_highlight_across_a_page_break_stays_one_mark() -> None:
    text = "End of one page\fstart of the next."
    page = render.article_html(text=text, start=7, end=22, marker=1)

    assert page.count("<mark") == 1 and page.count("</mark>") == 1
    inner = re.sub(r"<[^>]+>", "", marked(page))
    assert inner == "one pagePage 2start " and "Page 2</span>" in marked(page)


def test_an_article_without_pages_has_no_page_headings() -> None:
    assert "rag-page" not in render.article_html(text="One page only.", start=0, end=3)
