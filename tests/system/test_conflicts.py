"""Sources that disagree: an answer whose cited figure, date or name for a post another
document states otherwise says so and cites both (`rag.verify.conflicts`, thresholds
fitted by bench/conflicts.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rag import Assistant
from rag.index.embeddings import MiniLMEmbedder
from rag.schema import Citation, Passage
from rag.verify.conflicts import THRESHOLDS, find_conflicts
from tests.conftest import SEED

# Another outlet's article that reuses the wire paragraph with another figure.
OTHER = """Armenia weighs its options after the withdrawal

Armenian officials met in Yerevan on Monday to discuss the country's security ties with \
Moscow, which have frayed since last year.

Moscow and Baku confirmed on April 17 the start of the withdrawal of Russian peacekeepers \
from Nagorno-Karabakh where about 1,960 of them were deployed since November 2020 as part \
of a trilateral ceasefire agreement.

Analysts in Yerevan said the government would look to Western partners for support, \
while opposition parties called for a referendum on the alliance.
"""


def passage(doc_id: str, text: str) -> Passage:
    return Passage(doc_id=doc_id, text=text, start=0, end=len(text), score=1.0)


def cite(doc_id: str, text: str) -> Citation:
    return Citation(marker=1, doc_id=doc_id, start=0, end=len(text), quote=text)


def test_a_figure_another_outlet_states_otherwise_is_flagged_and_both_cited(
        tmp_path: Path, make_assistant: Callable[..., Assistant]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "other.txt").write_text(OTHER, encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(corpus)
    answer = assistant.ask("How many Russian peacekeepers were deployed in Nagorno-Karabakh?")
    assert not answer.refused
    (conflict,) = answer.conflicts
    assert {conflict.cited_value, conflict.other_value} == {"2,000", "1,960"}
    assert conflict.cited.doc_id != conflict.other.doc_id
    assert conflict.other in answer.citations and conflict.cited in answer.citations
    assert (f"Sources differ: {conflict.cited_value} [{conflict.cited.marker}]; "
            f"{conflict.other_value} [{conflict.other.marker}].") in answer.text
    for citation in answer.citations:
        document = assistant.document(citation.doc_id)
        assert document.text[citation.start:citation.end] == citation.quote
    assert answer.to_dict()["conflicts"][0]["other"] == conflict.other.marker


def test_one_source_alone_never_disagrees(seed_assistant: Assistant) -> None:
    answer = seed_assistant.ask("How many Russian peacekeepers were deployed?")
    assert not answer.refused and answer.conflicts == []
    assert "Sources differ" not in answer.text


def test_figures_for_different_months_are_two_figures(embedder: MiniLMEmbedder) -> None:
    cited = "Inflation in the euro area rose to 3.2 percent in October, the statistics office said."
    same_month = cited.replace("3.2", "3.7")
    other_month = ("Inflation in the euro area rose to 3.7 percent in September, the statistics "
                   "office said.")
    flagged = find_conflicts([cite("a", cited)], [passage("b", same_month)], embedder.embed)
    assert [(c.cited_value, c.other_value) for c in flagged] == [("3.2", "3.7")]
    assert find_conflicts([cite("a", cited)], [passage("b", other_month)], embedder.embed) == []


def test_a_sentence_that_also_states_the_cited_figure_does_not_disagree(
        embedder: MiniLMEmbedder) -> None:
    cited = "About 2,000 Russian peacekeepers were deployed to the region in 2020."
    both = "About 2,000 Russian peacekeepers, later 1,960, were deployed to the region in 2020."
    assert find_conflicts([cite("a", cited)], [passage("b", both)], embedder.embed) == []
    # The same document is never a second source.
    changed = "About 1,960 Russian peacekeepers were deployed to the region in 2020."
    assert find_conflicts([cite("a", cited)], [passage("a", changed)], embedder.embed) == []


# A board's appointment as two outlets ran it: the same sentence, another date or name.
APPOINTED = ("The board appointed Jane Roe as chief executive on March 3, the company said "
             "in a statement.")
CLOSING = ("The company's chief executive, Jane Roe, said the plant in Ohio would close "
           "next year, cutting jobs across the region.")


def conflicts_of(cited: str, other: str, embedder: MiniLMEmbedder) -> list[tuple[str, str]]:
    return [(c.cited_value, c.other_value)
            for c in find_conflicts([cite("a", cited)], [passage("b", other)], embedder.embed)]


def test_another_day_or_month_for_the_same_event_is_flagged_with_both_dates(
        embedder: MiniLMEmbedder) -> None:
    assert conflicts_of(APPOINTED, APPOINTED.replace("March 3", "March 5"), embedder) == [
        ("March 3", "March 5")]
    # The day agrees, so only the date kind can tell (the number kind sees 3 and 3).
    assert conflicts_of(APPOINTED, APPOINTED.replace("March 3", "April 3"), embedder) == [
        ("March 3", "April 3")]
    (conflict,) = find_conflicts([cite("a", APPOINTED)],
                                 [passage("b", APPOINTED.replace("March 3", "March 5"))],
                                 embedder.embed)
    assert conflict.other.doc_id == "b" and conflict.other.quote.startswith("The board")


def test_the_same_date_written_otherwise_or_a_reading_for_another_day_is_no_conflict(
        embedder: MiniLMEmbedder) -> None:
    assert conflicts_of(APPOINTED, APPOINTED.replace("March 3", "3 March"), embedder) == []
    assert conflicts_of(APPOINTED, APPOINTED.replace("March 3", "March 3, 2023"),
                        embedder) == []
    # Another figure and another date: two readings, not one disputed.
    cited = "Inflation in the euro area rose to 3.2 percent on October 3, the office said."
    other = "Inflation in the euro area rose to 3.7 percent on November 3, the office said."
    assert conflicts_of(cited, other, embedder) == []


def test_one_post_given_to_another_person_is_flagged_with_both_names(
        embedder: MiniLMEmbedder) -> None:
    other = ("Chief executive John Doe said the plant in Ohio would close next year, "
             "cutting jobs across the region.")
    assert conflicts_of(CLOSING, other, embedder) == [("Jane Roe", "John Doe")]
    assert conflicts_of(CLOSING, other.replace("Chief executive", "CEO"), embedder) == [
        ("Jane Roe", "John Doe")]


def test_the_same_person_or_another_post_is_no_conflict(embedder: MiniLMEmbedder) -> None:
    tail = " said the plant in Ohio would close next year, cutting jobs across the region."
    assert conflicts_of(CLOSING, "Chief executive Jane A. Roe" + tail, embedder) == []
    assert conflicts_of(CLOSING, "Chairman John Doe" + tail, embedder) == []  # another role
    assert conflicts_of(CLOSING, "Former chief executive John Doe" + tail, embedder) == []
    assert conflicts_of("Acme CEO Jane Roe" + tail, "Globex CEO John Doe" + tail,
                        embedder) == []  # another company's
    # A sentence that names the cited person too says something else beside her.
    assert conflicts_of(CLOSING, "Chief executive John Doe, who replaced Jane Roe," + tail,
                        embedder) == []


def test_the_thresholds_file_says_how_it_was_made() -> None:
    data = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    assert data["made_by"] == "python -m bench.conflicts --fit"
    for kind in ("number", "date", "role"):
        assert 0 <= data[kind]["min_context_overlap"] <= 1
        assert -1 <= data[kind]["min_similarity"] <= 1
    assert len(data["pairs_sha256"]) == 64 and data["fit_half"]["pairs"] > 0
    assert all(data["fit_half"]["by_set"][kind]["conflicts"] > 0
               for kind in ("number", "date", "role"))


def test_an_answer_whose_date_another_outlet_states_otherwise_cites_both(
        tmp_path: Path, make_assistant: Callable[..., Assistant]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, day in (("wire.txt", "March 3"), ("reprint.txt", "March 5")):
        (corpus / name).write_text(
            "Acme names a new chief executive\n\n"
            f"The board of Acme appointed Jane Roe as chief executive on {day}, the "
            "company said in a statement.\n\nRoe joined the maker of industrial pumps "
            "from a rival in 2015 and ran its European business.\n", encoding="utf-8")
    assistant = make_assistant()
    assistant.ingest(corpus)
    answer = assistant.ask("When did the board of Acme appoint Jane Roe as chief executive?")
    assert not answer.refused
    # Both sides are cited: the disagreement is said once.
    assert answer.text.count("Sources differ") == 1 and answer.text.count("March 3 [") == 1
    (conflict,) = answer.conflicts
    assert {conflict.cited_value, conflict.other_value} == {"March 3", "March 5"}
    assert (f"Sources differ: {conflict.cited_value} [{conflict.cited.marker}]; "
            f"{conflict.other_value} [{conflict.other.marker}].") in answer.text
