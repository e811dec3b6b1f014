"""Word tables, written once: calendar words (every stage that reads dates takes them from
here), the words English writes in lower case (`lower_case_words`) and the function-word
lists each stage leaves out (`stopwords`, from `stopwords.toml`).

Spelt out rather than taken from `calendar.month_name`, which follows the process's
locale: the articles and questions are English whatever the server's locale is.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                 "sunday")

# Lower-case name or abbreviation → month number ("sept" as well as "sep").
MONTHS: dict[str, int] = {name: i for i, name in enumerate(MONTH_NAMES, start=1)}
MONTHS.update({name[:3]: i for i, name in enumerate(MONTH_NAMES, start=1)})
MONTHS["sept"] = 9
# Lower-case name or abbreviation → full name, so "Sept" and "September" read as one word.
MONTH_WORDS = {word: MONTH_NAMES[number - 1] for word, number in MONTHS.items()}
WEEKDAYS = frozenset(WEEKDAY_NAMES)

# Made by `python -m train.lower_case_words` from the sentence splitter's Punkt model.
LOWER_CASE_WORDS_FILE = Path(__file__).with_name("lower_case_words.txt")


@cache
def lower_case_words() -> frozenset[str]:
    """Words seen in lower case inside a sentence: capitalised at a sentence's start, such
    a word is grammar, not a name."""
    lines = LOWER_CASE_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


STOPWORDS_FILE = Path(__file__).with_name("stopwords.toml")


@cache
def stopwords(name: str) -> frozenset[str]:
    """One of the named function-word lists in `stopwords.toml` ("analysis", "lexical",
    "answer"): each stage's list, kept in one file."""
    return frozenset(tomllib.loads(STOPWORDS_FILE.read_text(encoding="utf-8"))[name])
