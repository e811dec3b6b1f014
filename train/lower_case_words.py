"""Write `rag/text/lower_case_words.txt`: the words English text writes in lower case
inside a sentence, so that a question's capitalised first word ("Due to what …", "Lots
of …", "Former …") is not taken for a name the sources must mention.

    python -m train.lower_case_words

The list is the English Punkt model's orthographic context (the sentence splitter's own
data, shipped by llama-index and read by `rag.text.sentences`): every alphabetic word
type Punkt's training text showed in lower case in mid-sentence. A name is seen there
only capitalised ("moscow", "azerbaijan" are absent); a word that is both ("china",
"state") is in the list, so it is not a key when it opens a question. Derived from the
model rather than written by hand, and kept as a file so answering a question does not
import nltk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.text.lexicon import LOWER_CASE_WORDS_FILE


def lower_case_words() -> list[str]:
    from nltk.tokenize.punkt import _ORTHO_MID_LC

    from rag.text.sentences import punkt_model

    # nltk keeps the learned parameters and their flag bits private; they are the model's
    # data all the same, and a change in nltk fails tests/unit/test_lexicon.py loudly.
    context = punkt_model()._params.ortho_context
    return sorted(word for word, flags in context.items()
                  if flags & _ORTHO_MID_LC and word.isalpha() and word.isascii())


def render(words: list[str]) -> str:
    return ("# Made by `python -m train.lower_case_words` from the English Punkt model's\n"
            "# orthographic context: words seen in lower case inside a sentence.\n"
            + "".join(f"{w}\n" for w in words))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=LOWER_CASE_WORDS_FILE)
    args = parser.parse_args(argv)
    words = lower_case_words()
    args.out.write_text(render(words), encoding="utf-8")
    print(f"{len(words)} words -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
