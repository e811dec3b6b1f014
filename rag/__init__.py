"""rag: retrieval-augmented answers over news articles, every sentence cited to an exact span.

    >>> from rag import Assistant
    >>> assistant = Assistant(home=".rag")
    >>> assistant.ingest("corpus/")
    >>> answer = assistant.ask("Why did the peacekeepers leave?")
"""

import os as _os

# These must be set before onnxruntime, gradio or tiktoken are first imported.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
_os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _point_tiktoken_at_llama_index_cache() -> None:
    from rag.text.sentences import llama_index_static_dir

    static = llama_index_static_dir()
    if static is not None:
        _os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(static / "tiktoken_cache"))


_point_tiktoken_at_llama_index_cache()

from rag.assistant import Assistant  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.errors import (  # noqa: E402
    ConfigError,
    ConsistencyError,
    DocumentNotFoundError,
    GenerationError,
    IngestLockedError,
    InvalidArgumentError,
    InvalidQuestionError,
    LoaderError,
    ModelFilesError,
    RagError,
    StoreError,
)
from rag.schema import (  # noqa: E402
    Answer,
    AnswerSentence,
    Citation,
    Document,
    IngestReport,
    Passage,
    Status,
    SupportVerdict,
    TimelineEntry,
)
from rag.verify.checker import check_support  # noqa: E402

__all__ = [
    "Answer",
    "AnswerSentence",
    "Assistant",
    "Citation",
    "ConfigError",
    "ConsistencyError",
    "Document",
    "DocumentNotFoundError",
    "GenerationError",
    "IngestLockedError",
    "IngestReport",
    "InvalidArgumentError",
    "InvalidQuestionError",
    "LoaderError",
    "ModelFilesError",
    "Passage",
    "RagError",
    "Settings",
    "Status",
    "StoreError",
    "SupportVerdict",
    "TimelineEntry",
    "check_support",
]
