"""Follow-up questions: turning "and who decided that?" into a standalone query.

With an LLM the condense prompt rewrites it; without one (or when the endpoint fails)
a simple offline rewrite appends the previous question, which is what a follow-up
leans on. The previous answer's passages are carried along as candidates either way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import MAX_QUESTION_CHARS
from rag.errors import GenerationError
from rag.schema import Answer, Passage

if TYPE_CHECKING:
    from rag.answer.generation import Generator

# A question opening like this continues the previous turn.
_CONTINUATION = re.compile(r"^(and|but|so|also|what about|how about)\b", re.IGNORECASE)
# Words that lean on something named earlier: the previous turn, unless the question
# names something itself ("How many Armenians left their homes?").
_ANAPHORA = re.compile(
    r"\b(that|this|these|those|it|its|they|them|their|he|she|him|her|his|there|then|"
    r"same)\b", re.IGNORECASE)


def as_messages(history: Sequence[Mapping[str, Any] | Answer]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for turn in history:
        if isinstance(turn, Answer):
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": turn.text})
        elif turn.get("role") in {"user", "assistant"} and isinstance(turn.get("content"), str):
            messages.append({"role": str(turn["role"]), "content": str(turn["content"])})
    return messages


def previous_passages(history: Sequence[Mapping[str, Any] | Answer]) -> list[Passage]:
    for turn in reversed(history):
        if isinstance(turn, Answer):
            return list(turn.passages)
    return []


# A capitalised word after a sentence's first word: a name the question brings itself.
_OWN_NAME = re.compile(r"(?<=[\w,;:’'\"”)]\s)[^\W\d_][^\W_]*", re.UNICODE)


def _names(question: str) -> list[str]:
    return [w for w in _OWN_NAME.findall(question) if w[0].isupper()]


def is_follow_up(question: str) -> bool:
    question = question.strip()
    if len(question.split()) > 12:
        return False
    if _CONTINUATION.search(question):
        return True
    return bool(_ANAPHORA.search(question)) and not _names(question)


def offline_rewrite(question: str, messages: Sequence[Mapping[str, str]]) -> str:
    """The follow-up with the previous question appended in brackets, cut to fit the
    question limit: a previous question may itself be a rewritten follow-up, and a long
    conversation must not grow past what a question may be."""
    if not is_follow_up(question):
        return question
    previous = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    room = MAX_QUESTION_CHARS - len(question) - len(" ()")
    if not previous or room <= 0:
        return question
    return f"{question} ({previous[:room].strip()})"


def rewrite(question: str, messages: Sequence[Mapping[str, str]],
            generator: Generator | None, prompts_dir: Path) -> str:
    if generator is not None:
        from rag.answer.generation import rewrite_follow_up

        try:
            return rewrite_follow_up(generator, question, list(messages),
                                     prompts_dir=prompts_dir)
        except GenerationError:
            pass  # the offline rewrite below still gives a usable query
    return offline_rewrite(question, messages)
