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

from rag.errors import GenerationError
from rag.schema import Answer, Passage

if TYPE_CHECKING:
    from rag.generation import Generator

# Words that make a question lean on the previous turn.
_ANAPHORA = re.compile(
    r"^(and|but|so|also|what about|how about)\b|\b(that|this|these|those|it|its|they|them|"
    r"their|he|she|him|her|his|there|then|same)\b", re.IGNORECASE)


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


def is_follow_up(question: str) -> bool:
    return len(question.split()) <= 12 and bool(_ANAPHORA.search(question))


def offline_rewrite(question: str, messages: Sequence[Mapping[str, str]]) -> str:
    if not is_follow_up(question):
        return question
    previous = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"{question} ({previous})" if previous else question


def rewrite(question: str, messages: Sequence[Mapping[str, str]],
            generator: Generator | None, prompts_dir: Path) -> str:
    if generator is not None:
        from rag.generation import rewrite_follow_up

        try:
            return rewrite_follow_up(generator, question, list(messages),
                                     prompts_dir=prompts_dir)
        except GenerationError:
            pass  # the offline rewrite below still gives a usable query
    return offline_rewrite(question, messages)
