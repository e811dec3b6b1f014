"""Shared fixtures: one real embedding model per session, a fresh data directory per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.index.embeddings import MiniLMEmbedder

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
SEED = CORPUS / "000_4289d46f5f19964e.txt"
MULTIHOP = REPO.parent / "shared" / "bench" / "multihop-rag"


@pytest.fixture(scope="session", autouse=True)
def _no_configuration_from_the_caller() -> Iterator[None]:
    # `Assistant()` and the CLI read RAG_* and OPENAI_* like a user's shell would; a
    # developer's own settings (an API key, a Chroma URL) must not steer the tests.
    # RAG_UPDATE_SCREENSHOT is the tests' own switch (`make screenshot`), not a setting.
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("RAG_", "OPENAI_")) and name != "RAG_UPDATE_SCREENSHOT":
                patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def make_assistant(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[Callable[..., Assistant]]:
    def make(home: Path | None = None, **settings: object) -> Assistant:
        home = home or tmp_path / "home"
        return Assistant(home=home, settings=Settings(**settings),  # type: ignore[arg-type]
                         embedder=embedder)

    yield make


@pytest.fixture(scope="session")
def seed_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder
                   ) -> Assistant:
    home = tmp_path_factory.mktemp("seed-home")
    corpus = tmp_path_factory.mktemp("seed-corpus")
    shutil.copy(SEED, corpus / SEED.name)
    assistant = Assistant(home=home, embedder=embedder)
    assistant.ingest(corpus)
    return assistant
