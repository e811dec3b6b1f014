"""What a question asks for (rag.answer.slots), and whether a sentence supplies it
(rag.answer.fillers)."""

from __future__ import annotations

import pytest

from rag import Assistant
from rag.answer.extractive import key_entities
from rag.answer.fillers import gaps
from rag.answer.slots import read_question


@pytest.mark.parametrize(("question", "kind", "precision"), [
    ("How many people were arrested in Paris?", "count", ""),
    ("How long did the strike last?", "duration", ""),
    ("How much did the bridge cost?", "money", ""),
    ("How large was the crowd?", "quantity", ""),
    ("On what exact date was the treaty signed?", "date", "day"),
    ("In which month did the talks resume?", "date", "month"),
    ("What year did the plant open?", "date", "year"),
    ("Since when has the embargo been in force?", "date", ""),
    ("Who is Spain's foreign minister?", "person", ""),
    ("Which news agency first reported the deal?", "person", ""),
    ("Which country hosted the summit?", "name", ""),
    ("Besides Paris and Berlin, which capital signed the accord?", "name", ""),
    ("Apart from the harbour, where else did the storm cause damage?", "place", ""),
    ("What is Jane Doe's job title?", "title", ""),
    ("Why did the minister resign?", "why", ""),
    ("What prompted the evacuation?", "why", ""),
    ("Did the court uphold the ruling?", "yesno", ""),
    ("What did the report recommend?", "what", ""),
])
def test_questions_are_read_for_the_kind_of_answer_they_need(question: str, kind: str,
                                                              precision: str) -> None:
    slot = read_question(question)
    assert (slot.kind, slot.precision) == (kind, precision)


def test_a_count_of_the_wrong_thing_does_not_answer() -> None:
    slot = read_question("How many districts did the army recapture?")
    assert slot.counted == "districts"
    assert gaps(slot, "The army recaptured all seven districts around the city.") == []
    assert gaps(slot, "About 2,000 soldiers took part in the operation.")
    # "2,000 of them" counts whatever the sentence named before it.
    troops = read_question("How many soldiers were deployed?")
    assert gaps(troops, "Soldiers arrived in May, and about 2,000 of them were deployed.") == []
    assert gaps(troops, "Villages emptied in May, and about 2,000 of them were shelled.")


def test_years_dates_and_spans_of_time_are_not_counts() -> None:
    slot = read_question("How many refugees crossed the border?")
    assert gaps(slot, "Refugees crossed the border in 2022 over five weeks on April 17.")
    assert gaps(slot, "More than 100,000 refugees crossed the border in 2022.") == []


def test_a_question_about_deaths_needs_a_sentence_about_deaths() -> None:
    slot = read_question("How many peacekeepers were killed during the mission?")
    assert "death" in slot.events
    reasons = gaps(slot, "About 2,000 peacekeepers were deployed during the mission.")
    assert any("death" in reason for reason in reasons)
    assert gaps(slot, "Twelve peacekeepers died during the mission.") == []


def test_cost_needs_money_and_paid_tribute_is_not_money() -> None:
    slot = read_question("How much did the new stadium cost?")
    assert gaps(slot, "The new stadium cost $1.2 billion.") == []
    assert gaps(slot, "Fans paid tribute at the new stadium, which seats 60,000.")


def test_a_date_the_question_already_gives_is_no_answer() -> None:
    slot = read_question("On what exact date did the offensive begin last September?")
    assert gaps(slot, "The offensive began last September.")
    assert gaps(slot, "The ceasefire was confirmed on April 17, after the offensive.")
    assert gaps(slot, "The offensive began on September 19, last September.") == []


def test_date_precision() -> None:
    month = read_question("In which month did the talks resume?")
    assert gaps(month, "The talks resumed in late 2022.")
    assert gaps(month, "The talks resumed last March.") == []


def test_a_future_question_needs_the_time_of_what_will_happen() -> None:
    slot = read_question("When will the monitoring centre close?")
    assert slot.future
    # A date for something that already happened, next to a "would".
    assert gaps(slot, "The centre, set up in January 2021, would also close.")
    assert gaps(slot, "The centre will close in March 2025.") == []


def test_the_role_must_match_not_just_any_title() -> None:
    slot = read_question("Who is Armenia's foreign minister?")
    assert gaps(slot, "Armenian Prime Minister Nikol Pashinian spoke on Tuesday.")
    assert gaps(slot, "Armenian Foreign Minister Ararat Mirzoyan spoke on Tuesday.") == []
    government = read_question("Which Armenian head of government did Moscow blame?")
    assert gaps(government, "Moscow blamed Armenian Prime Minister Nikol Pashinian.") == []


def test_a_category_named_without_an_instance_does_not_answer() -> None:
    slot = read_question("Which Western powers mediated the talks?")
    assert gaps(slot, "The talks were mediated by Western powers, a diplomat said.")
    assert gaps(slot, "The talks were mediated by Western powers, France and Germany.") == []


def test_reported_speech_needs_its_speaker_nearby() -> None:
    slot = read_question("What did Hikmet Hajiyev say about the monitoring centre?")
    quote = "The centre would cease its activities."
    assert gaps(slot, quote, context=f"Turkish sources spoke. {quote} Others disagreed.")
    assert gaps(slot, quote, context=f"{quote} Hajiyev said on Monday.") == []
    # A capital stands for its government.
    brussels = read_question("How did Brussels respond to the pullout?")
    assert gaps(brussels, "We take note, the EU spokesperson said.") == []


def test_why_and_what_questions_have_no_shape_to_check() -> None:
    assert gaps(read_question("Why did the talks fail?"), "Talks failed.") == []
    assert gaps(read_question("What did the report recommend?"), "It said little.") == []


def test_a_refusal_says_why(seed_assistant: Assistant) -> None:
    killed = seed_assistant.ask("How many Russian peacekeepers were killed in Karabakh?")
    assert killed.refused and killed.reason and "death" in killed.reason
    absent = seed_assistant.ask("What did China say about the withdrawal?")
    assert absent.refused and absent.reason == "no passage mentions China"
    answered = seed_assistant.ask("How many Armenians left Nagorno-Karabakh?")
    assert not answered.refused and answered.reason is None
    assert "100,000" in answered.citations[0].quote


def test_the_counted_thing_is_found_before_any_verb() -> None:
    assert read_question("How many Azerbaijani troops took part in the raid?").counted == "troops"
    assert read_question("How many surrounding districts did Baku regain?").counted == "districts"
    assert read_question("How many were there?").counted == ""


def test_words_that_look_like_events_but_are_not() -> None:
    assert read_question("Where does the Lachin Corridor lead to?").events == frozenset()
    assert read_question("Who leads the delegation?").events == {"leadership"}
    ended = read_question("When did the blockade end?")
    assert gaps(ended, "The blockade began in December 2022.")
    assert gaps(ended, "The blockade was lifted in September 2023.") == []


def test_how_many_or_which_is_not_part_of_the_role() -> None:
    slot = read_question("Which two capitals confirmed the pullout?")
    assert slot.kind == "name" and slot.role == ("capitals",)
    assert gaps(slot, "Moscow and Baku confirmed the pullout on April 17.") == []


def test_a_leading_adverb_does_not_hide_the_question() -> None:
    assert read_question("Roughly how big was the population?").kind == "quantity"
    assert key_entities("Roughly how big was Karabakh's population?") == [("karabakh",
                                                                           "Karabakh's")]


def test_a_capitalised_common_word_opening_a_question_is_no_name() -> None:
    # Words the Punkt model saw in lower case mid-sentence (rag/text/lower_case_words.txt).
    assert key_entities("Due to what did Moscow recall its troops?") == [("moscow", "Moscow")]
    assert key_entities("Lots of Armenians left; where did they go?") == [("armenian",
                                                                           "Armenians")]
    assert [w for _, w in key_entities("Former officials in Baku said what?")] == ["Baku"]
    # A name opening a question is still a name: Punkt never saw it in lower case.
    assert [w for _, w in key_entities("Pashinian said what to Moscow?")] == ["Pashinian",
                                                                               "Moscow"]


def test_more_question_shapes() -> None:
    assert read_question("What did the EU's lead spokesperson say?").events == frozenset()
    assert read_question("How many refugees have returned home?").events == {"return"}
    assert read_question("How many months did the siege last?").kind == "duration"
    assert read_question("How many of the roughly 2,000 troops were wounded?").counted == "troops"
    assert read_question("From which military base did the troops deploy?").kind == "place"
    assert read_question("What reason did Baku give for the offensive?").kind == "why"
    journalist = read_question("Which Turan news agency journalist interviewed Stano?")
    assert journalist.role[-1] == "journalist"
    assert gaps(journalist, "Stano spoke to Azerbaijan’s Turan news agency on Thursday.")


def test_the_instance_sits_next_to_its_category() -> None:
    name = read_question("What is the official name of the ceasefire agreement?")
    assert (name.kind, name.category) == ("name", "agreement")
    assert gaps(name, "Troops came under a ceasefire agreement also including Yerevan.")
    road = read_question("What is the name of the road that links Karabakh to Armenia?")
    assert gaps(road, "Azerbaijan took the road known as the Lachin Corridor in 2022.") == []


@pytest.mark.parametrize("text", [
    "The U.S. State Department said it was not party to the deal.",
    "The United States said it was not party to the deal.",
    "The US said it was not party to the deal.",
])
def test_us_u_s_and_the_united_states_name_one_country(text: str) -> None:
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.schema import Passage

    for question in ("What did the US say about the deal?",
                     "What did the U.S. say about the deal?"):
        assert key_entities(question) == [("us", "US")]
        assert not any("mention" in gap for gap in gaps(read_question(question), text))
        passage = Passage(doc_id="d", text=text, start=0, end=len(text), score=1.0)
        # The refusal "no passage mentions US" reads no embedder.
        assert ExtractiveAnswerer.__new__(ExtractiveAnswerer)._missing_key(
            question, [passage]) is None
    assert ExtractiveAnswerer.__new__(ExtractiveAnswerer)._missing_key(
        "What did the UK say about the deal?",
        [Passage(doc_id="d", text=text, start=0, end=len(text), score=1.0)]) == "UK"
