"""Word stems shared by the retrieval side index and the support checker's analysis."""

from __future__ import annotations

# Past forms that stemming leaves apart from their base, so "held" matches "hold"
# (shared by the support checker's analysis and the
# retrieval side index's stemmer).
IRREGULAR_PAST = {
    "fled": "flee", "withdrew": "withdraw", "withdrawn": "withdraw", "became": "become",
    "held": "hold", "took": "take", "taken": "take", "left": "leave", "won": "win",
    "lost": "lose", "made": "make", "gave": "give", "given": "give", "told": "tell",
    "saw": "see", "seen": "see", "met": "meet", "ran": "run", "sent": "send", "sold": "sell",
    "bought": "buy", "paid": "pay", "brought": "bring", "caught": "catch", "kept": "keep",
    "began": "begin", "begun": "begin", "came": "come", "went": "go", "gone": "go",
    "found": "find", "fell": "fall", "fallen": "fall", "felt": "feel", "grew": "grow",
    "grown": "grow", "knew": "know", "known": "know", "rose": "rise", "risen": "rise",
    "wrote": "write", "written": "write", "chose": "choose", "chosen": "choose",
    "drove": "drive", "driven": "drive", "struck": "strike", "threw": "throw",
    "thrown": "throw", "stood": "stand", "led": "lead", "spent": "spend", "built": "build",
    "shot": "shoot", "stole": "steal", "stolen": "steal", "sought": "seek", "fought": "fight",
    "taught": "teach", "thought": "think", "understood": "understand", "broke": "break",
    "broken": "break", "spoke": "speak", "spoken": "speak", "beat": "beat", "beaten": "beat",
    "hit": "hit", "put": "put", "set": "set", "cut": "cut", "quit": "quit", "sued": "sue",
}


def stem(word: str) -> str:
    """A light suffix-stripping stem (the BM25 side index's tokens: changing it changes
    every saved index's terms)."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if word in IRREGULAR_PAST:
        return IRREGULAR_PAST[word]
    for suffix in ("ing", "ers", "ed", "es", "s", "er", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
