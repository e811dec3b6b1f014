"""What a negation cue negates: the next content word of its clause (`negation_heads`).
Which tokens are cues ("not", "n't", "never", "failed to") the tokenizer decides
(`rag.text.words`); `rag.text.analysis` keeps each cue's head for the checkers.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.text.words import Tok, word_set

# Adverbs between a negation and the word it negates ("has not yet commented").
NEGATION_SKIP = word_set(
    """yet even ever always really actually adequately fully quite just also only
    immediately necessarily currently still entirely completely simply directly
    officially publicly formally already been be being one longer"""
)


def negation_heads(
    tokens: Sequence[Tok], in_number: set[int]
) -> tuple[list[tuple[str, frozenset[str]]], set[str]]:
    """The word each negation cue negates (the next content word of its clause) with the
    content words either side, and the content stems that also occur un-negated.

    One head word rather than a whole scope: "no sign that Russia's military was..." must
    not count "Russia" as negated, or a faithful paraphrase of "we've not seen anything to
    indicate that Russia's military..." would read as a contradiction.
    """
    heads: list[tuple[str, frozenset[str]]] = []
    head_at: set[int] = set()

    def content(k: int) -> bool:
        return tokens[k].kind == "word" and k not in in_number

    for i, t in enumerate(tokens):
        if t.kind != "neg":
            continue
        head, context = "", set()
        for k in range(i - 1, -1, -1):
            if tokens[k].clause != t.clause:
                break
            if content(k):
                context.add(tokens[k].stem)
                break
        for k in range(i + 1, len(tokens)):
            if tokens[k].clause != t.clause:
                break
            if content(k) and tokens[k].low not in NEGATION_SKIP:
                if head:
                    context.add(tokens[k].stem)
                    break
                head = tokens[k].stem
                head_at.add(k)
        heads.append((head, frozenset(context)))
    positive = {
        t.stem for i, t in enumerate(tokens) if content(i) and i not in head_at
    }
    return heads, positive
