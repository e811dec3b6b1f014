"""Markdown articles: a YAML front matter gives the article's fields (`date` standing for
`published_at`, each field capped at `FRONT_MATTER_FIELD_CHARS`), the rest of the file
is the text. The front matter is read safely, and refused when it uses anchors or
aliases.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag.errors import LoaderError
from rag.ingest.documents import meta_str, text_document
from rag.schema import ARTICLE_FIELDS, Document

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)

# Far longer than any real title or byline; the longest are never metadata.
FRONT_MATTER_FIELD_CHARS = 2_000


def markdown_document(text: str, path: Path, key: str) -> Document:
    match = _FRONT_MATTER.match(text)
    if not match:
        return text_document(text, path, key, {})
    meta = _front_matter(match.group(1))
    if "date" in meta and "published_at" not in meta:
        meta["published_at"] = meta["date"]
    fields = {name: meta_str(meta.get(name))[:FRONT_MATTER_FIELD_CHARS]
              for name in ARTICLE_FIELDS}
    return text_document(text[match.end() :], path, key, fields)


def _front_matter(source: str) -> dict[Any, Any]:
    import yaml

    try:
        # Each alias repeats its anchor's whole value, and nested ones multiply: a few
        # hundred bytes expand to gigabytes ("billion laughs"). Articles never need them.
        if any(isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)
               for event in yaml.parse(source, Loader=yaml.SafeLoader)):
            raise LoaderError("YAML front matter uses anchors or aliases (& or *), "
                              "which are not allowed")
        meta = yaml.safe_load(source) or {}
    except yaml.YAMLError as exc:
        raise LoaderError(f"invalid YAML front matter: {exc.__class__.__name__}") from exc
    except ValueError as exc:  # a well-formed but impossible value, e.g. date: 2024-13-45
        raise LoaderError(f"invalid value in YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise LoaderError("YAML front matter is not a mapping")
    return meta
