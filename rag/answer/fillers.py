"""Whether a sentence supplies what a question asks for (`gaps`): the slot
`rag.answer.slots.read_question` read, checked against the sentence's fillers (dates,
numbers, spans of time, money, people, titles, names, places) and its event, role,
speaker and category words.
"""

from __future__ import annotations

import itertools
import re

from rag.answer.slot_words import (
    ALIASES,
    BODY_NOUNS,
    COUNTED_GENERIC,
    EVENT_CLASSES,
    GENERIC_HEADS,
    LETTER,
    NOT_NAMES_OR_DATES,
    ROLE_EQUIVALENTS,
    TIME_UNIT,
    TITLE_HEADS,
    TOKEN,
    contains_stem,
    same_stem,
    token_stems,
)
from rag.answer.slots import Slot
from rag.text.analysis import analyse
from rag.text.lexicon import MONTH_NAMES
from rag.text.tokens import stem
from rag.text.words import plain

_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|"
             r"November|December|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|"
             r"Dec\.)")
_WEEKDAY_RE = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# Date expressions by the finest precision they give.
_DAY_DATES = re.compile(
    rf"\b{_MONTH_RE}\s+[0-3]?\d(?:st|nd|rd|th)?\b|\b[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?"
    rf"{_MONTH_RE}|\b{_WEEKDAY_RE}\b|\b(?:yesterday|today|tomorrow)\b|\b\d{{4}}-\d\d-\d\d\b",
    re.IGNORECASE)
_MONTH_DATES = re.compile(
    rf"\b(?:(?:early|mid|late|last|this|next)[\s-]+)?{_MONTH_RE}(?:\s+(?:of\s+)?(?:19|20)\d\d)?",
    re.IGNORECASE)
_YEAR_DATES = re.compile(r"\b(?:(?:early|mid|late|in)\s+)?(?:19|20)\d\d\b")
_RELATIVE_DATES = re.compile(
    r"\b(?:(?:last|this|next|past|coming|following|previous)\s+(?:week|month|year|fall|autumn|"
    r"spring|summer|winter|weekend)|earlier this (?:week|month|year)|later this "
    r"(?:week|month|year)|the following year|the previous year)\b", re.IGNORECASE)
_NUMBER_WORDS = ("one two three four five six seven eight nine ten eleven twelve thirteen "
                 "fifteen twenty thirty forty fifty hundred hundreds thousand thousands "
                 "million millions billion billions dozen dozens score scores").split()
_NUMBER = re.compile(rf"\d[\d,.]*|\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_DURATION = re.compile(
    rf"(?:\b(?:a|an|\d[\d,.]*|{'|'.join(_NUMBER_WORDS)}|several|a few|few|many)[\s-]+"
    rf"(?:(?:and a half|full|more|long)[\s-]+)?{TIME_UNIT.pattern}\b(?:[\s-]long)?"
    r"|\bdecades?\b|\bovernight\b)", re.IGNORECASE)
_MONEY = re.compile(r"[$€£₽]\s?\d|\b\d[\d,.]*\s*(?:dollars?|euros?|rubles?|roubles?|pounds|"
                    r"yuan|yen|USD|EUR)\b|\b(?:dollars?|euros?|rubles?|roubles?)\b",
                    re.IGNORECASE)
_FUTURE_SENTENCE = re.compile(
    r"\b(?:will|would|shall|expected|expects|expect|scheduled|due to|plans?|planned|planning|"
    r"set to|slated|intends?|intended|next|upcoming|coming|by the end of|later this)\b",
    re.IGNORECASE)
# The words after a preposition, read without consuming them so that the next preposition
# ("from Örebro to Malmö") is found too; the place is their capitalised run (`_places`).
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|into|near|outside|inside|across|toward|towards)\s+"
                       rf"(?:the\s+)?(?=(?P<words>{LETTER}[\w’'\-]*(?:\s+{LETTER}[\w’'\-]*)*))")


def gaps(slot: Slot, sentence: str, context: str = "") -> list[str]:
    """Why `sentence` does not answer the question `slot` was read from; empty when it
    holds a filler for the slot. Each entry is a short reason, for reports and tests.
    `context` is the passage around the sentence: a quote is often attributed in the
    sentence before or after it, so the speaker is looked for there too."""
    stems = token_stems(sentence)
    lowered = sentence.lower()
    missing: list[str] = []
    words = {w.lower() for w in TOKEN.findall(sentence)}
    for event in sorted(slot.events):
        if not EVENT_CLASSES[event].reported_by & words and not (
                event == "money" and _MONEY.search(sentence)):
            missing.append(f"says nothing of {event}")
    if slot.named and not _mentions_any(token_stems(context) if context else stems, slot.named,
                                        context or sentence):
        missing.append(f"does not mention {' '.join(slot.named)}")
    if slot.role and not _has_role(slot.role, stems, lowered):
        *modifiers, head = slot.role
        missing.append(f"names no {head}" + (f" ({' '.join(modifiers)})" if modifiers else ""))
    if slot.category and _bare_category(slot, sentence):
        missing.append(f"names the {slot.category} only as a category")
    filler = _fillers(slot, sentence)
    if filler is not None and not filler:
        missing.append(f"holds no new {slot.precision or ''} {slot.kind}".replace("  ", " "))
    return missing


def _mentions_any(stems: list[str], names: tuple[str, ...], text: str = "") -> bool:
    # An acronym is also the initials of a capitalised run: "US" in "United States".
    initials = analyse(text).words if text and any(n.isupper() for n in names) else ()
    return any(contains_stem(stems, name) or any(contains_stem(stems, alias)
                                                 for alias in ALIASES.get(name.lower(), ()))
               or (name.isupper() and name.lower() in initials)
               for name in names)


def _fillers(slot: Slot, sentence: str) -> list[str] | None:
    """The sentence's candidate answers for the slot, minus what the question gave; None
    when the slot has no checkable filler (why, what, yes/no questions)."""
    if slot.kind == "date":
        found = _dates(sentence, slot.precision)
    elif slot.kind == "duration":
        found = [m.group(0) for m in _DURATION.finditer(sentence)]
    elif slot.kind == "money":
        found = [m.group(0) for m in _MONEY.finditer(sentence)]
    elif slot.kind == "count":
        found = _counts(sentence, slot.counted)
    elif slot.kind == "quantity":
        found = [m.group(0) for m in _NUMBER.finditer(sentence)]
    elif slot.kind == "person":
        found = _people(sentence)
    elif slot.kind == "title":
        found = [t for t in TOKEN.findall(sentence) if t.lower() in TITLE_HEADS]
    elif slot.kind == "name":
        found = _names(sentence)
    elif slot.kind == "place":
        found = _places(sentence)
    else:
        return None
    novel = [f for f in found if not _given(slot, f)]
    if slot.kind == "date":
        novel = [f for f in novel if _agrees_in_month(slot.question, f)]
    if slot.future:
        novel = [f for f in novel if _after_future_marker(sentence, f)]
    return novel


def _given(slot: Slot, filler: str) -> bool:
    """Whether the question already says `filler` (so it cannot be the answer)."""
    if re.search(rf"(?<!\w){re.escape(plain(filler))}(?!\w)", slot.question):
        return True
    # Exact stems: "Armenia" answers "where did the Armenians go", though the two share
    # a stem for every other purpose here.
    filler_stems = [s for s in token_stems(filler) if s not in NOT_NAMES_OR_DATES]
    return bool(filler_stems) and all(f in slot.question_stems for f in filler_stems)


def _agrees_in_month(question: str, date: str) -> bool:
    """"What day last September…" is not answered by "April 17": a date the question
    places in a month must fall in it."""
    asked = {m for m in MONTH_NAMES if re.search(rf"\b{m}\b", question)}
    given = {m for m in MONTH_NAMES if re.search(rf"\b{m}\b", date.lower())}
    return not asked or not given or bool(asked & given)


def _dates(sentence: str, precision: str) -> list[str]:
    patterns = {"day": [_DAY_DATES], "month": [_DAY_DATES, _MONTH_DATES],
                "year": [_DAY_DATES, _MONTH_DATES, _YEAR_DATES]}.get(
        precision, [_DAY_DATES, _MONTH_DATES, _YEAR_DATES, _RELATIVE_DATES])
    found = [m.group(0) for pattern in patterns for m in pattern.finditer(sentence)]
    if precision == "year":
        found = [f for f in found if re.search(r"\d{4}", f)]
    return found


def _counts(sentence: str, counted: str) -> list[str]:
    """Numbers that count something, with the thing they count when `counted` is given:
    not years, dates or spans of time."""
    found = []
    for match in _NUMBER.finditer(sentence):
        number = match.group(0)
        after = sentence[match.end():match.end() + 60]
        before = sentence[max(0, match.start() - 12):match.start()]
        if re.fullmatch(r"(?:19|20)\d\d", number) or re.match(r"\s*[-\s]?" + TIME_UNIT.pattern,
                                                               after, re.IGNORECASE):
            continue
        if re.search(_MONTH_RE + r"\s*$", before):
            continue  # "April 17"
        if counted and counted not in COUNTED_GENERIC and not _counts_thing(
                sentence, match.start(), after, counted):
            continue
        found.append(number)
    return found


def _counts_thing(sentence: str, start: int, after: str, counted: str) -> bool:
    """Whether the number at `start` counts `counted`: "seven districts", "a dozen ethnic
    Armenians", or "2,000 of them" after the thing was named earlier in the sentence."""
    following = token_stems(after)[:4]
    if any(same_stem(stem(counted), s) for s in following):
        return True
    if re.match(r"\s*of\s+(?:them|those|whom|which)\b", after):
        return contains_stem(token_stems(sentence[:start]), counted)
    return False


def _places(sentence: str) -> list[str]:
    places = []
    for match in _LOCATIVE.finditer(sentence):
        run = itertools.takewhile(lambda w: w[0].isupper(), match.group("words").split())
        places.append(" ".join(run))
    return [p for p in places if p]


def _names(sentence: str) -> list[str]:
    return [t for t in TOKEN.findall(sentence)[1:]
            if t[:1].isupper() and t.lower() not in NOT_NAMES_OR_DATES]


def _people(sentence: str) -> list[str]:
    """Names of people or bodies: runs of two or more capitalised words ("Peter Stano",
    "Department of State"), a capitalised word before a body noun ("Turan news agency"),
    or a body noun phrase ("the leaders of both countries", "defense ministries")."""
    tokens = TOKEN.findall(sentence)
    found: list[str] = []
    run: list[str] = []
    for token in [*tokens, "."]:
        if (token[:1].isupper() and token.lower() not in NOT_NAMES_OR_DATES
                and not token[:1].isdigit()):
            run.append(token)
            continue
        if len(run) >= 2:
            found.append(" ".join(run))
        run = []
    for index, token in enumerate(tokens):
        lowered = token.lower()
        if lowered in BODY_NOUNS:
            found.append(" ".join(tokens[max(0, index - 2):index + 1]))
        elif (token[:1].isupper() and index + 1 < len(tokens)
              and lowered not in NOT_NAMES_OR_DATES
              and tokens[index + 1].lower() in {"news", "agency", "media", "newspaper",
                                                "television", "radio", "ministry"}):
            found.append(token)
    return found


def _has_role(role: tuple[str, ...], stems: list[str], lowered: str) -> bool:
    *modifiers, head = role
    if head in ROLE_EQUIVALENTS:
        if not any(re.search(rf"\b{re.escape(t)}", lowered) for t in ROLE_EQUIVALENTS[head]):
            return False
    elif head not in GENERIC_HEADS and not contains_stem(stems, head):
        return False
    return all(contains_stem(stems, m) for m in modifiers if m not in GENERIC_HEADS)


def _bare_category(slot: Slot, sentence: str) -> bool:
    """Whether the sentence names the asked-for category ("Western powers") with no name
    of its own next to it ("France and Britain", "Turan news agency")."""
    tokens = TOKEN.findall(sentence)
    positions = [i for i, t in enumerate(tokens) if same_stem(stem(t), stem(slot.category))]
    if not positions:
        return False
    for position in positions:
        # Before it as in "Turan news agency" or "Hikmet Hajiyev, … aide"; right after it as
        # in "Western powers, France and Germany" ("agreement also including Yerevan" names
        # a party, not the agreement).
        after = tokens[position + 1:position + 3]
        if [t.lower() for t in after] in (["known", "as"], ["called", "the"]) or (
                after[:1] and after[0].lower() in {"called", "named", "dubbed"}):
            after = tokens[position + 1:position + 6]  # "the road known as the Lachin Corridor"
        # A sentence's first word is capitalised whatever it is.
        window = tokens[max(1, position - 6):position] + after
        if any(t[:1].isupper() and t.lower() not in NOT_NAMES_OR_DATES and not _given(slot, t)
               for t in window):
            return False
    return True


def _after_future_marker(sentence: str, filler: str) -> bool:
    """Whether `filler` sits after a word that speaks of the future ("will close in May"),
    rather than dating something that already happened."""
    at = sentence.find(filler)
    marker = _FUTURE_SENTENCE.search(sentence)
    return marker is not None and at >= marker.end()
