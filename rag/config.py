"""One settings object, built at the edge (CLI, UI, tests) and passed down.

Nothing below this module reads the environment: `Settings.from_env()` is the
only place that does, so a test can build any configuration by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROMPTS_DIR = PACKAGE_ROOT / "prompts"

MAX_QUESTION_CHARS = 2000


def display_path(path: Path) -> str:
    """`path` relative to the repository (e.g. "../shared/…"), so figures and reports
    that get committed carry no machine-specific absolute paths."""
    return os.path.relpath(Path(path).resolve(), PACKAGE_ROOT)

MAX_K = 50


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(".rag"))
    # When set, vectors live on a Chroma server (HttpClient) instead of on disk under `home`.
    chroma_url: str | None = None
    collection: str = "rag"
    embedder: str = "minilm"
    top_k: int = 5
    max_file_bytes: int = 50 * 1024 * 1024
    hybrid: bool = True
    llm: str = "none"
    llm_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    llm_timeout: float = 30.0
    llm_retries: int = 2
    # Sent as `max_tokens`: an answer is a few sentences, and a runaway reply costs time.
    llm_max_tokens: int = 1024
    # `llm="local"`: "packaged:1.5b" (default), "packaged:0.5b", or a path to any GGUF file.
    local_model: str = "packaged:1.5b"
    # Where packaged models are assembled; None means `home / "models"`.
    models_dir: Path | None = None
    local_ctx: int = 4096
    local_max_tokens: int = 192
    # None: one thread per core this process may use.
    local_threads: int | None = None
    # The local model's YES/NO reading of the answerer's quote: a quote it scores under
    # this P(YES) is refused. None: the calibrated value (rag/answer/answer_check.toml);
    # 0 turns the check off.
    local_check: float | None = None
    # Generated sentences the checker cannot support are removed unless this is set,
    # in which case they stay in the answer, visibly marked.
    keep_unsupported: bool = False
    # Which offline answerer: "rules" (rag.answer.extractive) or "learned" (rag.answer.learned).
    answerer: str = "rules"
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    # Fetching feeds and pages (rag.ingest.web): seconds per request, seconds between two
    # requests to one host, and whether addresses on private networks may be fetched.
    fetch_timeout: float = 15.0
    fetch_interval: float = 1.0
    allow_private_urls: bool = False

    def __post_init__(self) -> None:
        # Accept plain strings for paths, as people naturally pass them.
        for name in ("home", "prompts_dir", "models_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            attr: read(env, name) for name, (attr, read) in _ENV.items() if env.get(name)}
        if "max_file_bytes" in values:  # set in megabytes
            values["max_file_bytes"] = int(values["max_file_bytes"] * 1024 * 1024)
        # An API key or base URL alone means "generate": that is what people who set them expect.
        llm = env.get("RAG_LLM") or (
            "openai" if env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL") else "none"
        )
        values["llm"] = llm.strip().lower()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {env[name]!r}") from None


def _float(env: Mapping[str, str], name: str) -> float:
    try:
        return float(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {env[name]!r}") from None


def _bool(env: Mapping[str, str], name: str) -> bool:
    value = env[name].strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {env[name]!r}")


def _text(env: Mapping[str, str], name: str) -> str:
    return env[name]


def _stripped(env: Mapping[str, str], name: str) -> str:
    return env[name].strip()


def _word(env: Mapping[str, str], name: str) -> str:
    return env[name].strip().lower()


def _path(env: Mapping[str, str], name: str) -> Path:
    return Path(env[name])


# Environment variable → (Settings field, how its text is read). RAG_LLM is read apart:
# an API key or base URL alone implies it.
_ENV: dict[str, tuple[str, Callable[[Mapping[str, str], str], Any]]] = {
    "RAG_HOME": ("home", _path),
    "RAG_CHROMA_URL": ("chroma_url", _text),
    "RAG_COLLECTION": ("collection", _text),
    "RAG_EMBEDDER": ("embedder", _text),
    "RAG_TOP_K": ("top_k", _int),
    "RAG_MAX_FILE_MB": ("max_file_bytes", _float),
    "RAG_HYBRID": ("hybrid", _bool),
    "RAG_LLM_MODEL": ("llm_model", _text),
    "OPENAI_BASE_URL": ("openai_base_url", _text),
    "OPENAI_API_KEY": ("openai_api_key", _text),
    "RAG_LLM_TIMEOUT": ("llm_timeout", _float),
    "RAG_LLM_RETRIES": ("llm_retries", _int),
    "RAG_LLM_MAX_TOKENS": ("llm_max_tokens", _int),
    "RAG_LOCAL_MODEL": ("local_model", _stripped),
    "RAG_MODELS_DIR": ("models_dir", _path),
    "RAG_LOCAL_CTX": ("local_ctx", _int),
    "RAG_LOCAL_MAX_TOKENS": ("local_max_tokens", _int),
    "RAG_LOCAL_THREADS": ("local_threads", _int),
    "RAG_LOCAL_CHECK": ("local_check", _float),
    "RAG_KEEP_UNSUPPORTED": ("keep_unsupported", _bool),
    "RAG_ANSWERER": ("answerer", _word),
    "RAG_PROMPTS_DIR": ("prompts_dir", _path),
    "RAG_FETCH_TIMEOUT": ("fetch_timeout", _float),
    "RAG_FETCH_INTERVAL": ("fetch_interval", _float),
    "RAG_ALLOW_PRIVATE_URLS": ("allow_private_urls", _bool),
}
