"""Prompt templates live in versioned files under `prompts/`; this module fills them.

Templates use `str.format` placeholders (`{sources}`, `{question}`, `{history}`, `{answer}`);
literal braces in a template are doubled. Values are inserted verbatim by `format`, so braces
in an article or a question need no escaping. Angle brackets do: everything that comes from
an article or a user is delimited by tags, and escaping `<`/`>` keeps it from closing them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rag.errors import ConfigError

REFUSAL = "The sources don't say."

# The version comment is for people diffing prompts and for reports, not for the model.
_VERSION_COMMENT = re.compile(r"\A\s*<!--\s*version:[^>]*-->[ \t]*\n?")
_PROMPT_NAME = re.compile(r"[a-z][a-z0-9_-]*")


class SourcePassage(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def published_at(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Excerpt:
    """What a prompt shows of a passage, or of an answer's quotes (a `SourcePassage`)."""

    text: str
    title: str = ""
    source: str = ""
    published_at: str = ""


def load_prompt(name: str, prompts_dir: Path) -> str:
    """The template `prompts_dir/<name>.md`, without its version comment."""
    if not _PROMPT_NAME.fullmatch(name):
        raise ConfigError(f"invalid prompt name {name!r}")
    path = Path(prompts_dir) / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt template {path} is missing (check RAG_PROMPTS_DIR)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read prompt template {path}: {exc.strerror}") from None
    return _VERSION_COMMENT.sub("", text, count=1)


def render_prompt(name: str, prompts_dir: Path, **values: str) -> str:
    """Load a template and fill it; a template edited to use an unknown placeholder is a
    configuration error, not a crash in the middle of answering."""
    template = load_prompt(name, prompts_dir)
    try:
        return template.format(**values)
    except KeyError as exc:
        raise ConfigError(
            f"prompt template {name!r} uses unknown placeholder {{{exc.args[0]}}}; "
            f"available: {', '.join('{' + key + '}' for key in sorted(values))}"
        ) from None
    except (IndexError, ValueError) as exc:
        raise ConfigError(
            f"prompt template {name!r} is not a valid format string ({exc}); "
            "double literal braces as {{ and }}"
        ) from None


def escape_text(text: str) -> str:
    """Neutralise angle brackets so untrusted text cannot open or close a delimiter tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return escape_text(" ".join(value.split())).replace('"', "&quot;")


def render_sources(passages: Iterable[SourcePassage], numbers: Iterable[int] | None = None
                   ) -> str:
    """`<source id="n" ...>` elements numbered from 1 in the order given, or with the
    given `numbers` (a prompt that shows some of the passages keeps each one's number).

    The caller wraps them in `<sources>`…`</sources>` (the answer template does), and the
    numbers are the `[n]` markers the model is told to cite.
    """
    blocks = []
    ids = iter(numbers) if numbers is not None else itertools.count(1)
    for number, passage in zip(ids, passages, strict=False):
        attributes = [f'id="{number}"']
        for key, value in (
            ("title", passage.title),
            ("outlet", passage.source),
            ("published", passage.published_at),
        ):
            if value and value.strip():
                attributes.append(f'{key}="{_attribute(value)}"')
        blocks.append(
            f"<source {' '.join(attributes)}>\n{escape_text(passage.text.strip())}\n</source>"
        )
    return "\n".join(blocks)


def answer_messages(
    question: str, passages: Iterable[SourcePassage], prompts_dir: Path, *,
    template: str = "answer", numbers: Iterable[int] | None = None,
) -> list[dict[str, str]]:
    """The chat messages that ask for a cited answer to `question` from `passages`."""
    prompt = render_prompt(
        template,
        prompts_dir,
        sources=render_sources(passages, numbers),
        question=escape_text(question),
    )
    return [{"role": "user", "content": prompt}]
