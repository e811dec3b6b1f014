"""Seeing other processes' writes to an on-disk store.

An on-disk Chroma client loads the vector index into memory once and never looks at
the disk again, so a long-lived reader (the UI) would go on searching the index as
it was when it started, and hit ids that another process's ingest has since deleted.
Every write therefore bumps a token in a file next to the store; a search that finds
the token changed by someone else first reopens the store from disk
(`rag.index.store.Store`). A Chroma server is one index for everybody and needs none
of that: it has no generation file.
"""

from __future__ import annotations

import os
import threading
import time

from rag.config import Settings

GENERATION_FILE = "index.generation"


class Generation:
    """The store's generation file, and the token this process last saw in it (`seen`)."""

    def __init__(self, settings: Settings) -> None:
        # Only an on-disk store needs this: a Chroma server is one index for everybody.
        self.path = None if settings.chroma_url else settings.home / GENERATION_FILE
        self.seen = self.read()

    def read(self) -> str:
        """The token in the file now (a few microseconds to read); "" for a Chroma server
        or when the file cannot be read."""
        if self.path is None:
            return ""
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def bump(self) -> None:
        """Write a new token, after a write (with the store's write lock held)."""
        if self.path is None:
            return
        token = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}"
        temporary = self.path.with_name(
            f".{GENERATION_FILE}.{os.getpid()}.{threading.get_ident()}")
        try:
            temporary.write_text(token, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            return  # readers elsewhere stay stale until the next write; nothing is lost
        self.seen = token
