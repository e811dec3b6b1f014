"""The errors rag raises, one hierarchy so callers can catch what they can handle.

    RagError
    ├── ConfigError            a setting is missing or malformed
    ├── ModelFilesError        the bundled embedding model is missing or altered
    ├── InvalidQuestionError   empty, too long or control characters (CLI exit code 2)
    ├── InvalidArgumentError   an argument out of bounds (k, filters)
    ├── DocumentNotFoundError  no document with that id
    ├── LoaderError            one file could not be read (ingest reports it and goes on)
    │   └── FetchError         one URL could not be fetched: refused (robots, private
    │                          address), failed, too big, or not a feed or article
    ├── IngestLockedError      another process is writing to the same data directory
    ├── StoreError             the vector store failed or is unreachable
    │   └── ConsistencyError   manifest and collection disagree: run `rag reindex`
    └── GenerationError        the LLM endpoint failed (the assistant falls back to extractive)
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error rag raises on purpose."""


class ConfigError(RagError):
    """A setting is missing or malformed."""


class ModelFilesError(RagError):
    """The bundled embedding model files are missing or do not match their pinned hash."""


class InvalidQuestionError(RagError, ValueError):
    """The question cannot be asked: empty, too long, or containing control characters."""


class InvalidArgumentError(RagError, ValueError):
    """An argument is out of its allowed range."""


class DocumentNotFoundError(RagError, KeyError):
    """No document with the given id is indexed."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "document not found"


class LoaderError(RagError):
    """A file could not be turned into documents; the reason is user-facing."""


class FetchError(LoaderError):
    """A URL could not be fetched or read as a feed or an article; the reason is
    user-facing."""


class IngestLockedError(RagError):
    """Another ingest holds the writer lock on this data directory."""


class StoreError(RagError):
    """The vector store failed or could not be reached."""


class ConsistencyError(StoreError):
    """The manifest and the vector collection disagree."""


class GenerationError(RagError):
    """The LLM backend failed; `reason` is short and shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
