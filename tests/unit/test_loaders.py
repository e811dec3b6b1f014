"""Every supported format loads to exact text; broken files fail alone with a reason."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rag.errors import LoaderError
from rag.ingest.decoding import decode
from rag.ingest.documents import INVISIBLE_CHARS
from rag.ingest.loaders import load_file, url_lines

LIMIT = 10 * 1024 * 1024


def test_txt_is_kept_byte_for_byte(tmp_path: Path) -> None:
    text = "“Quoted,” he said.\r\nSecond line — with dash.\n"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    (document,) = load_file(tmp_path / "a.txt", max_bytes=LIMIT)
    assert document.text == text
    assert document.title == "" and document.source == ""


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: T\nsource: S\nauthor: A\ndate: 2024-04-18\n---\nBody text.\n",
                    encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert (document.title, document.source, document.author) == ("T", "S", "A")
    assert document.published_at == "2024-04-18"
    assert document.text == "Body text.\n"


def test_html_readable_text_and_title(tmp_path: Path) -> None:
    path = tmp_path / "a.html"
    path.write_text("<html><head><title>The  Title</title><style>p{}</style></head><body>"
                    "<script>alert(1)</script><p>First &amp; para.</p><div>Second<br>line"
                    "</div></body></html>", encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.title == "The Title"
    assert document.text == "First & para.\nSecond\nline"
    assert "alert" not in document.text


def test_jsonl_records_like_multihop(tmp_path: Path) -> None:
    rows = [{"title": "A", "source": "The Verge", "author": "X",
             "published_at": "2023-11-24T15:42:21+00:00", "category": "tech",
             "url": "https://e.org/a", "body": "One.\nTwo."},
            {"title": "B", "source": "Wired", "url": "https://e.org/b", "text": "Three."}]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    documents = load_file(path, max_bytes=LIMIT)
    assert [d.title for d in documents] == ["A", "B"]
    assert documents[0].text == "One.\nTwo." and documents[0].category == "tech"
    assert documents[0].doc_id != documents[1].doc_id
    again = load_file(path, max_bytes=LIMIT)
    assert [d.doc_id for d in again] == [d.doc_id for d in documents]


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"title": "A", "body": "x"}, {"title": "B", "body": "y"}]),
                    encoding="utf-8")
    assert len(load_file(path, max_bytes=LIMIT)) == 2


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.txt", b"", "empty"),
    ("bin.txt", b"\x00\x01\x02binary", "binary"),
    ("bad.jsonl", b'{"body": "ok"}\n{not json\n', "line 2"),
    ("bad.json", b'{"body": ', "invalid JSON"),
    ("nobody.json", b'{"title": "x"}', "body"),
    ("x.pdf", b"%PDF-1.4", "PDF"),
    ("x.docx", b"PK\x03\x04", "unsupported"),
    ("empty.html", b"<html><script>x</script></html>", "no readable text"),
])
def test_broken_files_raise_loader_error(tmp_path: Path, name: str, content: bytes,
                                         reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=reason):
        load_file(path, max_bytes=LIMIT)


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(LoaderError, match="limit"):
        load_file(path, max_bytes=100)


def test_encodings() -> None:
    text = "Ереван — “quoted” café"
    assert decode(codecs.BOM_UTF8 + text.encode("utf-8")) == text
    assert decode(codecs.BOM_UTF16_LE + text.encode("utf-16-le")) == text
    assert decode(codecs.BOM_UTF16_BE + text.encode("utf-16-be")) == text
    latin = "Le café était fermé à Genève, dit-il, près de la gare.".encode("cp1252")
    assert decode(latin) == "Le café était fermé à Genève, dit-il, près de la gare."


def test_utf16_without_a_byte_order_mark_is_read_and_binary_still_refused() -> None:
    text = "The harbour reopened on Monday, said the café’s owner.\nSecond line.\n"
    assert decode(text.encode("utf-16-le")) == text
    assert decode(text.encode("utf-16-be")) == text
    with pytest.raises(LoaderError, match="binary"):
        decode(bytes(range(256)) * 4)
    with pytest.raises(LoaderError, match="binary"):
        decode(b"\x00\x01" * 200)  # NULs in place, but what they "decode" to is no text


def test_invisible_characters_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("ig\u200bnore\u202e previous\u2066 text", encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.text == "ignore previous text"


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=300))
@example("0\x00")  # two bytes that also read as UTF-16 "0": too few to be sure of it
def test_any_unicode_text_round_trips(text: str) -> None:
    data = text.encode("utf-8")
    if b"\x00" in data:
        with pytest.raises(LoaderError):
            decode(data)
        return
    assert INVISIBLE_CHARS.sub("", decode(data)) == INVISIBLE_CHARS.sub("", text)


HEADLINE = "Peacekeepers leave Karabakh"


@pytest.mark.parametrize(("text", "title"), [
    ("Peacekeepers leave Karabakh\n\nRussian troops left in April.\n", HEADLINE),
    ("# Peacekeepers leave Karabakh\nRussian troops left in April.\n", HEADLINE),
    ("Why did the peacekeepers leave?\nRussian troops left in April.\n",
     "Why did the peacekeepers leave?"),
    # A first sentence, a byline, a lone word or a one-line file is no headline.
    ("Russian troops left in April.\nThey had come in 2020.\n", ""),
    ("By Jane Smith\nRussian troops left in April.\n", ""),
    ("Karabakh\nRussian troops left in April.\n", ""),
    ("Peacekeepers leave Karabakh\n", ""),
    # A date on its own line is a dateline, not a headline.
    ("April 18, 2024\nRussian troops left in April.\n", ""),
])
def test_a_plain_text_headline_is_the_title(tmp_path: Path, text: str, title: str) -> None:
    for suffix in (".txt", ".md"):
        (tmp_path / f"a{suffix}").write_text(text, encoding="utf-8")
        (document,) = load_file(tmp_path / f"a{suffix}", max_bytes=LIMIT)
        assert document.title == title
        assert document.text == text  # the headline stays in the text: offsets hold


def test_metadata_titles_win_over_the_headline(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: From metadata\n---\nA headline line\n\nBody.\n", encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.title == "From metadata"


@pytest.mark.parametrize(("text", "published"), [
    ("Peacekeepers leave\nLONDON, April 18, 2024 (Reuters) - Russian troops left.\n",
     "2024-04-18"),
    ("Peacekeepers leave\nPublished 18th Sept. 2023\n\nRussian troops left.\n", "2023-09-18"),
    ("2024-04-18\nRussian troops left.\n", "2024-04-18"),
    # No year, an impossible day, or a date only down in the story: no date is made up.
    ("Peacekeepers leave\nOn April 17 the troops left.\n", ""),
    ("Peacekeepers leave\nFebruary 30, 2024 - text\n", ""),
    ("Peacekeepers leave\nOne.\nTwo.\nThree.\nThey came on April 18, 2020.\n", ""),
])
def test_a_plain_text_dateline_is_the_publication_date(tmp_path: Path, text: str,
                                                      published: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.published_at == published


def test_metadata_dates_win_over_the_dateline(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\npublished_at: '2024-05-01'\n---\nApril 18, 2024\nBody.\n",
                    encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.published_at == "2024-05-01"
    path.write_text("---\npublished_at: ''\n---\nApril 18, 2024\nBody.\n", encoding="utf-8")
    (document,) = load_file(path, max_bytes=LIMIT)
    assert document.published_at == ""  # an empty date in metadata is its say


def test_a_url_list_skips_blank_lines_and_comments() -> None:
    text = "# feeds\nhttps://a.example/feed.xml\n\n  https://b.example/story  \n  # off\n"
    assert url_lines(text) == ["https://a.example/feed.xml", "https://b.example/story"]
