"""Checks on what users type, before any work is done."""

from __future__ import annotations

import re
import unicodedata

from rag.config import MAX_QUESTION_CHARS
from rag.errors import InvalidQuestionError

# A byte-order mark that a paste carries from a file says nothing: dropped, as ingest
# drops it from documents. Other invisible characters still refuse the question: they
# can hide text from the person who typed it.
_BYTE_ORDER_MARK = str.maketrans("", "", "\ufeff")
_RUN = re.compile(r"[^\W_]+")
# Longer than any English word: a run of Latin letters this long is keyboard noise
# ("aaaa…"). Scripts written without spaces (Chinese, Thai) have no such limit.
MAX_LATIN_WORD = 45


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    question = question.translate(_BYTE_ORDER_MARK)
    if not question.strip():
        raise InvalidQuestionError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    for char in question:
        # Zero-width non-joiner and joiner are spelling: Persian writes words with the
        # first, emoji sequences (👩‍💻) are joined with the second.
        if char in "\t\n\r\u200c\u200d":
            continue
        if unicodedata.category(char) in {"Cc", "Cf"}:
            raise InvalidQuestionError(
                f"the question contains a control character (U+{ord(char):04X})"
            )
    if not any(_is_word(run) for run in _RUN.findall(question)):
        raise InvalidQuestionError(
            "the question has no word to search for; ask about a person, place, event or "
            "number in the articles")
    return " ".join(question.split())


def _is_word(run: str) -> bool:
    if run.isdigit():
        return True  # "2020?" asks about a year
    if len(set(run.casefold())) < 2:
        return False  # "a", "!!!", "aaaa…"
    return not run.isascii() or len(run) <= MAX_LATIN_WORD
