"""The words and word patterns the slot rules read (`rag.answer.slots` for the question,
`rag.answer.fillers` for a sentence): tokens, units of time, the events a question asks
about, roles and titles, words that are not names, and the other names of a country
(`slot_aliases.toml`); and how two words' stems are taken to name the same thing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.text.lexicon import MONTH_NAMES
from rag.text.tokens import stem
from rag.text.words import undotted

# A letter of any script: "Jürgen", "Łukasz" and "Yılmaz" are names too.
LETTER = r"[^\W\d_]"
TOKEN = re.compile(rf"{LETTER}(?:{LETTER}|['’\-.])*{LETTER}|{LETTER}|\d[\d,.]*\d|\d|[$€£₽%]")
TIME_UNIT = re.compile(r"(?:second|minute|hour|day|week|fortnight|month|year|decade|century)s?",
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
GENERIC_HEADS = frozenset("official officials representative".split()) | CATEGORY_HEADS
BODY_NOUNS = frozenset(
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
NOT_NAMES_OR_DATES = NOT_NAMES | frozenset(MONTH_NAMES) | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split())
COUNTED_GENERIC = frozenset("people persons individuals times".split())

ALIASES_FILE = Path(__file__).with_name("slot_aliases.toml")
# Other names news uses for a country: its capital or seat of government. A question
# about "the Kremlin" is about Russia even when the article only says "Moscow" or "Russia".
ALIASES: dict[str, tuple[str, ...]] = {
    name: tuple(others)
    for name, others in tomllib.loads(ALIASES_FILE.read_text(encoding="utf-8")).items()}


def token_stems(text: str) -> list[str]:
    return [stem(t) for t in TOKEN.findall(undotted(text))]


def same_stem(a: str, b: str) -> bool:
    """Stems naming the same thing: equal, or a shared stem of five letters or more
    ("Azerbaijan"/"Azerbaijani", "Armenia"/"Armenian")."""
    if a == b:
        return True
    return len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5] and abs(len(a) - len(b)) <= 3 and (
        a.startswith(b) or b.startswith(a))


def contains_stem(stems: list[str], word: str) -> bool:
    target = stem(word)
    return any(same_stem(target, s) for s in stems)
