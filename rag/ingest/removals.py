"""Which documents an ingest removes, and why. Only ever for a positive reason: their file
is gone from the folder walked (`swept`), or their record from a file whose new version
is stored (`not_held`). A folder that could not be listed (`note_unreadable`), a hidden
path, or a file that failed to load (it may hold the record now) keeps its documents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rag.index.records import ManifestEntry
from rag.schema import IngestReport


def not_held(dropped: set[str], failed_to_load: list[Path],
             manifest: dict[str, ManifestEntry], *, max_bytes: int) -> set[str]:
    """The dropped records that none of the files that failed to load may hold. Only a
    record with a url keeps its id in another file, so only its url can be there."""
    if not dropped or not failed_to_load:
        return dropped
    texts = [_raw_text(file, max_bytes) for file in failed_to_load]
    if None in texts:
        return set()
    return {doc_id for doc_id in dropped if not manifest[doc_id].url
            or not any(_mentions(text, manifest[doc_id].url) for text in texts if text)}


def note_unreadable(exc: OSError, folders: list[str], report: IngestReport) -> None:
    """A folder the walk could not list: a failure in the report, and a folder whose
    documents are not swept."""
    folder = resolved_path(Path(exc.filename))
    folders.append(folder)
    report.seen += 1
    report.failed.append((folder, f"folder could not be read ({exc.strerror or exc}); "
                                  "its documents are kept as they were"))


def swept(manifest: dict[str, ManifestEntry], root: str, present_paths: set[str],
          unreadable: list[str]) -> set[str]:
    """The documents whose file is gone from the folder at `root`: not listed by this
    walk although it could have been, and no longer on disk."""
    return {entry.doc_id for entry in manifest.values()
            if entry.path not in present_paths
            and (entry.root == root or is_under(entry.path, root))
            and _listable(entry.path, root, unreadable)
            and not os.path.exists(entry.path)}


def _listable(path: str, root: str, unreadable: list[str]) -> bool:
    if not is_under(path, root):
        return True  # a file outside reached through a link: only its absence tells
    # Hidden paths (an upload area, drafts ingested on their own) are never walked.
    hidden = any(part.startswith(".") for part in Path(path).relative_to(root).parts)
    return not hidden and not any(path == folder or is_under(path, folder)
                                  for folder in unreadable)


def _raw_text(file: Path, max_bytes: int) -> str | None:
    """A file's text as it is, broken or not; None if it cannot be read whole."""
    try:
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace") if len(data) <= max_bytes else None


def _mentions(text: str, url: str) -> bool:
    # JSON may escape a url's non-ASCII characters, and its slashes.
    escaped = json.dumps(url)[1:-1]
    return any(form in text for form in (url, escaped, escaped.replace("/", "\\/")))


def resolved_path(file: Path) -> str:
    try:
        return str(file.resolve())
    except OSError:
        return str(file.absolute())


def is_under(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)
