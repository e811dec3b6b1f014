"""The values sources can disagree on besides figures, as `rag.verify.conflicts` reads
them before any sentence is embedded: calendar dates (`rag.text.dates`) and people named
by a title (`rag.verify.roles`), and which pairs of them are candidates."""

from __future__ import annotations

import pytest

from rag.schema import Passage
from rag.text.dates import date_mentions
from rag.verify.conflicts import candidates
from rag.verify.roles import role_mentions


@pytest.mark.parametrize(("text", "dates"), [
    ("He was appointed on March 3.", [("March 3", None, 3, 3)]),
    ("On Oct. 12, 2023, Israel warned residents.", [("Oct. 12, 2023", 2023, 10, 12)]),
    ("She accepted on 24 September.", [("24 September", None, 9, 24)]),
    ("The results to the end of March 2023 were late.", [("March 2023", 2023, 3, None)]),
    ("It opened on the 3rd of March.", [("3rd of March", None, 3, 3)]),
    ("Shows were sold out in May and in June.", [("May", None, 5, None),
                                                 ("June", None, 6, None)]),
    ("She accepted on 24 May.", [("24 May", None, 5, 24)]),
    ("It may rain, and the march went on.", []),
    ("Deliveries run through September 31.", []),  # no such day
    ("They counted 42 August visitors.", []),
])
def test_dates_are_read_with_their_values(text: str,
                                          dates: list[tuple[str, int | None, int, int | None]]
                                          ) -> None:
    assert [(d.surface, d.year, d.month, d.day) for d in date_mentions(text)] == dates


def test_dates_agree_on_every_field_both_state() -> None:
    (march_3,) = date_mentions("on March 3")
    (with_year,) = date_mentions("on March 3, 2023")
    (march_5,) = date_mentions("on March 5")
    (april_3,) = date_mentions("on April 3")
    assert march_3.agrees(with_year)
    assert not march_3.agrees(march_5) and not march_3.agrees(april_3)


@pytest.mark.parametrize(("text", "found"), [
    ("Chief executive John Doe said on Monday.", [("John Doe", "chief executive", "")]),
    ("The company's chief executive, Jane Roe, said.", [("Jane Roe", "chief executive",
                                                          "compani")]),
    ("Jane Roe, Acme's CEO, said.", [("Jane Roe", "chief executive", "acm")]),
    ("Israeli Prime Minister Benjamin Netanyahu said.", [("Benjamin Netanyahu",
                                                          "prime minister", "isra")]),
    ("Head coach Sean Payton elected to kick.", [("Sean Payton", "coach", "")]),
    ("The Big Ten suspended coach Jim Harbaugh.", [("Jim Harbaugh", "coach", "")]),
    ("CEO Hirsch announced it.", []),  # one word: not read as a name
    ("He was head of the New York Police Department.", []),
])
def test_people_named_by_a_title_are_read(text: str, found: list[tuple[str, str, str]]
                                          ) -> None:
    assert [(r.name, r.role, r.owner) for r in role_mentions(text)] == found


def _kinds(cited: str, other: str) -> list[tuple[str, str, str]]:
    passage = Passage(doc_id="b", text=other, start=0, end=len(other), score=1.0)
    return [(c.kind, c.cited_value, c.other_value) for c in candidates(cited, "a", [passage])]


APPOINTED = "The board appointed Jane Roe as chief executive on March 3, the company said."
CLOSING = "The company's chief executive, Jane Roe, said the plant in Ohio would close."


def test_another_date_is_a_date_candidate_not_a_number_one() -> None:
    assert _kinds(APPOINTED, APPOINTED.replace("March 3", "March 5")) == [
        ("date", "March 3", "March 5")]
    assert _kinds(APPOINTED, APPOINTED.replace("March 3", "April 3")) == [
        ("date", "March 3", "April 3")]
    assert _kinds(APPOINTED, APPOINTED.replace("March 3", "3 March")) == []


def test_another_name_for_the_post_is_a_role_candidate() -> None:
    other = "Chief executive John Doe said the plant in Ohio would close."
    assert _kinds(CLOSING, other) == [("role", "Jane Roe", "John Doe")]
    assert _kinds(CLOSING, other.replace("John Doe", "Jane Roe")) == []
    assert _kinds(CLOSING, other.replace("Chief executive", "Chairman")) == []
    assert _kinds(CLOSING, other.replace("Chief executive", "Former chief executive")) == []
    assert _kinds("Acme CEO Jane Roe said the plant would close.",
                  "Globex CEO John Doe said the plant would close.") == []


def test_a_name_for_the_post_in_a_sentence_with_other_figures_is_no_candidate() -> None:
    cited = "CEO Jane Roe said revenue rose 5 percent in the quarter."
    assert _kinds(cited, "CEO John Doe said revenue rose 5 percent in the quarter.") == [
        ("role", "Jane Roe", "John Doe")]
    assert ("role", "Jane Roe", "John Doe") not in _kinds(
        cited, "CEO John Doe said revenue rose 7 percent in the quarter.")


def test_one_surname_is_one_person_and_a_title_with_a_modifier_another_post() -> None:
    (roe,) = role_mentions("Chief executive Jane Roe said.")
    (initial,) = role_mentions("Chief executive Jane A. Roe said.")
    (doe,) = role_mentions("Chief executive John Doe said.")
    (former,) = role_mentions("Former chief executive John Doe said.")
    assert roe.same_person(initial) and not roe.same_person(doe)
    assert roe.same_post(doe) and not roe.same_post(former)
