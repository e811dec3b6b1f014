"""`RAG_CHROMA_URL`: the same assistant against a real `chroma run` server on 127.0.0.1.

The server is the venv's own `chroma` binary, started once per session on a free port
and stopped at the end. Each test uses its own collection, so they do not see each other.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from rag import Assistant, ConsistencyError, IngestLockedError, Settings, StoreError
from rag.index.embeddings import MiniLMEmbedder
from rag.index.records import WRITTEN_AT, chunk_metadata
from rag.index.store import ORPHAN_GRACE_S
from rag.ingest.chunking import chunk_document
from rag.ingest.lock import writer_lock
from rag.schema import Document
from tests import chaos
from tests.conftest import SEED

CHROMA = Path(sys.executable).parent / "chroma"
PEACEKEEPERS = "Why did the peacekeepers leave?"

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="no chroma binary in .venv/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def heartbeat(url: str) -> bool:
    # No proxies: the server is on this machine, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/v2/heartbeat", timeout=1) as response:
            body = json.loads(response.read())
            return response.status == 200 and any("heartbeat" in key for key in body)
    except OSError:
        return False


class ChromaServer:
    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._log = (self.path.parent / f"{self.path.name}.log").open("ab")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while not heartbeat(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.path.parent / f"{self.path.name}.log").read_text(errors="replace")
                raise RuntimeError(f"chroma server did not start:\n{log[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def remote(tmp_path: Path, embedder: MiniLMEmbedder, chroma_url: str
           ) -> Iterator[Callable[..., Assistant]]:
    """Assistants on the server; one collection per test unless told otherwise."""
    collection = f"test-{uuid.uuid4().hex[:12]}"
    made: list[Assistant] = []

    def make(home: Path | None = None, *, url: str = chroma_url, name: str = collection
             ) -> Assistant:
        assistant = Assistant(home=home or tmp_path / "home",
                              settings=Settings(chroma_url=url, collection=name),
                              embedder=embedder)
        made.append(assistant)
        return assistant

    yield make
    for assistant in made:
        assistant.store.close()


def seed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "seed"
    folder.mkdir(exist_ok=True)
    shutil.copy(SEED, folder / "seed.txt")
    return folder


def test_ingest_ask_delete_reingest(remote: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = remote()
    report = assistant.ingest(seed_folder(tmp_path))
    assert report.indexed == 1 and report.failed == []
    answer = assistant.ask(PEACEKEEPERS)
    assert not answer.refused and "100,000" in answer.text
    for citation in answer.citations:
        assert assistant.document(citation.doc_id).text[citation.start : citation.end] == (
            citation.quote)
    stats = assistant.stats()
    assert stats["chroma"] == assistant.settings.chroma_url and stats["documents"] == 1
    # Nothing but the writer lock lives in the data directory.
    assert not (assistant.settings.home / "chroma").exists()

    doc_id = answer.citations[0].doc_id
    assistant.delete(doc_id)
    assert assistant.stats() == {**stats, "documents": 0, "chunks": 0}
    assert assistant.ask(PEACEKEEPERS).refused

    again = assistant.ingest(seed_folder(tmp_path))
    assert again.added == [doc_id]
    assert assistant.ask(PEACEKEEPERS).text == answer.text
    assistant.check()


def test_incremental_update_and_removal(remote: Callable[..., Assistant],
                                        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    chaos.build_corpus(corpus, 20, seed=31)
    assistant = remote()
    first = assistant.ingest(corpus)
    assert first.indexed == 20
    chaos.mutate_corpus(corpus, seed=32)
    second = assistant.ingest(corpus)
    assert second.indexed + len(second.failed) == second.seen and not second.failed
    assert second.updated or second.removed
    state_docs = assistant.store.manifest()
    chunk_docs = {str(c.metadata["doc_id"]) for c in assistant.store.all_chunks()}
    assert chunk_docs == set(state_docs)
    assistant.check()


def test_two_workers_share_one_corpus(remote: Callable[..., Assistant],
                                      tmp_path: Path) -> None:
    """Two processes' worth of assistants, each with its own data directory, one server:
    what one ingests, the other answers from at once."""
    writer = remote(tmp_path / "worker-a")
    reader = remote(tmp_path / "worker-b")
    assert reader.ask(PEACEKEEPERS).refused
    writer.ingest(seed_folder(tmp_path))
    assert "100,000" in reader.ask(PEACEKEEPERS).text
    assert reader.documents() == writer.documents()


def test_consistency_check_and_reindex_on_the_server(remote: Callable[..., Assistant],
                                                     tmp_path: Path) -> None:
    assistant = remote()
    assistant.ingest(seed_folder(tmp_path))
    expected = assistant.ask(PEACEKEEPERS).text
    victims = [c.chunk_id for c in assistant.store.all_chunks()][:2]
    assistant.store.chunks.delete(ids=victims)
    with pytest.raises(ConsistencyError, match="rag reindex"):
        assistant.check()
    assistant.reindex()
    assistant.check()
    assert assistant.ask(PEACEKEEPERS).text == expected


def test_the_writer_lock_is_per_data_directory(remote: Callable[..., Assistant],
                                               tmp_path: Path) -> None:
    """The lock is a file in the data directory, not on the server: it stops a second
    writer sharing the directory, and only that (see the README on server mode)."""
    assistant = remote()
    with writer_lock(assistant.settings.home), pytest.raises(IngestLockedError):
        assistant.ingest(SEED)
    other = remote(tmp_path / "elsewhere")
    with writer_lock(assistant.settings.home):
        assert other.ingest(SEED).indexed == 1


def test_another_workers_ingest_in_progress_is_not_swept(remote: Callable[..., Assistant],
                                                         tmp_path: Path) -> None:
    """Worker A has written a document's chunks but not yet its entry (the commit) when
    worker B, with another data directory and so another writer lock, starts an ingest."""
    a, b = remote(tmp_path / "worker-a"), remote(tmp_path / "worker-b")
    document = Document(doc_id="in-progress", text="Alpha writes this article right now.")
    chunks, _ = chunk_document(document, a.embedder, doc_hash="h1")
    a.store.put_chunks(chunks, a.embedder.embed([c.text for c in chunks]),
                       [chunk_metadata(document, c, content_hash="h1", sentences=[])
                        for c in chunks])
    b.ingest(SEED)
    ids = {c.chunk_id for c in chunks}
    assert ids <= {c.chunk_id for c in a.store.all_chunks()}
    # The same chunks, as if written before the grace period: a crashed worker's orphans.
    stored = a.store.chunks.get(ids=sorted(ids), include=["metadatas", "embeddings"])
    a.store.chunks.upsert(
        ids=stored["ids"], embeddings=stored["embeddings"],
        metadatas=[{**m, WRITTEN_AT: int(time.time()) - ORPHAN_GRACE_S - 60}
                   for m in stored["metadatas"]])
    assert b.store.sweep_orphans(force=True) == len(ids)
    assert not ids & {c.chunk_id for c in a.store.all_chunks()}


def test_unreachable_server_is_a_store_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {url}"):
        Assistant(settings=Settings(chroma_url=url, collection="nobody-home"),
                  embedder=MiniLMEmbedder())


def test_server_restart_keeps_the_corpus_and_outage_is_a_store_error(
        tmp_path: Path, remote: Callable[..., Assistant]) -> None:
    server = ChromaServer(tmp_path / "own-server")
    server.start()
    try:
        assistant = remote(url=server.url)
        assistant.ingest(seed_folder(tmp_path))
        expected = assistant.ask(PEACEKEEPERS).text
        server.stop()
        with pytest.raises(StoreError):
            assistant.ask(PEACEKEEPERS)
        server.start()
        assert assistant.ask(PEACEKEEPERS).text == expected
        assistant.check()
    finally:
        server.stop()
