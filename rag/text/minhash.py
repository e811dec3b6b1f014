"""Near-duplicate texts: MinHash signatures of word 4-shingles.

A wire story reprinted with a new headline, a paragraph cut or a few words changed keeps
most of its four-word runs; two different articles about the same event share almost
none. The share of shingles two texts have in common (their Jaccard similarity) is
estimated from `PERMUTATIONS` minimum hashes each, so comparing a new article with every
indexed one is one vectorised comparison, not a text diff. `datasketch` does the same but
brings scipy; this is the 30 lines it needs.

Numbers must agree too (`same_numbers`). `SAME_STORY` was chosen with `python -m
bench.stories` (evals/results/stories.json) on edited reprints of MultiHop-RAG
articles, heavier edits than most wire copies (a sentence and two words cut from ~90
words, a credit line added): with 4-shingles and 128 hashes their lowest estimate was 0.27
and the highest between two different articles 0.20; the cut sits between. (Chosen on
that set: its figures are development figures.)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

SHINGLE_WORDS = 4
PERMUTATIONS = 128
SAME_STORY = 0.24
_PRIME = (1 << 31) - 1
# Fixed, so signatures stored by one process compare with another's.
_RNG = np.random.default_rng(20261206)
_A = _RNG.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def signature(text: str) -> np.ndarray:
    """`PERMUTATIONS` uint32 minimum hashes of the text's lowercase word 4-shingles (a text
    shorter than that is one shingle)."""
    words = _WORD.findall(text.lower())
    width = min(SHINGLE_WORDS, len(words)) or 1
    shingles = {" ".join(words[i : i + width]) for i in range(max(len(words) - width + 1, 1))}
    hashes = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in shingles), dtype=np.uint64,
                         count=len(shingles)) % _PRIME
    return ((hashes[:, None] * _A[None, :] + _B[None, :]) % _PRIME).min(axis=0).astype(np.uint32)


def numbers(text: str) -> list[str]:
    """The text's numbers ("2,000" as "2000"), sorted: texts that differ in them are
    different stories however alike the words (flight 5530 delayed, flight 7164 delayed;
    yesterday's market report and today's), while a reprint keeps its original's."""
    return sorted({m.replace(",", "") for m in _NUMBER.findall(text)})


def same_numbers(one: Sequence[str], other: Sequence[str]) -> bool:
    """Whether the shorter list of numbers is all in the longer one (a reprint may cut a
    sentence, and the numbers in it)."""
    small, large = sorted((set(one), set(other)), key=len)
    return small <= large


def similarity(one: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of signature `one` with each row of `others`."""
    return np.asarray((others == one[None, :]).mean(axis=1), dtype=np.float64)


def encode(sig: np.ndarray) -> str:
    """A signature as a metadata string (Chroma keeps scalars only)."""
    return sig.astype("<u4").tobytes().hex()


def decode(text: str) -> np.ndarray | None:
    try:
        sig = np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint32)
    except ValueError:
        return None
    return sig if sig.shape == (PERMUTATIONS,) else None
