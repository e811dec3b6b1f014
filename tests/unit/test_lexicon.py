"""The word tables under rag/text are the data their scripts make."""

from __future__ import annotations

import pytest

from rag.text.lexicon import LOWER_CASE_WORDS_FILE
from rag.text.lexicon import lower_case_words as committed
from train.lower_case_words import lower_case_words, render


def test_the_lower_case_words_are_what_punkt_gives() -> None:
    # Regenerated from the Punkt model llama-index ships: a stale or hand-edited file fails.
    words = lower_case_words()
    assert LOWER_CASE_WORDS_FILE.read_text(encoding="utf-8") == render(words)
    assert committed() == frozenset(words)
    assert {"due", "lots", "former", "besides"} <= committed()
    assert not {"moscow", "azerbaijan", "pashinian"} & committed()


def test_each_stage_reads_its_own_function_words_from_the_one_file() -> None:
    from rag.index.side_index import tokenize
    from rag.text.lexicon import stopwords

    # BM25 keeps "after" as a term, the content-word reading does not; both drop "the".
    assert "after" not in stopwords("lexical") and "after" in stopwords("analysis")
    assert tokenize("the talks after the vote") == ["talk", "after", "vote"]
    # The answerer's list holds the reporting verbs a question about a report uses.
    assert {"reported", "told"} <= stopwords("answer")
    with pytest.raises(KeyError):
        stopwords("unknown")
