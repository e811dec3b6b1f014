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
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from rag.text.lexicon import MONTH_NAMES
from rag.text.tokens import IRREGULAR_PAST, stem
from rag.text.words import plain

# A letter of any script: "Jürgen", "Łukasz" and "Yılmaz" are names too.
LETTER = r"[^\W\d_]"
_TOKEN = re.compile(rf"{LETTER}(?:{LETTER}|['’\-.])*{LETTER}|{LETTER}|\d[\d,.]*\d|\d|[$€£₽%]")
_AUXILIARIES = frozenset(
    "is are was were do does did has have had can could will would should may might must "
    "shall".split())
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
_TIME_UNIT = re.compile(r"(?:second|minute|hour|day|week|fortnight|month|year|decade|century)s?",
                        re.IGNORECASE)
_DURATION = re.compile(
    rf"(?:\b(?:a|an|\d[\d,.]*|{'|'.join(_NUMBER_WORDS)}|several|a few|few|many)[\s-]+"
    rf"(?:(?:and a half|full|more|long)[\s-]+)?{_TIME_UNIT.pattern}\b(?:[\s-]long)?"
    r"|\bdecades?\b|\bovernight\b)", re.IGNORECASE)
_MONEY = re.compile(r"[$€£₽]\s?\d|\b\d[\d,.]*\s*(?:dollars?|euros?|rubles?|roubles?|pounds|"
                    r"yuan|yen|USD|EUR)\b|\b(?:dollars?|euros?|rubles?|roubles?)\b",
                    re.IGNORECASE)
@dataclass(frozen=True)
class EventClass:
    asked_by: frozenset[str]  # question words that ask about the event
    reported_by: frozenset[str]  # sentence words that report it


def _event(asked: str, also_reported: str = "", not_reported: str = "") -> EventClass:
    return EventClass(frozenset(asked.split()),
                      frozenset(asked.split()) - frozenset(not_reported.split())
                      | frozenset(also_reported.split()))


_COMMAND = "command commands commanded commander commanders commanding"
# The events a number, a date or a name is usually asked about in news: a sentence can
# only answer "how many were killed" if it speaks of killing, however much else it shares
# with the question. Some words only work one way: "paid tribute" reports no payment,
# and "what led to" asks for a cause, not a leader.
EVENT_CLASSES: dict[str, EventClass] = {
    "death": _event("kill killed killing killings die died dies dying dead death deaths "
                    "fatalities fatality fatal casualties casualty perished perish toll "
                    "massacre massacred murdered"),
    "injury": _event("injured injury injuries wounded wounding hurt casualties casualty "
                     "hospitalised hospitalized"),
    "arrest": _event("arrest arrested arrests detained detention detain jailed jail "
                     "imprisoned custody"),
    "money": _event("cost costs costly spent spend spending paid pay payment price priced "
                    "budget funding funded fund worth expense expenses",
                    also_reported="dollars dollar euros euro rubles roubles pounds yuan yen",
                    not_reported="pay fund worth"),
    "command": _event(_COMMAND),
    # Not "lead", neither asked nor reported: "the EU's lead spokesperson" names a rank,
    # not who leads.
    "leadership": _event("leads leader leaders leadership heads",
                         also_reported=f"led head headed chief chairman chairs {_COMMAND}"),
    "base": _event("headquartered headquarters hq", also_reported="based base"),
    "start": _event("begin began begun start started launch launched commence commenced",
                    also_reported="beginning starts launching"),
    "end": _event("end ended ending lifted finish finished conclude concluded",
                  also_reported="ends over ceased halted"),
    "return": _event("return returned returning returns returnee returnees",
                     also_reported="back"),
    "signing": _event("sign signed signing", also_reported="signatory signatories inked"),
    "sanction": _event("sanction sanctions sanctioned embargo embargoes penalty penalties "
                       "penalised penalized"),
    "vote": _event("vote votes voted voting ballot elected election elections referendum"),
}
# A question can name the head of a role by its function; a sentence usually by title.
ROLE_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "head of government": ("prime minister", "premier", "chancellor"),
    "head of state": ("president", "king", "queen", "monarch", "emir", "sultan"),
    "foreign minister": ("foreign minister", "foreign secretary", "secretary of state"),
    "defence minister": ("defence minister", "defense minister", "defence secretary",
                         "defense secretary"),
    "defense minister": ("defence minister", "defense minister", "defence secretary",
                         "defense secretary"),
}
# Titles a sentence states in words: "which aide" needs an aide.
TITLE_HEADS = frozenset(
    "minister ministers spokesperson spokesman spokeswoman aide aides adviser advisor advisers "
    "president commander ambassador secretary chief head leader leaders director governor "
    "mayor general envoy official officials premier chancellor king queen judge prosecutor "
    "negotiator mediator representative deputy agency agencies ministry ministries department "
    "court parliament army government outlet newspaper channel broadcaster journalist "
    "journalists reporter reporters correspondent editor analyst analysts officer officers "
    "commander commanders".split())
# Kinds of thing a sentence names without the kind's word: "which country" is answered
# by "Turkey", which no sentence calls a country.
CATEGORY_HEADS = frozenset(
    "country countries power powers nation nations state states capital capitals city cities "
    "company companies firm firms organisation organization organisations organizations "
    "group groups party parties body bodies person people".split())
ROLE_HEADS = TITLE_HEADS | CATEGORY_HEADS
# Heads that say "someone official" without narrowing who: only their modifiers must match.
_GENERIC_HEADS = frozenset("official officials representative".split()) | CATEGORY_HEADS
_BODY_NOUNS = frozenset(
    "leader leaders official officials government governments ministry ministries agency "
    "agencies department council parliament court army military media authorities "
    "president minister ministers spokesperson spokesman aide envoy commander police "
    "prosecutors company peacekeepers troops forces soldiers".split())
# Capitalised words that are not names.
# Words capitalised only because a sentence or question starts with them: never a name.
NOT_NAMES = frozenset(
    "the a an and or but in on at of for to by with from as it its this that these those "
    "he she they we i you his her their our what which who whom whose when where why how "
    "is are was were did does do has have had can could will would should beyond after "
    "before during since until while if though although however meanwhile also frankly "
    "according citing commenting official between tell explain describe name list besides "
    "apart aside other except given despite following amid under please kindly thanks thank "
    "summarize summarise give show find identify provide outline clarify specify remind "
    "help".split())
# In a sentence a month or a weekday is a date, not a name; in a question it is a key the
# passages must mention.
_NOT_NAMES = NOT_NAMES | frozenset(MONTH_NAMES) | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split())
_COUNTED_GENERIC = frozenset("people persons individuals times".split())
_IRREGULAR_PLURALS = frozenset("men women children police personnel staff".split())
_FUTURE_QUESTION = re.compile(
    r"\b(?:will|shall|going to|(?:expected|scheduled|due|set|planned|slated) to|plans? to|"
    r"intends? to)\b", re.IGNORECASE)
_FUTURE_SENTENCE = re.compile(
    r"\b(?:will|would|shall|expected|expects|expect|scheduled|due to|plans?|planned|planning|"
    r"set to|slated|intends?|intended|next|upcoming|coming|by the end of|later this)\b",
    re.IGNORECASE)
# The words after a preposition, read without consuming them so that the next preposition
# ("from Örebro to Malmö") is found too; the place is their capitalised run (`_places`).
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|into|near|outside|inside|across|toward|towards)\s+"
                       rf"(?:the\s+)?(?=(?P<words>{LETTER}[\w’'\-]*(?:\s+{LETTER}[\w’'\-]*)*))")


# Other names news uses for a country: its capital or seat of government. A question
# about "the Kremlin" is about Russia even when the article only says "Moscow" or "Russia".
ALIASES: dict[str, tuple[str, ...]] = {
    "kremlin": ("russia", "moscow"), "pentagon": ("us", "u.s", "america", "washington"),
    "washington": ("us", "u.s", "america"), "whitehall": ("britain", "uk", "london"),
    "elysee": ("france", "paris"), "moscow": ("russia", "kremlin"), "beijing": ("china",),
    "brussels": ("eu", "european"), "kyiv": ("ukraine",), "kiev": ("ukraine",),
    "yerevan": ("armenia",), "baku": ("azerbaijan",), "ankara": ("turkey",),
    "tehran": ("iran",), "jerusalem": ("israel",), "berlin": ("germany",),
    "tokyo": ("japan",), "seoul": ("korea",), "pyongyang": ("korea",), "taipei": ("taiwan",),
    "london": ("britain", "uk"), "paris": ("france",), "rome": ("italy",),
    "madrid": ("spain",),
}

def _stems(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text)]


def _same(a: str, b: str) -> bool:
    """Stems naming the same thing: equal, or a shared stem of five letters or more
    ("Azerbaijan"/"Azerbaijani", "Armenia"/"Armenian")."""
    if a == b:
        return True
    return len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5] and abs(len(a) - len(b)) <= 3 and (
        a.startswith(b) or b.startswith(a))


def _contains(stems: list[str], word: str) -> bool:
    target = stem(word)
    return any(_same(target, s) for s in stems)


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
    text = question.split(" (", 1)[0].strip()
    text = re.sub(r"^(?:and|but|so|also|roughly|approximately|about|exactly|precisely|just)\s+",
                  "", text, flags=re.IGNORECASE)
    low = plain(text)
    words = [w.lower() for w in _TOKEN.findall(text)]
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
                question_stems=tuple(_stems(text)))


def _named(text: str) -> tuple[str, ...]:
    """The names in "what did X say/announce…" or "what is X's job": a sentence that does
    not mention X cannot report X's words or X's title."""
    match = re.match(r"(?:what|how) did (.+?) (?:say|tell|announce|claim|state|argue|write|"
                     r"warn|add|respond|react)\b", text, re.IGNORECASE) or re.match(
        r"what (?:is|was) (.+?)['’]s (?:job|title|position|role|post)\b", text, re.IGNORECASE)
    if not match:
        return ()
    return tuple(t for t in _TOKEN.findall(match.group(1))
                 if t[:1].isupper() and t.lower() not in _NOT_NAMES)


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
        if _TIME_UNIT.fullmatch(counted):
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
        if word in _COUNTED_GENERIC or word in _IRREGULAR_PLURALS or (
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


# -- does a sentence supply the slot? -----------------------------------------------


def gaps(slot: Slot, sentence: str, context: str = "") -> list[str]:
    """Why `sentence` does not answer the question `slot` was read from; empty when it
    holds a filler for the slot. Each entry is a short reason, for reports and tests.
    `context` is the passage around the sentence: a quote is often attributed in the
    sentence before or after it, so the speaker is looked for there too."""
    stems = _stems(sentence)
    lowered = sentence.lower()
    missing: list[str] = []
    words = {w.lower() for w in _TOKEN.findall(sentence)}
    for event in sorted(slot.events):
        if not EVENT_CLASSES[event].reported_by & words and not (
                event == "money" and _MONEY.search(sentence)):
            missing.append(f"says nothing of {event}")
    if slot.named and not _mentions_any(_stems(context) if context else stems, slot.named):
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


def _mentions_any(stems: list[str], names: tuple[str, ...]) -> bool:
    return any(_contains(stems, name) or any(_contains(stems, alias)
                                             for alias in ALIASES.get(name.lower(), ()))
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
        found = [t for t in _TOKEN.findall(sentence) if t.lower() in TITLE_HEADS]
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
    filler_stems = [s for s in _stems(filler) if s not in _NOT_NAMES]
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
        if re.fullmatch(r"(?:19|20)\d\d", number) or re.match(r"\s*[-\s]?" + _TIME_UNIT.pattern,
                                                                after, re.IGNORECASE):
            continue
        if re.search(_MONTH_RE + r"\s*$", before):
            continue  # "April 17"
        if counted and counted not in _COUNTED_GENERIC and not _counts_thing(
                sentence, match.start(), after, counted):
            continue
        found.append(number)
    return found


def _counts_thing(sentence: str, start: int, after: str, counted: str) -> bool:
    """Whether the number at `start` counts `counted`: "seven districts", "a dozen ethnic
    Armenians", or "2,000 of them" after the thing was named earlier in the sentence."""
    following = _stems(after)[:4]
    if any(_same(stem(counted), s) for s in following):
        return True
    if re.match(r"\s*of\s+(?:them|those|whom|which)\b", after):
        return _contains(_stems(sentence[:start]), counted)
    return False


def _places(sentence: str) -> list[str]:
    places = []
    for match in _LOCATIVE.finditer(sentence):
        run = itertools.takewhile(lambda w: w[0].isupper(), match.group("words").split())
        places.append(" ".join(run))
    return [p for p in places if p]


def _names(sentence: str) -> list[str]:
    return [t for t in _TOKEN.findall(sentence)[1:]
            if t[:1].isupper() and t.lower() not in _NOT_NAMES]


def _people(sentence: str) -> list[str]:
    """Names of people or bodies: runs of two or more capitalised words ("Peter Stano",
    "Department of State"), a capitalised word before a body noun ("Turan news agency"),
    or a body noun phrase ("the leaders of both countries", "defense ministries")."""
    tokens = _TOKEN.findall(sentence)
    found: list[str] = []
    run: list[str] = []
    for token in [*tokens, "."]:
        if token[:1].isupper() and token.lower() not in _NOT_NAMES and not token[:1].isdigit():
            run.append(token)
            continue
        if len(run) >= 2:
            found.append(" ".join(run))
        run = []
    for index, token in enumerate(tokens):
        lowered = token.lower()
        if lowered in _BODY_NOUNS:
            found.append(" ".join(tokens[max(0, index - 2):index + 1]))
        elif (token[:1].isupper() and index + 1 < len(tokens) and lowered not in _NOT_NAMES
              and tokens[index + 1].lower() in {"news", "agency", "media", "newspaper",
                                                "television", "radio", "ministry"}):
            found.append(token)
    return found


def _has_role(role: tuple[str, ...], stems: list[str], lowered: str) -> bool:
    *modifiers, head = role
    if head in ROLE_EQUIVALENTS:
        if not any(re.search(rf"\b{re.escape(t)}", lowered) for t in ROLE_EQUIVALENTS[head]):
            return False
    elif head not in _GENERIC_HEADS and not _contains(stems, head):
        return False
    return all(_contains(stems, m) for m in modifiers if m not in _GENERIC_HEADS)


def _bare_category(slot: Slot, sentence: str) -> bool:
    """Whether the sentence names the asked-for category ("Western powers") with no name
    of its own next to it ("France and Britain", "Turan news agency")."""
    tokens = _TOKEN.findall(sentence)
    positions = [i for i, t in enumerate(tokens) if _same(stem(t), stem(slot.category))]
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
        if any(t[:1].isupper() and t.lower() not in _NOT_NAMES and not _given(slot, t)
               for t in window):
            return False
    return True


def _after_future_marker(sentence: str, filler: str) -> bool:
    """Whether `filler` sits after a word that speaks of the future ("will close in May"),
    rather than dating something that already happened."""
    at = sentence.find(filler)
    marker = _FUTURE_SENTENCE.search(sentence)
    return marker is not None and at >= marker.end()
