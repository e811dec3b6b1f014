"""PDF articles: their text layer indexed page by page, a citation naming its page, and
a broken PDF refused with its reason while the rest of the folder is indexed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag import Assistant
from rag.ingest.loaders import load_file
from rag.schema import PAGE_BREAK
from rag.terminal import format_answer
from tests.pdf_maker import make_pdf
from tests.system.test_cli import rag
from ui import render

PAGES = [
    ["Harbour reopens after the storm",
     "PORTSMOUTH - The harbour master said 57 ships docked at the river port on Thursday."],
    ["The outer channel was closed for a week.",
     "Dredging of the outer channel is due to finish in May, the port authority said."],
]


def write_pdf(path: Path, **info: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_pdf(PAGES, **info))
    return path


def test_a_pdf_is_read_page_by_page_with_its_metadata(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "report.pdf", title="Harbour report", created="D:20240419")
    (document,) = load_file(pdf, max_bytes=1 << 20)
    assert document.title == "Harbour report" and document.published_at == "2024-04-19"
    first, second = document.text.split(PAGE_BREAK)
    assert "57 ships" in first and "Dredging" in second
    # Without a title in its information, the first line is the headline.
    (untitled,) = load_file(write_pdf(tmp_path / "untitled.pdf"), max_bytes=1 << 20)
    assert untitled.title == "Harbour reopens after the storm"


def test_a_pdf_citation_names_its_page_and_quotes_exactly(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write_pdf(folder / "report.pdf", title="Harbour report")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF at all\n")
    (folder / "note.txt").write_text("Fishing quotas\nThe fleet stayed in port.\n",
                                     encoding="utf-8")
    assistant = make_assistant()
    report = assistant.ingest(folder)
    assert [Path(path).name for path, _ in report.failed] == ["broken.pdf"]
    assert "not a readable PDF" in report.failed[0][1] or "no text" in report.failed[0][1]
    assert len(report.added) == 2

    answer = assistant.ask("When is the dredging of the outer channel due to finish?")
    assert not answer.refused, answer.reason
    cited = answer.citations[0]
    assert cited.page == 2 and "May" in cited.quote
    document = assistant.document(cited.doc_id)
    assert document.text[cited.start:cited.end] == cited.quote
    assert f"page 2, chars {cited.start}-{cited.end}" in format_answer(answer)
    assert '<span class="rag-byline">page 2</span>' in render.sources_html(answer.citations)
    # The article view heads each page, and the highlight is on the cited one.
    view = render.article_html(text=document.text, start=cited.start, end=cited.end,
                               marker=1, page=cited.page)
    assert view.index("Page 2</span>") < view.index('<mark id="cite">')
    assert "Page 3</span>" not in view[:view.index('<mark id="cite">')]

    first = assistant.ask("How many ships docked at the river port on Thursday?")
    assert first.citations[0].page == 1
    text_answer = assistant.ask("Where did the fleet stay?")
    assert all(c.page is None for c in text_answer.citations)


def test_rag_ingest_takes_a_pdf(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pdf = write_pdf(tmp_path / "report.pdf", title="Harbour report")
    done = rag(home, "ingest", str(pdf))
    assert done.returncode == 0, done.stderr
    shown = rag(home, "ask", "When is the dredging of the outer channel due to finish?")
    assert "page 2" in shown.stdout, shown.stdout
