"""People named by a title: "chief executive Jane Roe", "the company's chief executive,
Jane Roe", "Jane Roe, Acme's CEO", "Israeli Prime Minister Benjamin Netanyahu". Each
mention gives the role (the titles are data, `roles.toml`: "CEO" and "chief executive"
are one role), the words before it that make it another post ("former", "deputy"), the
word that says whose it is ("Acme", "company", "foreign" minister), the name (two to
four capitalised words) and the content words around it.

`rag.verify.conflicts` flags two sentences that give one role to different people.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from rag.text.lexicon import MONTH_NAMES, WEEKDAYS
from rag.text.words import Tok, tokenize, words_match

ROLES_FILE = Path(__file__).with_name("roles.toml")
_NAME_WORDS = (2, 4)
_OWNERS = frozenset("the its his her their our a an".split())


@dataclass(frozen=True)
class Lexicon:
    forms: tuple[tuple[tuple[str, ...], str], ...]  # written form (words) -> role, longest first
    modifiers: frozenset[str]
    words: frozenset[str]  # every word of a written form


@cache
def lexicon() -> Lexicon:
    data = tomllib.loads(ROLES_FILE.read_text(encoding="utf-8"))
    forms = [(tuple(form.replace("-", " ").split()), role)
             for role, written in data["roles"].items() for form in written]
    forms.sort(key=lambda f: -len(f[0]))
    return Lexicon(tuple(forms), frozenset(data["modifiers"]["words"]),
                   frozenset(w for form, _ in forms for w in form))


@dataclass(frozen=True)
class RoleMention:
    """A person named by a title in a text: the name's offsets and words (lower case),
    the role, its modifiers and owner, and the stems of the content words around the
    title and name."""

    start: int  # the name
    end: int
    name: str
    title_start: int  # the title as written ("CEO", "Chief Executive")
    title_end: int
    name_words: tuple[str, ...]
    role: str
    modifiers: frozenset[str]
    owner: str  # stem of the word before the title ("acme", "compani"), "" when none
    context: frozenset[str]

    def same_post(self, other: RoleMention) -> bool:
        """One role of one owner: "Acme CEO" and "the CEO" may be one post, "Acme CEO"
        and "Globex CEO", or a former and a current chief executive, are two."""
        return (self.role == other.role and self.modifiers == other.modifiers
                and (not self.owner or not other.owner or words_match(self.owner, other.owner)))

    def same_person(self, other: RoleMention) -> bool:
        """"Jane Roe", "Jane A. Roe" and "Roe" are one person: the same surname."""
        return self.name_words[-1] == other.name_words[-1]


def _is_name_word(token: Tok, lex: Lexicon) -> bool:
    return (token.kind == "word" and token.cap and token.low not in lex.words
            and token.stem not in MONTH_NAMES and token.low not in WEEKDAYS)


def _is_initial(text: str, token: Tok) -> bool:
    """A middle initial: "R." of "Joseph R. Biden" (and "A.", which reads as a word)."""
    return len(token.text) == 1 and token.text.isupper() and \
        text[token.end:token.end + 2] == ". "


def _joined(text: str, left: Tok, right: Tok) -> bool:
    """Whether two name words are one name's: a space or hyphen between, or an
    initial's dot."""
    gap = text[left.end:right.start]
    return gap in (" ", "-") or (gap == ". " and _is_initial(text, left))


def _name_after(text: str, tokens: Sequence[Tok], i: int, lex: Lexicon) -> tuple[int, int] | None:
    """(first, last) tokens of the name that starts at token `i`, or None."""
    last = i - 1
    j = i
    while j < len(tokens) and j - i < _NAME_WORDS[1] and (
            _is_name_word(tokens[j], lex) or (j > i and _is_initial(text, tokens[j]))):
        if j > i and (not _joined(text, tokens[j - 1], tokens[j])
                      or (tokens[j].initial and not _is_initial(text, tokens[j - 1]))):
            break
        last = j
        j += 1
    if last >= i and _is_initial(text, tokens[last]):
        last -= 1  # "Jane A." ends no name
    if last - i + 1 < _NAME_WORDS[0]:
        return None
    if j < len(tokens) and _is_name_word(tokens[j], lex) and \
            text[tokens[last].end:tokens[j].start] == " ":
        return None  # five capitalised words: an organisation or a title, not a name
    return i, last


def _name_before(text: str, tokens: Sequence[Tok], i: int, lex: Lexicon) -> tuple[int, int] | None:
    """The name that ends at token `i` ("Jane Roe, the chief executive"), or None."""
    if not _is_name_word(tokens[i], lex):
        return None
    first = i
    while first - 1 >= 0 and i - first + 1 < _NAME_WORDS[1] and (
            _is_name_word(tokens[first - 1], lex) or _is_initial(text, tokens[first - 1])) \
            and _joined(text, tokens[first - 1], tokens[first]):
        first -= 1
    while first < i and _is_initial(text, tokens[first]):
        first += 1
    if i - first + 1 < _NAME_WORDS[0]:
        return None
    return first, i


def _possessive(text: str, token: Tok) -> bool:
    return text[token.end:token.end + 2] in ("'s", "\u2019s")


def _owner(text: str, tokens: Sequence[Tok], j: int) -> bool:
    """Whether token `j`, just before a title, says whose post it is: a name ("Acme CEO",
    "Israeli prime minister"), a possessive ("the company's chief executive") or a word
    of the title's noun phrase ("the foreign minister", "Google's search head"); not a
    verb before it ("suspended coach Jim Harbaugh")."""
    token = tokens[j]
    if token.kind != "word":
        return False
    if token.cap or _possessive(text, token):
        return True
    before = tokens[j - 1] if j > 0 else None
    return before is not None and (before.low in _OWNERS or _possessive(text, before))


@lru_cache(maxsize=4096)
def role_mentions(text: str, window: int = 4) -> tuple[RoleMention, ...]:
    """Every person of `text` named by a title from `roles.toml`, the name right after
    the title (a comma between allowed) or before it, set off by a comma."""
    lex = lexicon()
    tokens = tokenize(text)
    found = []
    i = 0
    while i < len(tokens):
        match = next(((form, role) for form, role in lex.forms
                      if tuple(t.low for t in tokens[i:i + len(form)]) == form), None)
        if match is None:
            i += 1
            continue
        form, role = match
        end = i + len(form)  # the token after the title
        # Words before the title: its modifiers, then its owner.
        j = i - 1
        modifiers = set()
        while j >= 0 and tokens[j].low in lex.modifiers and tokens[j].clause == tokens[i].clause:
            modifiers.add(tokens[j].low)
            j -= 1
        owner = ""
        if j >= 0 and _owner(text, tokens, j) and tokens[j].clause == tokens[i].clause:
            owner = tokens[j].stem
            j -= 1
        # The name: after the title ("CEO Jane Roe", "chief executive, Jane Roe") or,
        # set off by a comma, before it ("Jane Roe, the company's chief executive").
        name = None
        if end < len(tokens) and text[tokens[end - 1].end:tokens[end].start] in (" ", ", "):
            name = _name_after(text, tokens, end, lex)
        if name is None:
            k = j
            while k >= 0 and tokens[k].low in _OWNERS and tokens[k].clause == tokens[i].clause:
                k -= 1
            if k >= 0 and text[tokens[k].end:tokens[k + 1].start].strip() == ",":
                name = _name_before(text, tokens, k, lex)
        if name is None:
            i = end
            continue
        first, last = name
        span = sorted({*range(first, last + 1), *range(i, end)})
        around = [t for t in (*tokens[max(0, span[0] - window):span[0]],
                              *tokens[span[-1] + 1:span[-1] + 1 + window])
                  if t.kind == "word" and t.low not in lex.modifiers]
        start, stop = tokens[first].start, tokens[last].end
        found.append(RoleMention(start, stop, text[start:stop], tokens[i].start,
                                 tokens[end - 1].end,
                                 tuple(t.low for t in tokens[first:last + 1]), role,
                                 frozenset(modifiers), owner,
                                 frozenset(t.stem for t in around)))
        i = max(end, last + 1)
    return tuple(found)
