"""What a question asks for, and whether a sentence supplies it.

Similarity finds the sentence a question is *about*; it cannot tell whether that
sentence holds the *answer*. "How many peacekeepers were killed?" and "about 2,000 of
them were deployed" are close in meaning and share their words, yet the sentence gives
no death toll. So the offline answerer reads each question for its slot, the thing a
reply has to name (a count of something, a date at some precision, a person in some
role, a place), and accepts a sentence only when it holds a filler for that slot which
the question did not already give:

- *type*: a count for "how many", a span of time for "how long", money for "cost", a
  date (a day for "on what exact date", a month for "which month"), a name or body for
  "who", a place for "where";
- *novelty*: "last September" cannot answer "what date in last September…";
- *the counted thing*: "how many districts" needs a number of districts;
- *the role*: "Armenia's foreign minister" needs a foreign minister, not a prime minister;
- *the event*: a question about deaths, injuries, arrests, money, command, leadership,
  headquarters, sanctions or votes needs a sentence about that kind of event, whatever
  else it shares with the question;
- *the speaker*: "what did Hajiyev say" needs Hajiyev named in the sentence or next to
  it (a capital stands for its government: "Brussels" for the EU);
- *an instance, not the category*: "which Western powers" is not answered by a sentence
  that only says "Western powers";
- *the future*: "when will it close" needs a time stated for what will happen, not the
  date of something that did.

Each rule reads surface text: it can miss a filler phrased in a way it does not know
(then the question is refused, the safe failure), and it never invents one.

The question is read here (`read_question`); whether a sentence supplies its slot is
`gaps` in `rag.answer.fillers`; the word tables both read are `rag.answer.slot_words`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.slot_words import (
    CATEGORY_HEADS,
    COUNTED_GENERIC,
    EVENT_CLASSES,
    NOT_NAMES_OR_DATES,
    ROLE_EQUIVALENTS,
    ROLE_HEADS,
    TIME_UNIT,
    TITLE_HEADS,
    TOKEN,
    token_stems,
)
from rag.text.tokens import IRREGULAR_PAST
from rag.text.words import plain, undotted

_AUXILIARIES = frozenset(
    "is are was were do does did has have had can could will would should may might must "
    "shall".split())
_IRREGULAR_PLURALS = frozenset("men women children police personnel staff".split())
_FUTURE_QUESTION = re.compile(
    r"\b(?:will|shall|going to|(?:expected|scheduled|due|set|planned|slated) to|plans? to|"
    r"intends? to)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    """What a reply to one question has to name."""

    # why, count, duration, money, quantity, date, person, title, place, name, yesno
    # or what
    kind: str
    precision: str = ""  # for dates: day, month or year
    counted: str = ""  # "districts" in "how many districts"
    category: str = ""  # "powers" in "which Western powers"
    role: tuple[str, ...] = ()  # ("foreign", "minister") in "Armenia's foreign minister"
    future: bool = False
    events: frozenset[str] = frozenset()
    # Names the answer has to come from or be about: "Hajiyev" in "what did Hikmet Hajiyev
    # say", "Stano" in "what is Peter Stano's job"; any one of them will do.
    named: tuple[str, ...] = ()
    question: str = ""
    question_stems: tuple[str, ...] = field(default_factory=tuple)


def read_question(question: str) -> Slot:
    # A follow-up rewritten offline carries the previous question in parentheses; what is
    # asked for is the follow-up's own.
    # "U.S." is the name "US", not "U" and "S".
    text = undotted(question.split(" (", 1)[0]).strip()
    text = re.sub(r"^(?:and|but|so|also|roughly|approximately|about|exactly|precisely|just)\s+",
                  "", text, flags=re.IGNORECASE)
    low = plain(text)
    words = [w.lower() for w in TOKEN.findall(text)]
    # "Besides Moscow and Baku, which capital…", "According to X, how far…": the question
    # proper follows the comma.
    lead_in = re.match(r"(?:besides|apart from|aside from|other than|except for|according to|"
                       r"in|on|at|after|before|during|since|given)\b[^,?]*,\s*(?=(?:what|which|"
                       r"who|whom|whose|when|where|why|how)\b)", low)
    kind, precision, counted, category, role = _kind(low[lead_in.end():] if lead_in else low,
                                                     words)
    # "where does the corridor lead to" asks for a place, not a leader.
    asking = [w for i, w in enumerate(words)
              if not (w in {"lead", "leads"} and words[i + 1:i + 2] == ["to"])]
    events = frozenset(name for name, event in EVENT_CLASSES.items()
                       if any(w in event.asked_by for w in asking))
    future = bool(_FUTURE_QUESTION.search(low)) and kind in {"date", "place"}
    return Slot(kind=kind, precision=precision, counted=counted, category=category,
                role=role, future=future, events=events, named=_named(text), question=low,
                question_stems=tuple(token_stems(text)))


def _named(text: str) -> tuple[str, ...]:
    """The names in "what did X say/announce…" or "what is X's job": a sentence that does
    not mention X cannot report X's words or X's title."""
    match = re.match(r"(?:what|how) did (.+?) (?:say|tell|announce|claim|state|argue|write|"
                     r"warn|add|respond|react)\b", text, re.IGNORECASE) or re.match(
        r"what (?:is|was) (.+?)['’]s (?:job|title|position|role|post)\b", text, re.IGNORECASE)
    if not match:
        return ()
    return tuple(t for t in TOKEN.findall(match.group(1))
                 if t[:1].isupper() and t.lower() not in NOT_NAMES_OR_DATES)


def _kind(low: str, words: list[str]) -> tuple[str, str, str, str, tuple[str, ...]]:
    """(kind, date precision, counted noun, category head, role words)."""
    if (low.startswith("why") or " why " in low or "for what reason" in low
            or re.match(r"what (?:was|is|were|are) the (?:purpose|reason|cause|motive|point|aim|"
                        r"goal|objective)", low)
            or re.match(r"what (?:reason|reasons|motive|justification)\b", low)
            or re.match(r"what (?:triggered|caused|prompted|led to|drove|sparked)", low)):
        return "why", "", "", "", ()
    if re.match(r"how much\b", low):
        if EVENT_CLASSES["money"].asked_by & set(words):
            return "money", "", "", "", ()
        return "quantity", "", "", "", ()
    counted_match = re.match(r"(?:how many|what number of)\s+(.*)", low)
    if counted_match:
        counted = _counted_noun(counted_match.group(1))
        if TIME_UNIT.fullmatch(counted):
            return "duration", "", "", "", ()  # "how many months…"
        return "count", "", counted, "", ()
    if re.match(r"what (?:is|was) .+?['’]s (?:job|title|position|role|post)\b", low):
        return "title", "", "", "", ()
    if re.match(r"how long ago\b", low):
        return "date", "", "", "", ()
    if re.match(r"how long\b", low) or re.match(r"for how (?:long|many (?:days|weeks|months|"
                                                 r"years))", low):
        return "duration", "", "", "", ()
    if re.match(r"(?:how (?:large|big|old|far|high|tall|much)|what (?:percentage|share|"
                r"proportion|number|size|amount))\b", low):
        return "quantity", "", "", "", ()
    date_word = re.search(r"\b(?:what|which)\s+(?:exact\s+)?(date|day|month|year|time)\b", low)
    if low.startswith(("when", "since when", "until when")) or date_word:
        unit = date_word.group(1) if date_word else ""
        precision = {"date": "day", "day": "day", "month": "month", "year": "year"}.get(unit, "")
        if "exact" in low and not precision:
            precision = "day"
        return "date", precision, "", "", ()
    if low.startswith("where") or re.search(r"\b(?:in|to|from|at|near)\s+(?:which|what)\s+"
                                            r"(?:[\w-]+\s+){0,2}(?:city|country|town|region|"
                                            r"place|village|capital|base|port|province)\b", low):
        return "place", "", "", "", ()
    if low.startswith(("who", "whom", "whose")):
        return "person", "", "", "", _role_after_be(low)
    phrase = _which_phrase(low)
    if phrase and phrase[-1] in CATEGORY_HEADS:
        return "name", "", "", phrase[-1], _role_words(phrase)
    if phrase and (phrase[-1] in TITLE_HEADS or " ".join(phrase[-3:]) in ROLE_EQUIVALENTS):
        return "person", "", "", phrase[-1], _role_words(phrase)
    name_of = re.match(r"what (?:is|was|are|were) the (?:(?:official|full|exact) )?names? of\s+"
                       r"(.+?)(?:\s+(?:that|which|who|where|whose|under|in|at|by)\b.*)?\??$",
                       low) or re.match(
        # "What is Armenia's foreign minister's name?", "Name Armenia's foreign minister."
        r"(?:what (?:is|was|are|were) (.+?)['’]s? (?:(?:official|full|exact) )?names?|"
        r"name (.+?))\s*[?.!]?$", low)
    if name_of:
        phrase = next(g for g in name_of.groups() if g).rstrip("?").split()
        if phrase and phrase[-1] in ROLE_HEADS:
            return "person", "", "", "", _role_words(phrase)
        # The name of a thing sits next to its kind: "the road known as the Lachin
        # Corridor", not anywhere in the sentence.
        return "name", "", "", phrase[-1] if phrase else "", ()
    if words and words[0] in _AUXILIARIES:
        return "yesno", "", "", "", ()
    return "what", "", "", "", ()


def _counted_noun(rest: str) -> str:
    """The thing counted in "how many <rest>": the first plural among the next words
    ("how many surrounding districts did…", "how many Azerbaijani troops took…"), before
    any verb; "" when none is found (then any count will do)."""
    for word in re.findall(r"[\w\-'’,.]+", rest)[:6]:
        if word in _AUXILIARIES or word in IRREGULAR_PAST or word.endswith("ed"):
            break
        if word[:1].isdigit():
            continue  # "how many of the roughly 2,000 peacekeepers"
        if word in COUNTED_GENERIC or word in _IRREGULAR_PLURALS or (
                len(word) > 3 and word.endswith("s") and not word.endswith("ss")):
            return word
    return ""


def _which_phrase(low: str) -> list[str]:
    """The noun phrase of "which/what X …" up to its head, when the head names a role or a
    kind of thing ("which Western powers", "which Armenian head of government"); [] when
    no such head comes within five words."""
    match = re.match(r"(?:which|what)\s+(.*)", low)
    if not match:
        return []
    words = re.findall(r"[\w\-'.’]+", match.group(1))[:7]
    # The phrase ends at the verb: an auxiliary or a past form ("which State Department
    # official commented"); its head is the last role or kind word before it.
    phrase: list[str] = []
    for index, word in enumerate(words[:5]):
        if word in _AUXILIARIES or (index and word.endswith("ed")):
            break
        if " ".join(words[index:index + 3]) in ROLE_EQUIVALENTS:
            phrase = words[:index + 3]
        elif word in ROLE_HEADS and len(phrase) <= index:
            phrase = words[:index + 1]
    return phrase


def _role_after_be(low: str) -> tuple[str, ...]:
    """Role words of "who is/was (the) ROLE …" ("who is Armenia's foreign minister")."""
    match = re.match(r"who (?:is|was|are|were) (?:the |a |an )?(.+?)(?:\s+(?:of|in|at|for|who|"
                     r"that|\w+ed)\b.*)?\??$", low)
    if not match:
        return ()
    phrase = match.group(1).rstrip("?").split()
    if not phrase or phrase[-1] not in ROLE_HEADS:
        return ()
    return _role_words(phrase)


# Words of a role phrase that say how many or which, not what: "which two capitals".
_NOT_MODIFIERS = frozenset("the a an of other another both two three four several some main "
                           "key top".split())


def _role_words(phrase: list[str]) -> tuple[str, ...]:
    text = " ".join(phrase).rstrip("?")
    for role in ROLE_EQUIVALENTS:
        if text.endswith(role):
            modifiers = [w for w in text[: -len(role)].split() if w not in _NOT_MODIFIERS]
            return (*(w.replace("'s", "").replace("’s", "") for w in modifiers), role)
    words = [w.replace("'s", "").replace("’s", "") for w in text.split()
             if w not in _NOT_MODIFIERS]
    return tuple(w for w in words if w)
