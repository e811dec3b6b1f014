"""Deterministic training pairs for the project's cross-encoder (tasks `support`, `answer`).

    python -m train.make_data --out build/train

Writes `pairs.jsonl` (task, a, b, label, kind, group, split) and `stats.json` (counts and
the sha256 of pairs.jsonl). Output is byte-identical across runs: one seeded RNG drawn in a
fixed order, inputs sorted, no set-order dependence, no time stamps.

Sources (and only these):
- MultiHop-RAG articles and queries (`--multihop`): every recipe below.
- `evals/support/pairs.jsonl` rows with split == "dev" only (kind `support_dev`).
- `evals/gold/seed.jsonl`, `seed_holdout.jsonl`, `seed_sealed.jsonl` over the seed article
  (kind `gold_dev`). The other sealed gold files and the SummEdits benchmark are held out
  and never opened.

Task `support`: a = claim, b = 1-3 consecutive sentences of one article; 1 iff b states
everything the claim says. Positives are the article's own sentences lightly edited in ways
that keep them entailed (copy, compress, merge2, light_paraphrase); negatives are made from
those positives with one unsupported edit each, so positives and negatives read alike.

Task `answer`: a = question, b = one sentence (sometimes with the sentence before it);
1 iff the sentence states (part of) the answer.

The val split is ~10% of the MultiHop articles, chosen by a stable hash of the article id;
a pair belongs to the article of its evidence, and every text borrowed from another article
(donor names, details, distractor sentences) comes from an article of the same split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from random import Random
from typing import Any

SEED = 1234
VAL_FRACTION = 0.10
SUPPORT_POSITIVE_SHARE = 0.45
COPY_SHARE_OF_POSITIVES = 0.15
OTHER_ARTICLE_SHARE_OF_NEGATIVES = 0.08
NEIGHBOUR_RATE = 0.5  # answer task: how often b is also given as "previous + sentence"
GOLD_HARD_NEGATIVES = 6  # per answerable gold question, plus two random sentences
GOLD_FILES = ("seed.jsonl", "seed_holdout.jsonl", "seed_sealed.jsonl")
SEED_ARTICLE = Path("corpus/000_4289d46f5f19964e.txt")
SUPPORT_EVAL = Path("evals/support/pairs.jsonl")
GOLD_DIR = Path("evals/gold")

try:  # the limit the cross-encoder truncates at; pairs longer than it are dropped here
    from rag.verify.cross_encoder import MAX_PAIR_WORDPIECES
except ImportError:  # pragma: no cover - the module is new; keep the generator usable
    MAX_PAIR_WORDPIECES = 192

# ---------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------

STOP = frozenset("""
a about above after again against all also although am among an and another any are as
at be because been before being below between both but by can cannot could did do does
doing down during each even ever every few for from further had has have having he her
here hers herself him himself his how however i if in into is it its itself just least
less let like many may me might more most much must my myself neither never no nor not
now of off often on once one only or other our ours out over own per perhaps rather same
several she should since so some still such than that the their theirs them themselves
then there these they this those though through thus to too under until up upon us very
was we well were what when where whether which while who whom whose why will with within
without would yet you your yours yes according already always around away back despite
else enough instead last later maybe meanwhile next nothing often onto others quite really
s since soon somehow sometimes thereby therefore together toward towards unless via whatever
whenever wherever whichever whoever mr mrs ms dr let's it's that's there's here's
asked speaking shortly earlier recently separately additionally overall ultimately finally
unlike nonetheless elsewhere today yesterday tomorrow tonight new says said
""".split())

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
MONTH_ABBR = ("Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RELATIVE_DATES = (
    ("last week", "last month", "last year", "this week", "next week", "earlier this year",
     "last weekend", "this weekend"),
    ("yesterday", "today", "tomorrow"),
    ("last season", "this season", "next season"),
)
TITLES = frozenset("""Mr Mr. Mrs Mrs. Ms Ms. Dr Dr. President Prime Minister CEO Chief Senator
Sen. Rep. Judge Justice Gov. Governor Coach General Secretary King Queen Prince Pope
Chairman Director Vice Deputy Officer Executive Founder Sir Lord""".split())
ORG_WORDS = frozenset("""Inc Inc. Corp Corp. Company Co. Group Bank University College
Commission Department Agency Association League Party Council Court Committee Club
Foundation Institute Ministry Office Board Trust Fund Capital Labs Media News Times Post
Journal Network Motors Airlines Airways Technologies Systems Services Holdings Partners
Entertainment Studios Records Sportsbook Exchange Administration Bureau Authority Union
Federation Organization Organisation Service Police Army Navy Force Forces Parliament
Congress Senate House Reserve Securities Commanders Dolphins Chiefs Wolverines Verge
Guardian Wired TechCrunch Fortune Reuters""".split())
PLACE_WORDS = frozenset("""City Stadium Park Street County State Valley Island Islands
Beach Bay River Lake Mountain Mountains Arena Square Center Centre Hall Airport Province
Coast Kingdom Republic""".split())
ABBR = frozenset("U.S. U.K. U.N. E.U. Jr. Sr. Inc. Corp. Co. Ltd. St. Mt.".split())

# Negation and downward-entailing words: dropping material under them can make a claim
# say more than the evidence ("did not attend the meeting in Paris" does not entail "did
# not attend the meeting"), so compress skips such sentences, and negation only inserts
# into claims that have none.
NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot|without)\b|n[’']t\b", re.I)
DOWNWARD_RE = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot|without|few|fewer|less|only"
    r"|unless|if|doubt\w*|den(?:y|ied|ies)|refus\w*|fail\w*|lack\w*|unable|ban\w*|prevent\w*"
    r"|stop\w*|avoid\w*|restrict\w*|against|every|all|each|any|always|most|whether|free"
    r"|unlikely|rather|instead|except|until|before|either|some)\b|n[’']t\b", re.I)
QUOTE_RE = re.compile(r"[“”\"]|(?:^|\s)[‘']")

AUX = ("is", "are", "was", "were", "has", "have", "had", "will", "would", "can", "should",
       "must", "does", "do", "did")
AUX_NEGATED = {"is": ("is not", "isn’t"), "are": ("are not", "aren’t"),
               "was": ("was not", "wasn’t"), "were": ("were not", "weren’t"),
               "has": ("has not", "hasn’t"), "have": ("have not", "haven’t"),
               "had": ("had not", "hadn’t"), "will": ("will not", "won’t"),
               "would": ("would not", "wouldn’t"), "can": ("cannot", "can’t"),
               "should": ("should not", "shouldn’t"), "must": ("must not",),
               "does": ("does not", "doesn’t"), "do": ("do not", "don’t"),
               "did": ("did not", "didn’t")}
# "is not" / "isn't" / "cannot" / "never" back to the positive (removing a negation).
UNNEGATE = (
    (re.compile(r"\b(is|are|was|were|has|have|had|will|would|should|must|does|do|did)"
                r" not\b"), r"\1"),
    (re.compile(r"\b(is|are|was|were|has|have|had|would|should|does|do|did)n[’']t\b"), r"\1"),
    (re.compile(r"\bwon[’']t\b"), "will"), (re.compile(r"\bcan[’']t\b"), "can"),
    (re.compile(r"\bcannot\b"), "can"), (re.compile(r"\bnever "), ""),
    (re.compile(r"\bno longer\b"), "still"),
)
# Participles that show "has/have/had" is an auxiliary (so "has not <participle>" works).
PARTICIPLES = frozenset("""been done made said got gone become begun seen taken left lost
won had told found brought held paid sold shown grown run put set hit built spent sent known
given kept led met thought written chosen driven fallen risen""".split())

# Inflected verb -> lemma, for do-support ("Kelce said X" -> "did Kelce say X",
# "X did not say") and the negation of a plain verb. Only listed verbs are touched.
VERB_LEMMA = {
    "said": "say", "says": "say", "told": "tell", "tells": "tell", "took": "take",
    "takes": "take", "made": "make", "makes": "make", "gave": "give", "gives": "give",
    "went": "go", "goes": "go", "won": "win", "wins": "win", "lost": "lose", "loses": "lose",
    "announced": "announce", "announces": "announce", "confirmed": "confirm",
    "confirms": "confirm", "reported": "report", "reports": "report", "added": "add",
    "launched": "launch", "launches": "launch", "filed": "file", "agreed": "agree",
    "claimed": "claim", "claims": "claim", "raised": "raise", "raises": "raise",
    "found": "find", "finds": "find", "showed": "show", "shows": "show", "became": "become",
    "becomes": "become", "began": "begin", "begins": "begin", "left": "leave",
    "got": "get", "gets": "get", "sold": "sell", "sells": "sell", "bought": "buy",
    "buys": "buy", "paid": "pay", "pays": "pay", "decided": "decide", "plans": "plan",
    "planned": "plan", "wants": "want", "wanted": "want", "needs": "need", "needed": "need",
    "suspended": "suspend", "praised": "praise", "persuaded": "persuade", "met": "meet",
    "sued": "sue", "signed": "sign", "scored": "score", "played": "play",
    "released": "release", "revealed": "reveal", "unveiled": "unveil",
    "introduced": "introduce", "acquired": "acquire", "hired": "hire", "joined": "join",
    "received": "receive", "offered": "offer", "offers": "offer", "helped": "help",
    "tried": "try", "started": "start", "ended": "end", "called": "call", "asked": "ask",
    "warned": "warn", "argued": "argue", "testified": "testify", "ruled": "rule",
    "accused": "accuse", "charged": "charge", "rejected": "reject", "approved": "approve",
    "tumbled": "tumble", "rose": "rise", "fell": "fall", "dropped": "drop", "gained": "gain",
    "increased": "increase", "reached": "reach", "threw": "throw", "led": "lead",
    "built": "build", "spent": "spend", "brought": "bring", "held": "hold", "moved": "move",
    "posted": "post", "shared": "share", "wrote": "write", "estimated": "estimate",
    "predicted": "predict", "dominated": "dominate", "included": "include",
    "includes": "include", "created": "create", "developed": "develop",
    "designed": "design", "opened": "open", "returned": "return", "visited": "visit",
    "attended": "attend", "cheered": "cheer", "battled": "battle", "established": "establish",
    "imposed": "impose", "blamed": "blame", "withdrew": "withdraw", "invested": "invest",
    "earned": "earn", "saw": "see", "sees": "see", "knew": "know", "thought": "think",
    "kept": "keep", "spoke": "speak", "chose": "choose", "sent": "send", "grew": "grow",
    "seemed": "seem", "appeared": "appear", "continued": "continue", "remained": "remain",
    "died": "die", "killed": "kill", "used": "use", "uses": "use", "provides": "provide",
    "provided": "provide", "allows": "allow", "allowed": "allow", "requires": "require",
    "required": "require", "features": "feature", "featured": "feature",
    "described": "describe", "explained": "explain", "noted": "note", "stated": "state",
    "insisted": "insist", "suggested": "suggest", "admitted": "admit", "urged": "urge",
    "supported": "support", "supports": "support", "voted": "vote", "passed": "pass",
    "completed": "complete", "finished": "finish", "managed": "manage",
    "promised": "promise", "threatened": "threaten", "intended": "intend",
    "hoped": "hope", "listed": "list", "ranked": "rank", "defeated": "defeat",
    "expects": "expect", "expected": "expect", "believes": "believe", "believed": "believe",
    "confessed": "confess", "declined": "decline", "denied": "deny", "cited": "cite",
    "changed": "change", "selected": "select", "swapped": "swap", "painted": "paint",
    "countered": "counter", "committed": "commit", "prioritized": "prioritize",
    "accumulated": "accumulate", "restrains": "restrain", "loops": "loop",
    "turned": "turn", "arrested": "arrest", "relayed": "relay", "deployed": "deploy",
}
# Money verbs: "How much did X pay?" makes sense for these.
MONEY_VERBS = frozenset("pay spend raise invest earn sell buy lose offer receive".split())

# Safe light rewordings (light_paraphrase) and question rewording; lowercase whole words
# only, so names ("Company", "Said") are never touched.
SYNONYMS = (
    (r"\bsaid\b", "stated"), (r"\bsays\b", "states"), (r"\babout (?=[$£€\d])", "roughly "),
    (r"\bapproximately\b", "about"), (r"\bmore than (?=[$£€\d])", "over "),
    (r"\bcompany\b", "firm"), (r"\bcompanies\b", "firms"), (r"\bbegan\b", "started"),
    (r"\bbegin\b", "start"), (r"\bplans to\b", "intends to"), (r"\bplanned to\b", "intended to"),
    (r"\bnearly\b", "almost"), (r"\balmost\b", "nearly"), (r"\bbought\b", "purchased"),
    (r"\bpurchased\b", "bought"), (r"\bbiggest\b", "largest"), (r"\blargest\b", "biggest"),
    (r"\bper cent\b", "percent"), (r"\bpercent\b", "per cent"), (r"\bquickly\b", "rapidly"),
    (r"\breceived\b", "got"), (r"\bshowed\b", "demonstrated"), (r"\bmillions of\b", "many"),
    (r"\bfinished\b", "completed"), (r"\bwants to\b", "wishes to"),
    (r"\bstarted\b", "began"), (r"\bintended to\b", "planned to"), (r"\bfirm\b", "company"),
    (r"\bchildren\b", "kids"), (r"\bpeople\b", "individuals"), (r"\bbig\b", "large"),
)
SYNONYM_RES = tuple((re.compile(p), r) for p, r in SYNONYMS)

# Antonym swaps (negative kind `antonym`); both directions are listed explicitly.
ANTONYMS = {
    "rose": "fell", "fell": "rose", "rise": "fall", "rising": "falling", "falling": "rising",
    "increase": "decrease", "increased": "decreased", "decrease": "increase",
    "decreased": "increased", "won": "lost", "lost": "won", "win": "loss", "wins": "losses",
    "before": "after", "after": "before", "higher": "lower", "lower": "higher",
    "approved": "rejected", "rejected": "approved", "first": "last", "last": "first",
    "largest": "smallest", "biggest": "smallest", "smallest": "largest", "best": "worst",
    "worst": "best", "highest": "lowest", "lowest": "highest", "strong": "weak",
    "weak": "strong", "stronger": "weaker", "weaker": "stronger", "positive": "negative",
    "negative": "positive", "early": "late", "earlier": "later", "later": "earlier",
    "above": "below", "below": "above", "successful": "unsuccessful", "legal": "illegal",
    "illegal": "legal", "easier": "harder", "harder": "easier", "younger": "older",
    "older": "younger", "majority": "minority", "began": "ended", "started": "ended",
    "supported": "opposed", "opposed": "supported", "loved": "hated", "gained": "lost",
    "cheaper": "pricier", "long-term": "short-term", "short-term": "long-term",
    "ahead": "behind", "behind": "ahead", "beginning": "end", "more than": "less than",
    "less than": "more than", "fewer than": "more than", "up to": "at least",
    "at least": "at most", "leading": "trailing",
}
ANTONYM_RE = re.compile(r"\b(" + "|".join(sorted((re.escape(k) for k in ANTONYMS),
                                                    key=lambda k: -len(k))) + r")\b")
UPDOWN_RE = re.compile(r"\b(up|down)(?= (?:to |by |about |nearly |almost |\$|\d))")

NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.I)
NUM_RE = re.compile(
    r"(?P<cur>[$£€])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<suf>\s?(?:%|percent\b|per cent\b|million\b|billion\b|trillion\b|thousand\b"
    r"|[MBK]\b))?")
SCALE_SWAP = {"million": "billion", "billion": "million", "trillion": "billion",
              "thousand": "million", "M": "B", "B": "M", "K": "M"}

# Adjectives that add a fact when inserted (added_detail).
ADDED_ADJECTIVES = ("secret", "controversial", "failed", "rival", "record", "illegal",
                    "second", "annual", "emergency", "private", "bipartisan", "surprise",
                    "unprecedented", "overseas", "federal", "temporary")
LEAD_START = frozenset("""in on at after during since last earlier later this meanwhile
however still also shortly for by with despite amid following now then yesterday today
separately additionally overall instead elsewhere recently ultimately finally thus as while
when although though asked speaking under over from through across within like unlike
beyond nonetheless once""".split())
# Words whose removal keeps a (non-negated) sentence entailed. Hedges ("likely",
# "reportedly") and non-subsective adjectives ("former", "alleged") are deliberately absent.
DROPPABLE = ("also", "really", "very", "clearly", "immediately", "quickly", "officially",
             "finally", "actually", "indeed", "truly", "simply", "certainly", "suddenly",
             "new", "big", "major", "huge", "massive", "significant", "popular", "key",
             "important", "serious", "highly", "widely", "heavily", "strongly", "enthusiastically",
             "quietly", "publicly", "brand-new", "ongoing")
SUBORDINATORS = ("although", "though", "while", "when", "because", "since", "as", "if", "by",
                 "after", "before", "once", "until", "unless", "whereas", "despite", "even",
                 "whether", "with", "without")
APPOS_MARKERS = frozenset("""however meanwhile though too also reportedly instead
nonetheless""".split())
APPOS_NP = frozenset("""the a an its his her their one former chief ceo president founder
co-founder head director now once formerly currently then""".split())
TRAIL_START = ("which ", "who ", "according to ", "with ", "including ", "citing ", "amid ",
               "while ", "as ", "after ", "following ", "adding ", "saying ", "marking ",
               "a move ", "in a ", "where ")
PRONOUN_WORDS = frozenset("i you he she it we they me him her us them who which that".split())
NEEDS_COMPLEMENT = frozenset("""other well up out off back down away into onto been being
included put placed located based set turned""".split())
TRAIL_OPENERS = frozenset("""thanks due for from in at on with after amid as while although
though including especially particularly like such compared according mostly largely whereas
just""".split())
TRAIL_PREPS = frozenset("in at on during for from by with amid since across through near "
                        "into after over".split())
BAD_ENDINGS = frozenset("""the a an of to and or but that which who with for from in on at
by as is are was were be been has have had will would can could should its their his her
relies depends focus focused based located made put set turned looking look came went
moved given according due part one some all most many number lot than into both either
also even just only including like such especially both""".split())
DATE_PHRASE_RE = re.compile(
    r"\b(?:(?:on|last|this|next|by|since|until|from|early|late|mid|through) )?"
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?:[’']s)?"
    r"(?: (?:morning|afternoon|evening|night))?\b"
    r"|\b(?:(?:on|in|by|since|until|from|during|early|late|mid|through) )?"
    r"(?:January|February|March|April|May(?= \d)|June|July|August|September|October"
    r"|November|December|Jan\.|Feb\.|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.)"
    r"(?: \d{1,2}(?:st|nd|rd|th)?)?(?:,? (?:19|20)\d{2})?\b"
    r"|\b(?:(?:in|since|by|until|from|during|of) )?(?:19|20)\d{2}\b(?![,\d])"
    r"|\b(?:last|this|next|earlier this|later this) (?:week|month|year|season|weekend"
    r"|summer|winter|spring|fall|autumn)\b|\b(?:yesterday|today|tomorrow)\b")
TIME_WORDS_RE = re.compile(
    r"\b(?:after|before|during|since|until|when|while|earlier|later|recently|now|currently"
    r"|time|season|morning|night|evening|ago|week|month|year|day|days|weeks|months|years"
    r"|then|once|first|last|soon|already|yet|still|tonight|weekend|upcoming|former|previous"
    r"|next|annual|daily|decade|era|century|hour|minutes|halftime|start|end|early|late)\b"
    r"|\d", re.I)
REASON_RE = re.compile(r"\b(?:because|due to|as a result|after|following|amid|since|so "
                       r"|to |for |over |thanks to|in response|as |in order|led|cause"
                       r"|reason|why|citing)", re.I)

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[’'][A-Za-z]+)?")


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP and len(w) > 1]


@cache
def content_set(text: str) -> frozenset[str]:
    return frozenset(content_words(text))


def coverage(a: str, b: str) -> float:
    """Share of a's distinct content words that occur in b."""
    wa = content_set(a)
    if not wa:
        return 0.0
    return len(wa & content_set(b)) / len(wa)


def mentions(text: str, phrase: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.I) is not None


def has_quote(text: str) -> bool:
    return QUOTE_RE.search(text) is not None


def lower_first(text: str) -> str:
    """Lowercase the first word if it is a common word (not a name) - for moving a
    sentence-initial word into the middle of a sentence."""
    first = text.split(" ", 1)[0]
    low = first.lower().strip(",")
    if first != "I" and (low in STOP or (low in LOWERCASE_SEEN and first not in NAME_SEEN)):
        return text[0].lower() + text[1:]
    return text


# Filled once from the corpus (Corpus.__init__): words seen in lowercase mid-sentence, and
# name words - so "Sales in its unit ..." can become "... said sales in its unit ...".
LOWERCASE_SEEN: set[str] = set()
NAME_SEEN: set[str] = set()


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def tidy(text: str) -> str:
    """Collapse the doubled spaces and stray commas that deleting a phrase leaves behind."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:?!])(?=\s|$)", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r",\s*([.?!])$", r"\1", text)
    text = re.sub(r"^[,;:\s]+", "", text)
    return text


def word_count(text: str) -> int:
    return len(text.split())


def sentence_like(text: str) -> bool:
    """A claim we are willing to emit: a full stop, five words, no dangling last word."""
    if not text.endswith(".") or word_count(text) < 5:
        return False
    last = text[:-1].rsplit(" ", 1)[-1].lower()
    return last not in BAD_ENDINGS and (text[:1].isupper() or text[:1] in "“\"‘$")


def stable_unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / float(16 ** 12)


# ---------------------------------------------------------------------------------------
# Names (capitalised spans)
# ---------------------------------------------------------------------------------------

LEAD_PUNCT = "“\"‘'(—–-["
TRAIL_PUNCT = ",;:!?”\"’')]—–"
CAP_RE = re.compile(r"^[A-Z][\w&.\-’']*$")


@dataclass(frozen=True)
class Name:
    start: int
    end: int
    text: str


def _token_core(token: str) -> tuple[int, int, bool]:
    """(start, end) of a token's core inside it, and whether punctuation ends a span."""
    s, e = 0, len(token)
    while s < e and token[s] in LEAD_PUNCT:
        s += 1
    breaks = False
    while e > s and token[e - 1] in TRAIL_PUNCT + ".":
        core = token[s:e]
        if token[e - 1] == "." and (core in ABBR or re.fullmatch(r"(?:[A-Z]\.)+", core)):
            break
        if token[e - 1] in "’'" and core[-2:-1] not in "sS":
            e -= 1
            breaks = True
            continue
        e -= 1
        breaks = True
    core = token[s:e]
    for poss in ("’s", "'s"):
        if core.endswith(poss):
            e -= 2
            breaks = True
    return s, e, breaks


def _is_cap(core: str) -> bool:
    if not CAP_RE.match(core) or core.lower() in STOP or core in TITLES:
        return False
    if core in MONTHS or core.rstrip(".") in (m.rstrip(".") for m in MONTH_ABBR):
        return False
    if core in WEEKDAYS or core.startswith(WEEKDAYS):
        return False
    return core != "I" and core[-1:] != "-"


def name_spans(sentence: str, known: frozenset[str] | None) -> list[Name]:
    """Capitalised multi- or single-word names, without titles, months and weekdays.
    A word at the start of the sentence (or of a quote) counts only if it is `known`:
    seen capitalised mid-sentence somewhere in the corpus."""
    names: list[Name] = []
    current: list[tuple[int, int]] = []
    pending_connector = False
    initial = True

    def close() -> None:
        if current:
            start, end = current[0][0], current[-1][1]
            names.append(Name(start, end, sentence[start:end]))
        current.clear()

    tokens = list(re.finditer(r"\S+", sentence))
    for idx, m in enumerate(tokens):
        token = m.group()
        cs, ce, breaks = _token_core(token)
        core = token[cs:ce]
        at_start = initial or token[:1] in "“\"‘("
        cap = bool(core) and _is_cap(core)
        if cap and at_start and known is not None and core not in known:
            # "Zazie Beetz will ...": a capitalised first word followed by a name word.
            nxt = tokens[idx + 1].group() if idx + 1 < len(tokens) else ""
            ns, ne, _ = _token_core(nxt)
            cap = not breaks and bool(nxt[ns:ne]) and _is_cap(nxt[ns:ne]) and ns == 0
        if cap:
            current.append((m.start() + cs, m.start() + ce))
            pending_connector = False
        elif current and core in ("of", "de", "van", "von", "&") and not breaks:
            pending_connector = True  # "Bank of America": keep only if a name follows
            initial = False
            continue
        else:
            close()
        if pending_connector and not cap:
            pending_connector = False
        if breaks:
            close()
        initial = token.endswith((":", "—", "“")) or token in ("—", "–")
    close()
    return [n for n in names if len(n.text) > 1]


def collect_known(sentences: list[str]) -> frozenset[str]:
    known: set[str] = set()
    for s in sentences:
        for n in name_spans(s, known=frozenset()):
            for tok in n.text.split():
                known.add(tok)
    return frozenset(known)


def numbered(text: str, n: Name) -> bool:
    """"Week 12", "Pixel 8", "Game 7": a name that is really a label with a number."""
    return re.match(r" ?\d", text[n.end:]) is not None


def name_class(name: str, surnames: frozenset[str], places: frozenset[str]) -> str:
    toks = name.split()
    if len(toks) == 1:
        tok = toks[0]
        if len(tok) >= 2 and tok.replace(".", "").replace("&", "").isupper():
            return "acronym"
        if tok in ORG_WORDS:
            return "org"
        if name in places:
            return "place"
        if tok in surnames:
            return "surname"
        return "single_plural" if tok.endswith("s") and not tok.endswith("ss") else "single"
    if any(t in ORG_WORDS for t in toks):
        return "org"
    if name in places or toks[-1] in PLACE_WORDS:
        return "place"
    if len(toks) <= 3 and all(re.fullmatch(r"[A-Z][a-z’'\-A-Z]+", t) for t in toks):
        return "person"
    return "multi"


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------


@dataclass
class Article:
    group: str
    sentences: list[str]
    split: str


def article_id(url: str) -> str:
    return "mh-" + hashlib.sha256(url.encode()).hexdigest()[:10]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_support_dev() -> list[dict[str, Any]]:
    # Read row by row and keep only dev rows: test rows never reach the output.
    rows = []
    for row in read_jsonl(SUPPORT_EVAL):
        if row.get("split") == "dev":
            rows.append({k: row[k] for k in ("id", "claim", "passage", "label", "origin")})
    rows.sort(key=lambda r: r["id"])
    return rows


def match_article(passage: str, articles: list[Article]) -> Article | None:
    """The article a support-dev passage was cut from (its sentences cover the passage)."""
    best, best_score = None, 0.0
    for art in articles:
        body = " ".join(art.sentences)
        if passage in body:
            return art
        score = coverage(passage, body)
        if score > best_score:
            best, best_score = art, score
    return best if best_score >= 0.6 else None


def load_articles(multihop: Path, reserved: list[str]) -> list[Article]:
    """Articles sorted by id; val = stable hash < VAL_FRACTION, except articles whose text
    the support dev rows (always train) were cut from, so no article is in both splits."""
    rows = read_jsonl(multihop / "articles.jsonl")
    arts = []
    for row in rows:
        sents = [s.strip() for s in row["body"].split("\n") if s.strip()]
        arts.append(Article(article_id(row["url"]), sents, "train"))
    arts.sort(key=lambda a: a.group)
    used: set[str] = set()
    for passage in reserved:
        art = match_article(passage, arts)
        if art is not None:
            used.add(art.group)
    # The lowest-hash tenth of all articles, taken from those the dev rows do not use.
    free = sorted((stable_unit(a.group), a.group) for a in arts if a.group not in used)
    val = {g for _, g in free[:round(VAL_FRACTION * len(arts))]}
    for art in arts:
        if art.group in val:
            art.split = "val"
    return arts


# ---------------------------------------------------------------------------------------
# Shared context: donors from other articles of the same split
# ---------------------------------------------------------------------------------------


class Corpus:
    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles
        self.by_group = {a.group: a for a in articles}
        all_sents = [s for a in articles for s in a.sentences]
        self.known = collect_known(all_sents)
        LOWERCASE_SEEN.clear()
        NAME_SEEN.clear()
        for s in all_sents:
            LOWERCASE_SEEN.update(w for w in re.findall(r"(?<=\s)[a-z][a-z’'-]*", s))
        NAME_SEEN.update(self.known)
        self.names = {(a.group, i): name_spans(s, self.known)
                      for a in articles for i, s in enumerate(a.sentences)}
        places: set[str] = set()
        for (g, i), ns in self.names.items():
            s = self.by_group[g].sentences[i]
            for n in ns:
                if re.search(r"\b(?:in|at|from|near|across)\s+(?:the\s+)?$", s[:n.start]) \
                        and not any(t in ORG_WORDS for t in n.text.split()) \
                        and not numbered(s, n):
                    places.add(n.text)
        self.places = frozenset(places)
        surnames: set[str] = set()
        for ns in self.names.values():
            for n in ns:
                toks = n.text.split()
                if 2 <= len(toks) <= 3 and name_class(n.text, frozenset(), frozenset()) == \
                        "person":
                    surnames.add(toks[-1])
        self.surnames = frozenset(surnames)
        # Donor names per split and class, sorted for determinism.
        pool: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        self.article_names: dict[str, list[str]] = {}
        for a in articles:
            seen: list[str] = []
            for i in range(len(a.sentences)):
                for n in self.names[(a.group, i)]:
                    if numbered(a.sentences[i], n):
                        continue
                    pool[(a.split, self.cls(n.text, a.group))].add((n.text, a.group))
                    if n.text not in seen:
                        seen.append(n.text)
            self.article_names[a.group] = seen
        self.donors = {k: sorted(v) for k, v in pool.items()}
        self.split_sentences = {
            split: [(a.group, i, s) for a in articles if a.split == split
                    for i, s in enumerate(a.sentences)]
            for split in ("train", "val")}
        self._details: dict[str, dict[str, list[tuple[str, str]]]] = {}

    def cls(self, name: str, group: str) -> str:
        return name_class(name, self.surnames, self.places)

    def details(self, split: str) -> dict[str, list[tuple[str, str]]]:
        """Phrases from this split's sentences that can be bolted onto another claim."""
        if split in self._details:
            return self._details[split]
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for g, _i, s in self.split_sentences[split]:
            if has_quote(s):
                continue
            m = re.search(r", (which|who) ([^,;:]{8,70})\.$", s)
            if m:
                out["which"].append((f", {m.group(1)} {m.group(2)}", g))
            m = re.search(r" (after|following|amid) ([a-z][^,;:]{8,50})\.$", s)
            if m and word_count(m.group(2)) <= 8:
                out["after"].append((f" {m.group(1)} {m.group(2)}", g))
        for (g, _i), ns in sorted(self.names.items()):
            if self.by_group[g].split != split:
                continue
            for n in ns:
                c = self.cls(n.text, g)
                if n.text in self.places and c in ("place", "single", "multi"):
                    out["place"].append((n.text, g))
                elif c in ("person", "org", "acronym"):
                    out["source"].append((n.text, g))
        self._details[split] = {k: sorted(set(v)) for k, v in out.items()}
        return self._details[split]


def foreign(items: list[tuple[str, str]], group: str, evidence: str, rng: Random,
            tries: int = 8) -> str | None:
    """A donor text from another article that the evidence does not mention (nor any of
    its words of 3+ letters - so "Sam Altman" is refused where the evidence has "Sam")."""
    if not items:
        return None
    for _ in range(tries):
        text, g = items[rng.randrange(len(items))]
        if g == group or mentions(evidence, text):
            continue
        toks = [t for t in re.findall(r"[\w’'-]+", text) if len(t) >= 3 and t.lower() not in STOP]
        if any(mentions(evidence, t) for t in toks):
            continue
        return text
    return None


# ---------------------------------------------------------------------------------------
# Support task: positives
# ---------------------------------------------------------------------------------------


def windows(n: int, first: int, last: int) -> list[tuple[int, int]]:
    """All windows [start, end) of 1-3 consecutive sentences covering first..last."""
    out = []
    for start in range(max(0, last - 2), first + 1):
        for end in range(last + 1, min(n, start + 3) + 1):
            out.append((start, end))
    return out


def main_clause_left(c: str) -> bool:
    """After peeling leading phrases ("Eventually, as inflation fades ..."), something
    other than a subordinate clause must remain."""
    segs = c[:-1].split(", ")
    while len(segs) > 1 and segs[0].split(" ", 1)[0].lower() in LEAD_START | set(
            SUBORDINATORS):
        segs = segs[1:]
    rest = ", ".join(segs)
    return rest.split(" ", 1)[0].lower() not in SUBORDINATORS and word_count(rest) >= 4


def compress_variants(s: str) -> list[str]:
    """Entailed shortenings: drop one removable part. Skipped for sentences with quotes or
    negation/downward-entailing words, where dropping a phrase can add meaning."""
    if has_quote(s) or DOWNWARD_RE.search(s) or not s.endswith("."):
        return []
    out: list[str] = []
    # Appositive / parenthetical between commas: "Azerbaijan, however, established" and
    # "Sam Bankman-Fried, former CEO of FTX, started".
    for m in re.finditer(r", ([^,;:]{2,80}), ", s):
        inner = m.group(1)
        first = inner.split(" ", 1)[0].lower()
        before = s[:m.start()]
        after = s[m.end():]
        if after.startswith(("and ", "or ", "but ")) or word_count(before) < 1:
            continue
        ok = False
        if (first in APPOS_MARKERS and word_count(inner) <= 2) or (
                first in ("who", "which", "whose") and word_count(inner) <= 15):
            ok = True
        elif first in APPOS_NP and inner[:1].islower():
            last_before = before.rsplit(" ", 1)[-1]
            ok = (bool(CAP_RE.match(last_before)) and last_before not in MONTHS
                  and last_before not in WEEKDAYS)
        if ok:
            out.append(tidy(before + " " + after))
    # Leading phrase before the first comma: "In July, X" -> "X".
    lead = re.match(r"([^,]{3,60}), (.+)$", s)
    if lead and lead.group(1).split(" ", 1)[0].lower() in LEAD_START:
        rest = lead.group(2)
        # "... with his brother, New Heights, Kelce said": the name after the comma is an
        # appositive of the phrase's last noun; dropping the phrase would strand it.
        stranded = lead.group(1).rsplit(" ", 1)[-1][:1].islower() and re.match(
            r"[A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*, ", rest)
        if not stranded:
            out.append(upper_first(rest) if rest.split(" ", 1)[0].lower() in STOP else rest)
    # Trailing clause after the last comma: ", which ...", ", according to ...", ", X said".
    idx = s.rfind(", ")
    if idx > 0:
        tail = s[idx + 2:]
        said_tail = re.fullmatch(r"[\w .’'-]{1,40} (?:said|says|reported|added|noted)\.", tail)
        if tail.startswith(TRAIL_START) or said_tail:
            out.append(s[:idx] + ".")
    # Any last comma segment opening with a lowercase word (a participle, preposition or
    # conjunction phrase): "..., indicating a return to fitness." -> "...".
    # Only openers that cannot start the main predicate ("..., has dominated" can).
    if idx > 0:
        opener = s[idx + 2:].split(" ", 1)[0]
        tail_words = words(s[idx + 2:])
        clause_tail = any(w in AUX or w in MODALS for w in tail_words[1:4])
        if not clause_tail and ((re.fullmatch(r"[a-z]+ing", opener) and opener not in (
                "during", "nothing")) or opener in TRAIL_OPENERS):
            out.append(s[:idx] + ".")
    # A middle segment opening with a participle: "Kelce, speaking on X, said" -> drop it,
    # but only after a subject name ("In July, speaking ..., New Heights, Kelce said" has
    # a leading phrase there, and dropping it would glue "In July" to "New Heights").
    for m in re.finditer(r", ([a-z]+ing [^,;:]{2,60}), ", s):
        before = s[:m.start()]
        last = before.rsplit(" ", 1)[-1]
        if (not s[m.end():].startswith(("and ", "or ")) and s[m.end():m.end() + 1].islower()
                and CAP_RE.match(last) and last not in MONTHS and last not in WEEKDAYS
                and before.split(" ", 1)[0].lower() not in LEAD_START):
            out.append(before + " " + s[m.end():])
    # Intensifying adverbs and a few plain adjectives carry no claim of their own.
    for m in re.finditer(r" (?:" + "|".join(DROPPABLE) + r")(?= )", s):
        out.append(s[:m.start()] + s[m.end():])
    # Trailing prepositional phrase: "... concert in Kansas City." -> "... concert."
    # The phrase must be a plain noun phrase (no verb, no pronoun: "in the match had come
    # and gone" is a clause) and the word before it must not need it ("put the other").
    for m in re.finditer(r" (" + "|".join(sorted(TRAIL_PREPS)) + r") ", s):
        tail = s[m.end():]
        if not tail.endswith(".") or "," in tail or word_count(tail) > 6:
            continue
        tail_words = words(tail)
        last_kept = s[:m.start()].rsplit(" ", 1)[-1].lower()
        if (any(is_verb(w) or w in MODALS or w in PRONOUN_WORDS for w in tail_words)
                or is_verb(last_kept) or last_kept in NEEDS_COMPLEMENT):
            break
        out.append(s[:m.start()] + ".")
        break
    good = []
    for c in out:
        c = tidy(c)
        # The last comma segment must be a phrase, not a stranded word ("..., confirmed.").
        if word_count(c.rsplit(", ", 1)[-1]) < 3 and ", " in c:
            continue
        # "Although these complications were rare." - the main clause was the part dropped.
        if not main_clause_left(c):
            continue
        if c != s and sentence_like(c) and c not in good and word_count(c) >= 5:
            good.append(c)
    return good


def apply_synonyms(text: str, rng: Random, max_changes: int = 2) -> str:
    hits = [(p, r) for p, r in SYNONYM_RES if p.search(text)]
    if not hits:
        return text
    rng.shuffle(hits)
    done: list[str] = []
    for p, r in hits[:max_changes]:
        if r in done:  # "almost" -> "nearly" -> "almost" would undo itself
            continue
        text = p.sub(r, text, count=1)
        done.append(r)
    return text


def paraphrase_variants(s: str, rng: Random) -> list[str]:
    """Meaning-keeping reorderings and a few safe synonyms."""
    if not s.endswith(".") or has_quote(s):
        return []
    out: list[str] = []
    body = s[:-1]
    m = re.fullmatch(r"According to ([^,]{2,40}), (.+)", body)
    if m and word_count(m.group(1)) <= 6:
        out.append(f"{upper_first(lower_first(m.group(2)))}, {m.group(1)} said.")
    m = re.fullmatch(r"(.{20,}), according to ([^,]{2,40})", body)
    if m and word_count(m.group(2)) <= 6:
        out.append(f"According to {m.group(2)}, {lower_first(m.group(1))}.")
        out.append(f"{m.group(2)} said {lower_first(m.group(1))}.")
    m = re.fullmatch(r"(.{20,}), ([A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*){0,3}) (said|says)", body)
    if m:
        out.append(f"{m.group(2)} {m.group(3)} {lower_first(m.group(1))}.")
        out.append(f"{m.group(2)} {m.group(3)} that {lower_first(m.group(1))}.")
    m = re.fullmatch(r"([A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*){0,3}) (said|says) that (.{20,})", body)
    if m:
        out.append(f"{m.group(1)} {m.group(2)} {m.group(3)}.")
        out.append(f"{upper_first(m.group(3))}, {m.group(1)} {m.group(2)}.")
    m = re.fullmatch(r"((?:In|On|Last|Earlier|Later|This|Since|During|By) [^,]{2,25}), (.{20,})",
                     body)
    timely = m is not None and (DATE_PHRASE_RE.fullmatch(m.group(1)) is not None
                                or m.group(1).startswith(("Last ", "Earlier ", "Later ")))
    if m and timely and ", according to" not in m.group(2) and not m.group(2).endswith("said"):
        out.append(f"{upper_first(m.group(2))} {m.group(1)[0].lower()}{m.group(1)[1:]}.")
    # Each applicable synonym alone, then two at once.
    for pattern, repl in SYNONYM_RES:
        if pattern.search(s):
            out.append(pattern.sub(repl, s, count=1))
    syn = apply_synonyms(s, rng)
    if syn != s:
        out.append(syn)
    if out:
        first = out[0]
        syn2 = apply_synonyms(first, rng)
        if syn2 != first:
            out.append(syn2)
    good = []
    for c in out:
        c = tidy(c)
        if c != s and sentence_like(c) and c not in good:
            good.append(c)
    return good


SUBJECT_START = frozenset("he she they it we i the a an his her its their this that these "
                          "those there".split())


def clause_split(corpus: Corpus, s: str) -> list[str]:
    """The clauses of "A, and B." / "A, but B." / "A; B." as claims of their own - each is
    stated by the sentence. Skipped for conditionals and correlatives, where neither
    clause is asserted alone."""
    if has_quote(s) or not s.endswith(".") or re.search(
            r"\b(?:if|unless|whether|neither|either|nor|not only)\b", s, re.I):
        return []
    out = []
    for m in re.finditer(r"(?:, (?:and|but|while|whereas|yet)|;) ", s):
        first, second = s[:m.start()] + ".", s[m.end():]
        first_word = first.split(" ", 1)[0].lower().strip(",")
        subordinate = first_word in ("when", "after", "although", "though", "because", "as",
                                     "while", "since", "before", "once", "until", "despite",
                                     "with")
        if not subordinate and any(is_verb(w) for w in words(first)) and sentence_like(first):
            out.append(first)
        head = second.split(" ", 1)[0]
        starts_subject = head.lower() in SUBJECT_START or any(
            n.start == 0 for n in name_spans(second, corpus.known))
        if starts_subject and any(is_verb(w) for w in words(second)):
            second = upper_first(second)
            if sentence_like(second):
                out.append(second)
    return out


def appositive_claims(corpus: Corpus, s: str) -> list[str]:
    """"Amazon, one of the pioneers of the e-reader, has ..." -> "Amazon is one of the
    pioneers of the e-reader." (the appositive states it)."""
    if has_quote(s):
        return []
    out = []
    for n in name_spans(s, corpus.known):
        m = re.match(r", ((?:the|a|an|its|one of|former|chief|ceo|co-founder|founder|head of)"
                     r" [^,;:—]{3,70})(?:,|\.$)", s[n.end:])
        if not m or in_list(s, n):
            continue
        seg = m.group(1)
        if any(is_verb(w) for w in words(seg)) or re.search(r"\b(?:who|which|that)\b", seg):
            continue
        claim = f"{n.text} is {seg}."
        if sentence_like(claim):
            out.append(claim)
    return out


def merge_claims(a: str, b: str, rng: Random) -> str | None:
    """Two sentences as one claim: "A, and b." or "A; b." """
    if not a.endswith(".") or not b.endswith(".") or has_quote(a) or has_quote(b):
        return None
    if word_count(a) + word_count(b) > 60:
        return None
    joiner = rng.choice((", and ", "; ", ", and ", " and "))
    return a[:-1] + joiner + lower_first(b)


@dataclass
class Positive:
    claim: str
    kind: str
    art: Article
    window: tuple[int, int]
    sources: tuple[int, ...]

    @property
    def evidence(self) -> str:
        return " ".join(self.art.sentences[self.window[0]:self.window[1]])


def support_positives(corpus: Corpus, rng: Random) -> list[Positive]:
    out: list[Positive] = []
    for art in corpus.articles:
        n = len(art.sentences)
        for i, s in enumerate(art.sentences):
            claims: list[tuple[str, str]] = [(s, "copy")]
            # Shortenings, one and two removals deep.
            comp = compress_variants(s)
            comp2 = [c2 for c in comp for c2 in compress_variants(c)]
            claims += [(c, "compress") for c in comp + comp2]
            splits = clause_split(corpus, s)
            claims += [(c, "clause_split") for c in splits]
            for c in splits:  # a clause, shortened or reworded
                claims += [(c2, "clause_split") for c2 in compress_variants(c)[:1]]
                claims += [(c2, "clause_split") for c2 in paraphrase_variants(c, rng)[:1]]
            claims += [(c, "appositive") for c in appositive_claims(corpus, s)]
            # Rewordings of the sentence and of its shortenings.
            claims += [(c, "light_paraphrase") for c in paraphrase_variants(s, rng)]
            for c in (comp + comp2)[:3]:
                claims += [(c2, "light_paraphrase") for c2 in paraphrase_variants(c, rng)[:2]]
            wins = windows(n, i, i)
            seen: set[str] = set()
            for claim, kind in claims:
                if claim in seen:
                    continue
                seen.add(claim)
                for w in wins:
                    out.append(Positive(claim, kind, art, w, (i,)))
        # merge2: neighbouring sentences (1 or 2 apart), each possibly compressed.
        for i in range(n):
            for j in range(i + 1, min(n, i + 3)):
                a_opts = [art.sentences[i], *compress_variants(art.sentences[i])[:2]]
                b_opts = [art.sentences[j], *compress_variants(art.sentences[j])[:2]]
                wins = windows(n, i, j)
                made: set[str] = set()
                for a in a_opts:
                    for b in b_opts:
                        merged = merge_claims(a, b, rng)
                        if merged is None or merged in made:
                            continue
                        made.add(merged)
                        for w in wins:
                            out.append(Positive(merged, "merge2", art, w, (i, j)))
    return out


# ---------------------------------------------------------------------------------------
# Support task: negatives (each from a positive claim, with the same evidence)
# ---------------------------------------------------------------------------------------


def claim_names(corpus: Corpus, claim: str) -> list[Name]:
    return name_spans(claim, corpus.known)


def replace_span(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def do_form(verb: str, lemma: str) -> str:
    """"does" for a 3rd-person present form (says, plans, carries), else "did"."""
    if verb != lemma and verb in (lemma + "s", lemma + "es", lemma[:-1] + "ies"):
        return "does"
    return "did"


def neg_entity_swap(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    """Swap a name for one of the same shape from another article (or, for longer
    articles, a name of this article that the evidence window does not mention)."""
    ev = p.evidence
    names = [n for n in claim_names(corpus, p.claim)
             if mentions(ev, n.text) and not numbered(p.claim, n)]
    if not names:
        return None
    target = names[rng.randrange(len(names))]
    cls = corpus.cls(target.text, p.art.group)
    new = None
    if len(p.art.sentences) > (p.window[1] - p.window[0]) and rng.random() < 0.35:
        inside = [x for x in corpus.article_names[p.art.group]
                  if x != target.text and corpus.cls(x, p.art.group) == cls]
        new = foreign([(x, "") for x in inside], p.art.group, ev, rng)
    if new is None:
        new = foreign(corpus.donors.get((p.art.split, cls), []), p.art.group, ev, rng)
    if new is None or new in target.text or target.text in new:
        return None
    swapped = p.claim
    for n in sorted((n for n in claim_names(corpus, p.claim) if n.text == target.text),
                    key=lambda n: -n.start):
        swapped = replace_span(swapped, n.start, n.end, new)
    return swapped, "entity_swap"


def number_matches(text: str) -> list[re.Match[str]]:
    """Numbers that are quantities: not years, scores, times, ordinals or model names."""
    out = []
    for m in NUM_RE.finditer(text):
        s, e = m.start(), m.end()
        before = text[s - 1] if s else " "
        after = text[e:e + 2]
        if before.isalnum() or before in "-–.:/#" or (after[:1].isalpha() and not m.group("suf")):
            continue
        if re.match(r"[-–:/]\d", after) or after[:1] in ":/":
            continue
        num = m.group("num")
        if (not m.group("cur") and not m.group("suf") and re.fullmatch(r"(19|20)\d\d", num)):
            continue  # a year: date_swap's business
        prev_word = text[:s].rstrip().rsplit(" ", 1)[-1] if text[:s].strip() else ""
        if prev_word and any(c.isupper() for c in prev_word) and prev_word.lower() not in STOP:
            continue  # "iPhone 14", "No. 87", "Pixel 8"
        out.append(m)
    return out


def changed_number(m: re.Match[str], rng: Random) -> str:
    cur, num, suf = m.group("cur") or "", m.group("num"), m.group("suf") or ""
    scale = suf.strip()
    if scale in SCALE_SWAP and rng.random() < 0.4:
        return cur + num + suf.replace(scale, SCALE_SWAP[scale])
    commas = "," in num
    if "." in num:
        whole, frac = num.replace(",", "").split(".")
        value = float(whole + "." + frac)
        options = [value + 1, value * 2, max(0.1, value / 2)]
        if len(whole) == 1 == len(frac) and whole != frac:
            options.append(float(frac + "." + whole))  # 1.4 -> 4.1
        options = [o for o in options if abs(o - value) / max(value, 1e-9) >= 0.2]
        new = options[rng.randrange(len(options))]
        text = f"{new:.{len(frac)}f}"
    else:
        value = int(num.replace(",", ""))
        if value <= 12:
            options = [x for x in range(2, 13) if abs(x - value) >= 1 and x != value]
        elif value < 100:
            options = [value * 2, value // 2, value + 10 + value // 3]
            rev = int(str(value)[::-1])
            if str(value)[-1] != "0" and rev != value:
                options += [rev, rev]
        else:
            options = [value * 2, value * 3, value // 2, value + value // 2, value // 4]
            options = [int(float(f"{o:.2g}")) if o > 100 else o for o in options]
        options = [o for o in options if o > 0 and abs(o - value) / value >= 0.2]
        new_int = options[rng.randrange(len(options))]
        text = f"{new_int:,}" if commas or (new_int >= 10000 and commas) else str(new_int)
    return cur + text + suf


def neg_number_swap(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    ev = p.evidence
    spots: list[tuple[int, int, str]] = []
    for m in number_matches(p.claim):
        for _ in range(3):
            new = changed_number(m, rng)
            if new != m.group() and not mentions(ev, new):
                spots.append((m.start(), m.end(), new))
                break
    for m in NUMBER_WORD_RE.finditer(p.claim):
        word = m.group(1)
        value = NUMBER_WORDS[word.lower()]
        choices = [w for w, v in NUMBER_WORDS.items() if v != value and not mentions(ev, w)]
        if choices:
            new = choices[rng.randrange(len(choices))]
            new = upper_first(new) if word[0].isupper() else new
            spots.append((m.start(), m.end(), new))
    if not spots:
        return None
    s, e, new = spots[rng.randrange(len(spots))]
    return replace_span(p.claim, s, e, new), "number_swap"


def neg_date_swap(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    ev, claim = p.evidence, p.claim
    spots: list[tuple[int, int, str]] = []
    for m in re.finditer(r"\b(" + "|".join(WEEKDAYS) + r")\b", claim):
        opts = [d for d in WEEKDAYS if not mentions(ev, d)]
        if opts:
            spots.append((m.start(), m.end(), opts[rng.randrange(len(opts))]))
    month_re = "|".join(m for m in MONTHS if m != "May") + r"|May(?= \d)"
    for m in re.finditer(r"\b(" + month_re + r")\b", claim):
        opts = [x for x in MONTHS if not mentions(ev, x) and x != m.group()]
        if opts:
            spots.append((m.start(), m.end(), opts[rng.randrange(len(opts))]))
    for m in re.finditer(r"(?<![\w$.,-])((?:19|20)\d\d)(?![\w,.%-]\d?)", claim):
        year = int(m.group(1))
        opts = [str(year + d) for d in (-3, -2, -1, 1, 2) if not mentions(ev, str(year + d))]
        if opts:
            spots.append((m.start(), m.end(), opts[rng.randrange(len(opts))]))
    for family in RELATIVE_DATES:
        for phrase in family:
            for m in re.finditer(r"\b" + re.escape(phrase) + r"\b", claim, re.I):
                opts = [x for x in family if x != phrase and not mentions(ev, x)]
                if opts:
                    spots.append((m.start(), m.end(), opts[rng.randrange(len(opts))]))
    if not spots:
        return None
    s, e, new = spots[rng.randrange(len(spots))]
    if claim[s:e][:1].isupper():
        new = upper_first(new)
    return replace_span(claim, s, e, new), "date_swap"


def neg_negation(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    """Insert a negation after the first auxiliary (or "X said" -> "X did not say"); if the
    claim has exactly one negation of the auxiliary kind, remove it instead. Claims with
    any other negation word are skipped: a second "not" can cancel or blur the first."""
    claim = p.claim
    negs = NEGATION_RE.findall(claim)
    if negs:
        if len(negs) != 1:
            return None
        for pattern, repl in UNNEGATE:
            if pattern.search(claim):
                new = upper_first(tidy(pattern.sub(repl, claim, count=1)))
                if new != claim and not NEGATION_RE.search(new):
                    return new, "negation"
        return None
    aux_re = re.compile(r"\b(" + "|".join(AUX) + r")\b (\w+)")
    for m in aux_re.finditer(claim):
        aux, nxt = m.group(1), m.group(2)
        before = claim[:m.start()].lower().split()[-3:]
        if any(w in ("whether", "if") for w in before) or nxt in ("to", "not"):
            continue
        if aux in ("has", "have", "had") and not (nxt in PARTICIPLES or nxt.endswith(("ed",
                                                                                      "en"))):
            continue
        forms = AUX_NEGATED[aux]
        neg = forms[rng.randrange(len(forms))]
        return claim[:m.start()] + neg + claim[m.start() + len(aux):], "negation"
    for m in re.finditer(r"\b([a-z]+)\b", claim):
        verb = m.group(1)
        lemma = VERB_LEMMA.get(verb)
        if lemma is None or verb in ("left", "found", "led") or m.start() == 0:
            continue
        prev = claim[:m.start()].split()[-1:] if claim[:m.start()].strip() else []
        if prev and prev[0].lower() in ("to", "the", "a", "an", "be", "been", "being", "was",
                                        "were", "is", "are", "has", "have", "had"):
            continue
        do = do_form(verb, lemma)
        neg = rng.choice((f"{do} not", f"{do}n’t"))
        return replace_span(claim, m.start(), m.end(), f"{neg} {lemma}"), "negation"
    return None


def neg_antonym(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    ev, claim = p.evidence, p.claim
    spots = [(m.start(), m.end(), ANTONYMS[m.group(1)]) for m in ANTONYM_RE.finditer(claim)]
    spots += [(m.start(), m.end(), "down" if m.group(1) == "up" else "up")
              for m in UPDOWN_RE.finditer(claim)]
    good = []
    for s, e, new in spots:
        candidate = replace_span(claim, s, e, new)
        # The changed word with its neighbours must not occur in the evidence.
        ctx = " ".join(words(candidate[max(0, s - 20):s + len(new) + 20])[1:-1])
        if ctx and ctx in " ".join(words(ev)):
            continue
        good.append(candidate)
    if not good:
        return None
    return good[rng.randrange(len(good))], "antonym"


SYMMETRIC_BETWEEN = frozenset("and or with vs vs. versus between met & , plus nor".split())


def neg_role_swap(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    """Exchange two names (or two amounts) in the claim: "A sued B" -> "B sued A"."""
    claim = p.claim
    names = claim_names(corpus, claim)
    counts = Counter(n.text for n in names)
    names = [n for n in names if counts[n.text] == 1 and not numbered(claim, n)]
    pairs = []
    for x in range(len(names)):
        for y in range(x + 1, len(names)):
            a, b = names[x], names[y]
            if a.text in b.text or b.text in a.text:
                continue
            between = claim[a.end:b.start]
            between_words = [w for w in re.findall(r"[\w’'.&,]+", between.lower())]
            if not between_words or all(w.strip(",") in SYMMETRIC_BETWEEN or w == ","
                                        for w in between_words):
                continue  # "A and B", "A, B": order carries no meaning
            if re.search(r"\b(and|or|with|between|vs\.?|versus|met|married)\b", between):
                continue
            # Same shape only (person <-> person, team <-> team), so the result reads as
            # a sentence; not across a long stretch, where the swap is just noise.
            cls_a, cls_b = corpus.cls(a.text, p.art.group), corpus.cls(b.text, p.art.group)
            if cls_a == cls_b != "multi" and 2 <= len(between_words) <= 15:
                pairs.append((0, x, y))
    nums = number_matches(claim)
    if not pairs and len(nums) >= 2:
        a_m, b_m = nums[0], nums[1]
        if (a_m.group("suf") or "") == (b_m.group("suf") or "") and a_m.group() != b_m.group():
            swapped = (claim[:a_m.start()] + b_m.group() + claim[a_m.end():b_m.start()]
                       + a_m.group() + claim[b_m.end():])
            return swapped, "role_swap"
    if not pairs:
        return None
    pairs.sort()
    best = [pp for pp in pairs if pp[0] == pairs[0][0]]
    _, x, y = best[rng.randrange(len(best))]
    a, b = names[x], names[y]
    swapped = claim[:a.start] + b.text + claim[a.end:b.start] + a.text + claim[b.end:]
    segment = swapped[a.start:a.start + len(b.text) + (b.start - a.end) + len(a.text)]
    if mentions(p.evidence, segment):
        return None
    return swapped, "role_swap"


def neg_added_detail(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    """The claim plus one detail the evidence does not state."""
    claim, ev = p.claim, p.evidence
    if not claim.endswith(".") or claim.endswith(("”.", "\".")):
        return None
    det = corpus.details(p.art.split)
    body = claim[:-1]
    options = ["which", "place", "weekday", "source", "after", "adjective"]
    rng.shuffle(options)
    for opt in options:
        new = None
        if opt == "which" and not re.search(r", (which|who) ", claim):
            d = foreign(det.get("which", []), p.art.group, ev, rng)
            if d and coverage(d, ev) < 0.5:
                new = body + d + "."
        elif opt == "place":
            d = foreign(det.get("place", []), p.art.group, ev, rng)
            if d:
                new = body + rng.choice((" in ", " in ", " at ")) + d + "."
        elif opt == "weekday" and not DATE_PHRASE_RE.search(claim):
            days = [d for d in WEEKDAYS if not mentions(ev, d)]
            if days:
                new = body + " on " + days[rng.randrange(len(days))] + "."
        elif opt == "source" and "according to" not in claim and not re.search(
                r"\bsaid\b", claim):
            d = foreign(det.get("source", []), p.art.group, ev, rng)
            if d:
                new = body + ", according to " + d + "."
        elif opt == "after":
            d = foreign(det.get("after", []), p.art.group, ev, rng)
            if d and coverage(d, ev) < 0.5:
                new = body + d + "."
        elif opt == "adjective":
            spots = [m for m in re.finditer(r"\b(the|a|an) ([a-z][a-z-]+)\b", claim)
                     if m.group(2) not in STOP and m.group(2) not in ADDED_ADJECTIVES]
            if spots:
                m = spots[rng.randrange(len(spots))]
                adjs = [a for a in ADDED_ADJECTIVES if not mentions(ev, a)]
                if adjs:
                    adj = adjs[rng.randrange(len(adjs))]
                    det_word = m.group(1)
                    if det_word in ("a", "an"):
                        det_word = "an" if adj[0] in "aeiou" else "a"
                    new = replace_span(claim, m.start(), m.end(), f"{det_word} {adj} {m.group(2)}")
        if new and word_count(new) <= 70:
            return new, "added_detail"
    return None


def neg_other_article(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    pool = corpus.split_sentences[p.art.split]
    for _ in range(6):
        g, _i, s = pool[rng.randrange(len(pool))]
        if g != p.art.group and coverage(s, p.evidence) < 0.4 and word_count(s) >= 5:
            return s, "other_article"
    return None


def neg_same_article(corpus: Corpus, p: Positive, rng: Random) -> tuple[str, str] | None:
    outside = [i for i in range(len(p.art.sentences))
               if not p.window[0] <= i < p.window[1]]
    rng.shuffle(outside)
    for i in outside:
        s = p.art.sentences[i]
        if coverage(s, p.evidence) < 0.6 and word_count(s) >= 5:
            return s, "same_article_other_sentence"
    return None


NEGATIVE_RECIPES = (neg_entity_swap, neg_number_swap, neg_date_swap, neg_negation,
                    neg_antonym, neg_role_swap, neg_added_detail, neg_other_article,
                    neg_same_article)


def still_supported(claim: str, evidence: str) -> bool:
    """Last guard: a "negative" whose text the evidence contains is not a negative."""
    core = claim.rstrip(".").strip()
    return core.lower() in evidence.lower()


def support_pairs(corpus: Corpus, rng: Random,
                  positive_share: float = SUPPORT_POSITIVE_SHARE) -> list[dict[str, Any]]:
    positives = support_positives(corpus, rng)
    negatives: dict[str, list[tuple[Positive, str]]] = defaultdict(list)
    for p in positives:
        for recipe in NEGATIVE_RECIPES:
            made = recipe(corpus, p, rng)
            if made is None:
                continue
            claim, kind = made
            claim = tidy(claim)
            if claim == p.claim or still_supported(claim, p.evidence):
                continue
            negatives[kind].append((p, claim))
    # Positives: keep all but thin the copies to ~15%.
    copies = [p for p in positives if p.kind == "copy"]
    others = [p for p in positives if p.kind != "copy"]
    max_copies = int(len(others) * COPY_SHARE_OF_POSITIVES / (1 - COPY_SHARE_OF_POSITIVES))
    if len(copies) > max_copies:
        keep = sorted(rng.sample(range(len(copies)), max_copies))
        copies = [copies[i] for i in keep]
    kept_pos = others + copies
    # Negatives: spread the budget evenly over the kinds (water-filling), other_article
    # capped: unrelated sentences are easy and teach little.
    budget = int(len(kept_pos) * (1 - positive_share) / positive_share)
    caps = {k: len(v) for k, v in negatives.items()}
    caps["other_article"] = min(caps.get("other_article", 0),
                                int(budget * OTHER_ARTICLE_SHARE_OF_NEGATIVES))
    alloc = water_fill(caps, budget)
    rows = []
    for p in kept_pos:
        rows.append(pair("support", p.claim, p.evidence, 1, p.kind, p.art))
    for kind in sorted(negatives):
        items = negatives[kind]
        take = sorted(rng.sample(range(len(items)), alloc.get(kind, 0)))
        for i in take:
            p, claim = items[i]
            rows.append(pair("support", claim, p.evidence, 0, kind, p.art))
    return rows


def water_fill(caps: dict[str, int], budget: int) -> dict[str, int]:
    """Split `budget` as evenly as possible over kinds, none above its cap."""
    alloc = dict.fromkeys(caps, 0)
    open_kinds = sorted(k for k in caps if caps[k] > 0)
    remaining = budget
    while remaining > 0 and open_kinds:
        share = max(1, remaining // len(open_kinds))
        for k in list(open_kinds):
            add = min(share, caps[k] - alloc[k], remaining)
            alloc[k] += add
            remaining -= add
            if alloc[k] >= caps[k]:
                open_kinds.remove(k)
            if remaining <= 0:
                break
    return alloc


def pair(task: str, a: str, b: str, label: int, kind: str, art: Article | None,
         group: str | None = None, split: str | None = None) -> dict[str, Any]:
    return {"task": task, "a": a, "b": b, "label": int(label), "kind": kind,
            "group": group if art is None else art.group,
            "split": split if art is None else art.split}


# ---------------------------------------------------------------------------------------
# Answer task: template questions from a sentence
# ---------------------------------------------------------------------------------------


@dataclass
class Clause:
    lead: str       # leading phrase before the first comma ("In July"), or ""
    subj: str       # subject as it should read inside a question
    subj_is_name: bool
    verb: str       # the auxiliary or inflected verb as in the sentence
    is_aux: bool
    lemma: str      # for do-support ("say"); "" when is_aux
    do: str         # "did"/"does"; "" when is_aux
    rest: str       # everything after the verb, without the final full stop


ADVERBS = frozenset("also still reportedly recently then now already just previously later "
                    "officially finally quickly immediately".split())


def guess_lemma(verb: str) -> str:
    """Base form of a regular past tense ("tumbled" -> "tumble", "stopped" -> "stop")."""
    if verb in VERB_LEMMA:
        return VERB_LEMMA[verb]
    if verb.endswith("ied"):
        return verb[:-3] + "y"
    stem = verb[:-2]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    if (stem.endswith(("c", "v", "z", "u", "at", "bl", "pl", "tl", "dl", "gl", "kl", "iz",
                       "or", "ar", "ir", "ur", "ul", "id"))
            or re.search(r"[aeiou]s$", stem) or stem.endswith("g")
            or re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwy]", stem)):
        return stem + "e"
    return stem


MODALS = ("could", "may", "might")


def is_verb(word: str) -> bool:
    return (word in AUX or word in MODALS or word in VERB_LEMMA
            or (re.fullmatch(r"[a-z]{3,}ed", word) is not None and word not in STOP))


PRONOUNS = {"he": "he", "she": "she", "they": "they", "it": "it", "we": "we"}
DETERMINERS = frozenset("the a an his her its their this these".split())


def analyze(corpus: Corpus, s: str) -> Clause | None:
    """The main clause as (leading material, subject, verb, rest), found as the first verb
    whose subject - a name, a pronoun or "the + up to 5 words" - starts the sentence or
    follows a comma. Used to turn a sentence into wh-questions."""
    if not s.endswith(".") or has_quote(s) or "?" in s:
        return None
    body = re.sub(r"^(?:But|And|So|Yet|Then|Also|Still|Now|Meanwhile),? ", "", s[:-1])
    body = upper_first(body)
    toks = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", body)]
    names = name_spans(body, corpus.known)
    for k in range(1, len(toks)):
        verb = toks[k][2]
        if not is_verb(verb) or toks[k - 1][2][-1:] in ",;:—–":
            continue
        subj_start, subj_is_name = -1, False
        prev_end = toks[k - 1][1]
        for n in names:
            if n.end == prev_end:
                subj_start, subj_is_name = n.start, True
                if body[:n.start].endswith(("The ", "the ")):
                    subj_start -= 4
                m2 = re.search(r"([A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*) and $",
                               body[:n.start])
                if m2:
                    subj_start = m2.start()
        if subj_start < 0 and toks[k - 1][2].lower() in PRONOUNS:
            subj_start = toks[k - 1][0]
        if subj_start < 0:
            for j in range(k - 1, max(-1, k - 7), -1):
                w = toks[j][2]
                if w.lower() in DETERMINERS:
                    inner = [x[2] for x in toks[j + 1:k]]
                    if inner and all(re.fullmatch(r"[\w’'-]+", x) and x.lower() not in STOP
                                     and not is_verb(x) and not x.endswith("ly")
                                     for x in inner):
                        subj_start = toks[j][0]
                    break
        if subj_start < 0 and k <= 3:
            # A bare noun phrase opening the sentence: "New customers can get ...".
            inner = [x[2] for x in toks[:k]]
            if all(re.fullmatch(r"[\w’'-]+", x) and x.lower() not in STOP and not is_verb(x)
                   and not x.endswith("ly") for x in inner):
                subj_start = 0
        before = body[:subj_start].rstrip()
        subj = body[subj_start:prev_end]
        if subj_start < 0 or (before and not before.endswith(",")) or subj.endswith(
                ("’s", "'s", "s’")) or re.search(r"[’'](?:re|ve|ll|d|s)\b", subj):
            continue  # no subject we can read for this verb: try the next one
        if before.split(" ", 1)[0].lower() in ("if", "unless", "whether"):
            return None  # a conditional: the main clause is not asserted
        lead = before.rstrip(",")
        if not subj_is_name:
            subj = lower_first(subj)
        rest = body[toks[k][1]:].strip()
        nxt = rest.split(" ", 1)[0] if rest else ""
        if verb in AUX or verb in MODALS:
            if verb in ("has", "have", "had") and not (nxt in PARTICIPLES or nxt.endswith(
                    ("ed", "en"))):
                do = {"has": "does", "have": "do", "had": "did"}[verb]
                return Clause(lead, subj, subj_is_name, verb, False, "have", do, rest)
            return Clause(lead, subj, subj_is_name, verb, True, "", "", rest)
        lemma = guess_lemma(verb)
        return Clause(lead, subj, subj_is_name, verb, False, lemma, do_form(verb, lemma), rest)
    return None


def fronted(cl: Clause, wh: str, rest: str) -> str:
    """"When did Kelce say ...?" / "Why were the peacekeepers deployed ...?" """
    rest = tidy(rest)
    if cl.is_aux:
        q = f"{wh} {cl.verb} {cl.subj} {rest}"
    else:
        q = f"{wh} {cl.do} {cl.subj} {cl.lemma} {rest}"
    return tidy(q).rstrip(",;: ") + "?"


def truncate_question(q: str, keep_from: int = 0) -> str | None:
    """A shorter, less specific question: cut at a preposition/comma boundary after at
    least 6 words (and after position keep_from, where the wh-slot sits)."""
    body = q[:-1]
    for m in re.finditer(r",| (?:in|at|on|with|during|for|from|by|after|which|who|as|to"
                         r"|while|including|amid|since|over|and) ", body):
        if m.start() <= keep_from:
            continue
        head = body[:m.start()].rstrip(",")
        if word_count(head) >= 6 and head.count("(") == head.count(")"):
            last = head.rsplit(" ", 1)[-1].lower()
            # Not right after a verb ("did Kelce say he intended?"): its object is the point.
            if last in BAD_ENDINGS or is_verb(last) or last.endswith("ing"):
                continue
            return head + "?"
    return None


def reworded(q: str, rng: Random) -> str:
    """Drop adverbs and apply synonyms, so a question is not a word-for-word echo."""
    q2 = re.sub(r"\b(?:" + "|".join(sorted(ADVERBS)) + r") ", "", q)
    q2 = re.sub(r", [^,]{2,40}, ", " ", q2) if rng.random() < 0.5 else q2
    return tidy(apply_synonyms(q2, rng, 3))


@dataclass
class Template:
    question: str
    slot: str   # the answer text in the sentence
    kind: str   # who/when/how_many/where/why/which


def date_replacement(phrase: str) -> str:
    p = phrase.lower()
    if re.search(r"monday|tuesday|wednesday|thursday|friday|saturday|sunday", p):
        return "on what day"
    if re.search(r"\d{1,2}(?:st|nd|rd|th)?\b", p) and re.search(
            r"january|february|march|april|may|june|july|august|september|october|november"
            r"|december|jan|feb|aug|sept|oct|nov|dec", p):
        return "on what date"
    if re.search(r"(19|20)\d\d", p) and not re.search(r"[a-z]{3}", p.replace("in ", "")):
        return "in what year"
    if re.search(r"january|february|march|april|may|june|july|august|september|october"
                 r"|november|december", p):
        return "in what month"
    return "when"


ROLE_WORDS = frozenset("""coach ceo president minister manager player quarterback founder
chairman spokesperson spokesman spokeswoman executive director secretary senator judge
analyst investor star singer actor actress rapper striker defender midfielder goalkeeper
captain officer chief reporter author editor host partner brother sister son daughter wife
husband girlfriend boyfriend mother father receiver back""".split())


def in_list(text: str, n: Name) -> bool:
    """A name inside "A, B and C" or "(B)" or broken at an apostrophe: echoing it reads
    badly and the wh-word cannot tell which item is meant."""
    after, before = text[n.end:], text[:n.start]
    return bool(re.match(r"(?:,| and| or) [A-Z]|[’'(]|\)", after)
                or re.search(r"[A-Z][\w.’'-]*,\s$|\b(?:and|or) $|[(’']$", before))


def templates(corpus: Corpus, s: str, rng: Random) -> list[Template]:
    """Wh-questions the sentence itself answers (imperfect English is fine)."""
    cl = analyze(corpus, s)
    out: list[Template] = []
    body = s[:-1] if s.endswith(".") else s
    if cl is not None:
        core_rest = cl.rest
        # who: the subject is a name.
        if cl.subj_is_name:
            q = tidy(f"Who {cl.verb} {core_rest}").rstrip(",") + "?"
            if word_count(q) >= 4:
                out.append(Template(q, cl.subj, "who"))
        # when: a date phrase in the rest, or in the leading phrase.
        dm = DATE_PHRASE_RE.search(core_rest)
        if dm:
            rest = core_rest[:dm.start()] + core_rest[dm.end():]
            out.append(Template(fronted(cl, "When", rest), dm.group().strip(), "when"))
        elif cl.lead and (lead_date := DATE_PHRASE_RE.search(cl.lead)):
            out.append(Template(fronted(cl, "When", core_rest), lead_date.group(), "when"))
        # where: "in/at <Place>".
        pm = re.search(r"\b(in|at) ((?:the )?[A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*)", core_rest)
        if pm and not DATE_PHRASE_RE.fullmatch(pm.group()) and pm.group(2).split()[-1] not in (
                MONTHS + WEEKDAYS) and not re.match(r",? (?:and )?[A-Z]", core_rest[pm.end():]):
            rest = core_rest[:pm.start()] + core_rest[pm.end():]
            out.append(Template(fronted(cl, "Where", rest), pm.group(2), "where"))
        # why: a reason clause.
        rm = re.search(r",? \b(because(?: of)?|due to|after|following|as a result of) "
                       r"([^,;]{6,})", core_rest)
        if rm:
            rest = core_rest[:rm.start()] + core_rest[rm.end():]
            if word_count(rest) >= 1:
                out.append(Template(fronted(cl, "Why", rest), rm.group(2), "why"))
        # how many/much directly after the verb: "had two touchdowns" -> fronted.
        nm = re.match(r"(?:[$£€]\d[\d,.]*(?: (?:million|billion|trillion))?|\d[\d,.]*"
                      r"|(?:" + "|".join(NUMBER_WORDS) + r")) ([a-z]+)\b", core_rest)
        if nm and not cl.is_aux and not nm.group().startswith(("$", "£", "€")):
            rest = core_rest[nm.end():]
            out.append(Template(fronted(cl, f"How many {nm.group(1)}", rest),
                                nm.group().rsplit(" ", 1)[0], "how_many"))
        elif nm and cl.lemma in MONEY_VERBS:
            rest = core_rest[nm.end() - len(nm.group(1)):]
            out.append(Template(fronted(cl, "How much", rest), nm.group(), "how_much"))
    # Echo questions (the slot replaced in place) where fronting is not available.
    kinds = {t.kind for t in out}
    if "how_many" not in kinds and "how_much" not in kinds:
        for m in number_matches(body):
            s0, e0 = m.start(), m.end()
            if m.group("cur"):
                wh = "how much"
            elif m.group("suf") and m.group("suf").strip() in ("%", "percent", "per cent"):
                wh = "what percentage"
            elif re.match(r" [A-Z]", body[e0:]):
                continue  # "23 LSU": a ranking or label, not a count
            else:
                nxt = re.match(r" ([a-z]+)\b", body[e0:])
                wh = "how many"
                if nxt and nxt.group(1) not in STOP:
                    e0 += nxt.end()
                    wh = f"how many {nxt.group(1)}"
            q = tidy(upper_first(body[:s0] + wh + body[e0:])) + "?"
            if not has_quote(q):
                out.append(Template(q, m.group(), "how_many"))
            break
    if "when" not in kinds:
        dm = DATE_PHRASE_RE.search(body)
        if dm and not has_quote(body):
            q = tidy(upper_first(body[:dm.start()] + date_replacement(dm.group())
                                 + body[dm.end():])) + "?"
            out.append(Template(q, dm.group(), "when"))
    # which/whom: names in the middle of the sentence, echoed ("... to visit what?").
    if not has_quote(body):
        names = [n for n in name_spans(body, corpus.known) if n.start > 0
                 and not in_list(body, n)]
        for n in rng.sample(names, min(2, len(names))):
            before = body[:n.start]
            if any(t in ORG_WORDS for t in n.text.split()):
                wh = "which organisation"
            elif re.search(r"\b(?:" + "|".join(sorted(ROLE_WORDS)) + r") $", before):
                wh = "whom"
            else:
                wh = "what"
            if before.endswith(("the ", "The ")):
                before = before[:-4]
            q = tidy(upper_first(before + wh + body[n.end:])) + "?"
            out.append(Template(q, n.text, "which"))
    return [t for t in out if word_count(t.question) >= 4 and t.question[:1].isupper()]


WH_RE = re.compile(r"\b(?:who|whom|what|when|where|why|how|which)\b", re.I)


def question_variants(t: Template, rng: Random) -> list[str]:
    """The question as made, a shorter cut, and a reworded one."""
    out = [t.question]
    keep = 0
    for wh in ("how many", "how much", "what percentage", "on what", "in what", "when",
               "whom", "which organisation", "which place", "what"):
        idx = t.question.find(wh)
        if idx > 0:
            keep = idx + len(wh)
            break
    short = truncate_question(t.question, keep)
    if short:
        out.append(short)
    base = short if short and rng.random() < 0.5 else t.question
    rew = reworded(base, rng)
    if rew.endswith("?"):
        out.append(upper_first(rew))
    uniq: list[str] = []
    for q in out:
        # Rewording may cut the clause that held the wh-word: then it is no question.
        if q not in uniq and WH_RE.search(q):
            uniq.append(q)
    return uniq


def swap_in_question(corpus: Corpus, q: str, b: str, group: str, split: str,
                     rng: Random) -> str | None:
    """Change a name / number / year / month the question shares with b for one that b
    lacks, so b no longer answers it (qa_entity_swap)."""
    spots: list[tuple[int, int, str]] = []
    for n in name_spans(q, corpus.known):
        if n.start == 0 or not mentions(b, n.text):
            continue
        cls = corpus.cls(n.text, group)
        new = foreign(corpus.donors.get((split, cls), []), group, b, rng)
        if new and new not in n.text and n.text not in new:
            spots.append((n.start, n.end, new))
    for m in number_matches(q):
        if mentions(b, m.group()):
            new = changed_number(m, rng)
            if new != m.group() and not mentions(b, new):
                spots.append((m.start(), m.end(), new))
    for m in re.finditer(r"\b((?:19|20)\d\d)\b", q):
        if mentions(b, m.group()):
            new = str(int(m.group()) + rng.choice((-2, -1, 1, 2)))
            if not mentions(b, new):
                spots.append((m.start(), m.end(), new))
    for m in re.finditer(r"\b(" + "|".join(MONTHS + WEEKDAYS) + r")\b", q):
        if mentions(b, m.group()):
            family = MONTHS if m.group() in MONTHS else WEEKDAYS
            opts = [x for x in family if not mentions(b, x)]
            if opts:
                spots.append((m.start(), m.end(), opts[rng.randrange(len(opts))]))
    if not spots:
        return None
    s, e, new = spots[rng.randrange(len(spots))]
    return q[:s] + new + q[e:]


def missing_slot_questions(corpus: Corpus, s: str) -> list[str]:
    """Questions about a detail the sentence does not give (qa_missing_slot)."""
    cl = analyze(corpus, s)
    if cl is None:
        return []
    out = []
    rest = cl.rest
    whole = s
    if not TIME_WORDS_RE.search(whole) and not DATE_PHRASE_RE.search(whole):
        out.append(fronted(cl, "When", rest))
    caps = [n for n in name_spans(whole, corpus.known) if n.text != cl.subj]
    if not caps and not re.search(r"\b(?:in|at|from|near|across|throughout|outside|inside"
                                  r"|here|there|where|online|home|abroad|local|city|country"
                                  r"|state|region|stadium|office|court)\b", whole, re.I):
        out.append(fronted(cl, "Where", rest))
    if not REASON_RE.search(whole) and not cl.is_aux:
        out.append(fronted(cl, "Why", rest))
    if cl.lemma in MONEY_VERBS and not re.search(r"[$£€\d]|\b(?:million|billion|free)\b",
                                                 whole):
        out.append(fronted(cl, "How much", rest))
    return [q for q in out if word_count(q) >= 4]


# ---------------------------------------------------------------------------------------
# Answer task: pairs
# ---------------------------------------------------------------------------------------


def with_neighbour(art: Article, i: int, rng: Random, avoid: tuple[str, ...] = (),
                   forbidden: tuple[int, ...] = ()) -> list[str]:
    """b as the sentence, and sometimes also as "previous sentence + sentence" - at the same
    rate for positives and negatives, so two sentences never signal a label. For a negative
    the neighbour is never an answering sentence (`forbidden`) nor one containing the
    answer (`avoid`)."""
    s = art.sentences[i]
    if i == 0 or rng.random() >= NEIGHBOUR_RATE or i - 1 in forbidden:
        return [s]
    prev = art.sentences[i - 1]
    if any(mentions(prev, a) for a in avoid):
        return [s]
    return [s, prev + " " + s]


def answer_keys(answer: str | None) -> list[str]:
    """The answer and its distinctive words ("Sam Bankman-Fried" -> also "Bankman-Fried"),
    so a sentence naming only the surname still counts as holding the answer."""
    if not answer:
        return []
    toks = [t for t in re.findall(r"[\w’'-]+", answer) if len(t) >= 4 and t[:1].isupper()
            and t.lower() not in STOP]
    return [answer, *toks]


def question_entities(corpus: Corpus, question: str, sources: frozenset[str]) -> list[str]:
    """Name words of a question other than publication names: a distractor sentence that
    names one of them may well state part of the answer, so it is not used as a negative."""
    out = []
    for n in name_spans(question, corpus.known):
        for tok in n.text.split():
            if len(tok) >= 4 and tok not in sources and tok.lower() not in STOP:
                out.append(tok)
    return sorted(set(out))


def answer_text(q: dict[str, Any]) -> str | None:
    ans = str(q.get("answer", "")).strip()
    if not ans or ans.lower() in ("yes", "no", "insufficient information."):
        return None
    return ans


def multihop_answer_pairs(corpus: Corpus, queries: list[dict[str, Any]],
                          rng: Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    where: dict[str, tuple[Article, int]] = {}
    for art in corpus.articles:
        for i, s in enumerate(art.sentences):
            where.setdefault(s, (art, i))
    facts_by_split: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for q in queries:
        for ev in q["evidence"]:
            if ev["fact"] in where:
                art, _ = where[ev["fact"]]
                facts_by_split[art.split].append((ev["fact"], q["id"]))
    for k in facts_by_split:
        facts_by_split[k] = sorted(set(facts_by_split[k]))
    sources = frozenset(tok for q in queries for ev in q["evidence"]
                        for tok in re.findall(r"[\w’'-]+", ev.get("source", "")))
    for q in queries:
        question = q["question"]
        if q["question_type"] == "null_query":
            # An unanswerable question against the corpus sentences most like it.
            scored = sorted(((-coverage(question, s), g, i) for split in ("train", "val")
                             for g, i, s in corpus.split_sentences[split]))
            for _, g, i in scored[:5]:
                art = corpus.by_group[g]
                rows.append(pair("answer", question, art.sentences[i], 0, "qa_null", art))
            continue
        ans = answer_text(q)
        risky = answer_keys(ans) + question_entities(corpus, question, sources)
        own_facts = sorted({ev["fact"] for ev in q["evidence"] if ev["fact"] in where})
        for fact in own_facts:
            art, i = where[fact]
            forbidden = tuple(where[f][1] for f in own_facts if where[f][0] is art)
            for b in with_neighbour(art, i, rng):
                rows.append(pair("answer", question, b, 1, "qa_fact", art))
            # Other sentences of the fact's article: same topic, not the cited fact.
            for j, other in enumerate(art.sentences):
                if j in forbidden or any(mentions(other, k) for k in risky):
                    continue
                for b in with_neighbour(art, j, rng, tuple(risky), forbidden):
                    rows.append(pair("answer", question, b, 0, "qa_same_article", art))
            # Facts cited by other queries that look most like this question.
            cands = []
            for other_fact, qid in facts_by_split[art.split]:
                if qid == q["id"] or other_fact in own_facts:
                    continue
                if any(mentions(other_fact, k) for k in risky):
                    continue
                cands.append((-coverage(question, other_fact), other_fact))
            picked: list[str] = []
            for _, other_fact in sorted(set(cands)):
                if other_fact not in picked:
                    picked.append(other_fact)
                if len(picked) == 3:
                    break
            for other_fact in picked:
                o_art, _ = where[other_fact]
                rows.append(pair("answer", question, other_fact, 0, "qa_hard_negative", o_art))
        # No entity swaps on these multi-part questions: changing one detail leaves the
        # other parts, which the fact may still answer (swaps are made on template
        # questions, where the sentence is the whole answer).
    return rows


def template_answer_pairs(corpus: Corpus, rng: Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for art in corpus.articles:
        for i, s in enumerate(art.sentences):
            # Questions from the sentence and from its shortened forms (less specific
            # questions the full sentence still answers).
            made: list[Template] = []
            for source in [s, *compress_variants(s)[:2], *clause_split(corpus, s)]:
                for t in templates(corpus, source, rng):
                    if mentions(s, t.slot) and all(t.question != m.question for m in made):
                        made.append(t)
            for t in made:
                variants = question_variants(t, rng)
                for q in variants:
                    for b in with_neighbour(art, i, rng):
                        rows.append(pair("answer", q, b, 1, "qa_template", art))
                q0 = variants[rng.randrange(len(variants))]
                # Same-article sentences that do not hold the answer.
                others = [j for j in range(len(art.sentences)) if j != i
                          and not mentions(art.sentences[j], t.slot)
                          and coverage(q0, art.sentences[j]) < 0.6]
                for j in sorted(rng.sample(others, min(len(others), 3))):
                    for b in with_neighbour(art, j, rng, (t.slot,), (i,)):
                        rows.append(pair("answer", q0, b, 0, "qa_template_same_article", art))
                # The most alike sentence of another article (same split).
                best = sorted((-coverage(q0, s2), g, j)
                              for g, j, s2 in corpus.split_sentences[art.split]
                              if g != art.group and not mentions(s2, t.slot)
                              and coverage(q0, s2) < 0.5)
                for _, g, j in best[:1]:
                    o_art = corpus.by_group[g]
                    rows.append(pair("answer", q0, o_art.sentences[j], 0,
                                     "qa_template_other_article", o_art))
                # Unanswerable: a shared detail swapped.
                for q in variants[:2]:
                    swapped = swap_in_question(corpus, q, s, art.group, art.split, rng)
                    if swapped:
                        rows.append(pair("answer", swapped, s, 0, "qa_entity_swap", art))
            for q in missing_slot_questions(corpus, s):
                rows.append(pair("answer", q, s, 0, "qa_missing_slot", art))
    return rows


def gold_dev_pairs(rng: Random) -> list[dict[str, Any]]:
    """QA gold over the seed article (three dev files only), as sentence pairs."""
    from rag.text.sentences import sentence_spans

    text = SEED_ARTICLE.read_text(encoding="utf-8")
    spans = sentence_spans(text)
    sents = [text[s:e] for s, e in spans]
    rows: list[dict[str, Any]] = []
    for name in GOLD_FILES:
        for g in sorted(read_jsonl(GOLD_DIR / name), key=lambda r: r["id"]):
            q = g["question"]
            if g.get("answerable"):
                hit: list[int] = []
                for ev in g["evidence"]:
                    start = text.find(ev)
                    if start < 0:
                        continue
                    end = start + len(ev)
                    hit += [k for k, (s, e) in enumerate(spans) if s < end and start < e]
                hit = sorted(set(hit))
                if not hit:
                    continue
                for k in hit:
                    rows.append(pair("answer", q, sents[k], 1, "gold_dev", None, "seed",
                                     "train"))
                # Negatives: the most alike other sentences, plus two at random.
                others = sorted((-coverage(q, s), k) for k, s in enumerate(sents)
                                if k not in hit)
                picked = [k for _, k in others[:GOLD_HARD_NEGATIVES]]
                rest = [k for _, k in others[GOLD_HARD_NEGATIVES:]]
                picked += rng.sample(rest, min(2, len(rest)))
                for k in sorted(picked):
                    rows.append(pair("answer", q, sents[k], 0, "gold_dev", None, "seed",
                                     "train"))
            else:
                scored = sorted((-coverage(q, s), k) for k, s in enumerate(sents))
                for _, k in scored[:5]:
                    rows.append(pair("answer", q, sents[k], 0, "gold_dev", None, "seed",
                                     "train"))
    return rows


def support_dev_pairs(dev: list[dict[str, Any]], articles: list[Article]
                      ) -> list[dict[str, Any]]:
    rows = []
    for r in dev:
        art = match_article(r["passage"], articles) if r["origin"] == "multihop" else None
        group = art.group if art is not None else ("seed" if r["origin"] == "seed"
                                                   else "support-dev")
        rows.append(pair("support", r["claim"], r["passage"],
                         int(r["label"] == "supported"), "support_dev", None, group, "train"))
    return rows


# ---------------------------------------------------------------------------------------
# Finishing: length filter, de-duplication, output
# ---------------------------------------------------------------------------------------


def pair_lengths(rows: list[dict[str, Any]]) -> list[int]:
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # light on a shared 2-core machine
    from tokenizers import Tokenizer

    from rag.index.embeddings import bundled_model_files

    tok = Tokenizer.from_file(str(bundled_model_files()[1]))
    tok.no_truncation()
    tok.no_padding()
    return [len(e.ids) for e in tok.encode_batch([(r["a"], r["b"]) for r in rows])]


def finish(rows: list[dict[str, Any]], rng: Random) -> tuple[list[dict[str, Any]], Counter]:
    dropped: Counter[str] = Counter()
    lengths = pair_lengths(rows)
    kept = []
    for r, n in zip(rows, lengths, strict=True):
        if n > MAX_PAIR_WORDPIECES:
            dropped["too_long"] += 1
        else:
            kept.append(r)
    # Same (task, a, b) twice: keep the first; if labels disagree the negative was not one.
    labels: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for r in kept:
        labels[(r["task"], r["a"], r["b"])].add(r["label"])
    out, seen = [], set()
    for r in kept:
        key = (r["task"], r["a"], r["b"])
        if len(labels[key]) > 1 and r["label"] == 0:
            dropped["conflict_negative"] += 1
            continue
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append(r)
    # The split promise: no article on both sides.
    sides: dict[str, set[str]] = defaultdict(set)
    for r in out:
        sides[r["group"]].add(r["split"])
    mixed = sorted(g for g, s in sides.items() if len(s) > 1)
    if mixed:
        raise SystemExit(f"groups in both splits: {mixed[:5]}")
    rng.shuffle(out)
    return out, dropped


def stats(rows: list[dict[str, Any]], dropped: Counter, digest: str) -> dict[str, Any]:
    by: dict[str, Counter] = {k: Counter() for k in ("task_split_label", "task_kind_label")}
    for r in rows:
        by["task_split_label"][f"{r['task']}/{r['split']}/{r['label']}"] += 1
        by["task_kind_label"][f"{r['task']}/{r['kind']}/{r['label']}"] += 1
    kinds: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        d = kinds.setdefault(r["task"], {}).setdefault(r["kind"], {
            "train_0": 0, "train_1": 0, "val_0": 0, "val_1": 0})
        d[f"{r['split']}_{r['label']}"] += 1
    groups = {s: len({r["group"] for r in rows if r["split"] == s}) for s in ("train", "val")}
    return {
        "pairs": len(rows),
        "by_task": dict(sorted(Counter(r["task"] for r in rows).items())),
        "by_task_split_label": dict(sorted(by["task_split_label"].items())),
        "by_task_kind_label": dict(sorted(by["task_kind_label"].items())),
        "by_task_kind_split_label": {t: dict(sorted(v.items())) for t, v in sorted(kinds.items())},
        "groups_by_split": groups,
        "dropped": dict(sorted(dropped.items())),
        "max_pair_wordpieces": MAX_PAIR_WORDPIECES,
        "seed": SEED,
        "pairs_sha256": digest,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/train"))
    parser.add_argument("--multihop", type=Path, default=Path("../shared/bench/multihop-rag"))
    parser.add_argument("--support-positive-share", type=float, default=SUPPORT_POSITIVE_SHARE,
                        help="share of positives among generated support pairs; lower it to "
                             "keep more of the (plentiful) negatives")
    args = parser.parse_args(argv)
    started = time.monotonic()  # for the console only; never written to the output
    rng = Random(SEED)

    dev = load_support_dev()
    articles = load_articles(args.multihop, [r["passage"] for r in dev
                                             if r["origin"] == "multihop"])
    queries = sorted(read_jsonl(args.multihop / "queries.jsonl"),
                     key=lambda q: (int(q["id"]) if str(q["id"]).isdigit() else 10 ** 9,
                                    str(q["id"])))
    corpus = Corpus(articles)

    rows = support_pairs(corpus, rng, args.support_positive_share)
    rows += support_dev_pairs(dev, articles)
    rows += multihop_answer_pairs(corpus, queries, rng)
    rows += template_answer_pairs(corpus, rng)
    rows += gold_dev_pairs(rng)
    rows, dropped = finish(rows, rng)

    args.out.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps({k: r[k] for k in ("task", "a", "b", "label", "kind", "group",
                                                  "split")}, ensure_ascii=False) + "\n"
                   for r in rows).encode("utf-8")
    (args.out / "pairs.jsonl").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    st = stats(rows, dropped, digest)
    st["support_positive_share_target"] = args.support_positive_share
    (args.out / "stats.json").write_text(json.dumps(st, indent=2, sort_keys=False) + "\n",
                                         encoding="utf-8")
    print(f"{len(rows)} pairs -> {args.out / 'pairs.jsonl'} sha256 {digest[:16]} "
          f"({time.monotonic() - started:.1f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
