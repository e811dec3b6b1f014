"""One writer per data directory, across processes (`writer_lock`). The `Assistant` holds
it around every write (ingest, reindex, delete): an ingest reads the manifest once and
writes against it, which holds only while nobody else writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from rag.errors import IngestLockedError


@contextlib.contextmanager
def writer_lock(home: Path) -> Iterator[None]:
    """One writer per data directory, across processes. The kernel drops an flock when
    its holder dies, so a killed ingest never leaves a stale lock behind."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "ingest.lock"
    handle: TextIO = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IngestLockedError(
                f"another ingest is writing to {home} (held by {holder}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
