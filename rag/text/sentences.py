"""Sentence spans with exact character offsets.

Sentences come from the English Punkt model that llama-index ships in
`llama_index/core/_static/nltk_cache` (the one its `SentenceSplitter` uses), applied
line by line because news text puts one paragraph per line.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

Span = tuple[int, int]

_LINE = re.compile(r"[^\r\n]+")
_punkt_lock = threading.Lock()


def llama_index_static_dir() -> Path | None:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "_static"


@lru_cache(maxsize=1)
def punkt_model() -> Any:
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    static = llama_index_static_dir()
    if static is not None:
        cache = str(static / "nltk_cache")
        if cache not in nltk.data.path:
            nltk.data.path.insert(0, cache)
    return PunktTokenizer("english")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of `text[start:end]` as spans into `text`, trimmed of surrounding space."""
    end = len(text) if end is None else end
    tokenizer = punkt_model()
    spans: list[Span] = []
    for line in _LINE.finditer(text, start, end):
        line_text = line.group()
        with _punkt_lock:
            pieces = list(tokenizer.span_tokenize(line_text))
        for s, e in pieces:
            s, e = trim(line_text, s, e)
            if e > s:
                spans.append((line.start() + s, line.start() + e))
    return spans


def trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
