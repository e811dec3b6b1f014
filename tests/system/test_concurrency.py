"""One writer at a time per data directory; any number of readers, in threads of one
process or in other processes, answering correctly while an ingest runs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rag import Answer, Assistant, IngestLockedError
from tests import chaos
from tests.conftest import REPO, SEED

MakeAssistant = Callable[..., Assistant]
PEACEKEEPERS = "Why did the peacekeepers leave?"


def rag_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    _, env = chaos.ingest_command(home, home)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)


def comparable(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    del data["timings"]
    for passage in data["passages"]:
        passage["score"] = round(passage["score"], 4)
    return data


@pytest.fixture
def seeded(make_assistant: MakeAssistant, tmp_path: Path) -> Assistant:
    folder = tmp_path / "seed"
    folder.mkdir()
    shutil.copy(SEED, folder / "seed.txt")
    assistant = make_assistant()
    assistant.ingest(folder)
    return assistant


# -- one writer -------------------------------------------------------------------


def test_a_second_writer_in_another_process_fails_fast(seeded: Assistant,
                                                       tmp_path: Path) -> None:
    home = seeded.settings.home
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from rag.ingest.lock import writer_lock\n"
         f"with writer_lock(Path({str(home)!r})):\n"
         "    print('locked', flush=True); sys.stdin.read()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(IngestLockedError, match=f"pid {holder.pid}"):
            seeded.ingest(SEED)
        with pytest.raises(IngestLockedError):
            seeded.delete(seeded.documents()[0]["doc_id"])
        with pytest.raises(IngestLockedError):
            seeded.reindex()
        assert time.monotonic() - started < 2.0  # fails, does not wait
        cli = rag_cli(home, "ingest", str(SEED))
        assert cli.returncode == 1 and "another ingest is writing" in cli.stderr
        # Readers are not writers: they keep answering while the lock is held.
        assert "100,000" in seeded.ask(PEACEKEEPERS).text
    finally:
        # A writer that dies without cleaning up must not leave the lock behind.
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert seeded.ingest(SEED).failed == []


def test_two_ingests_started_together_one_wins_and_nothing_is_lost(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    chaos.build_corpus(corpus, 30, seed=21)
    home = tmp_path / "home"
    command, env = chaos.ingest_command(home, corpus)
    processes = [subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in processes]
    locked = [r for r in results if "another ingest is writing" in r[2]]
    finished = [json.loads(r[1]) for r in results if r[0] == 0]
    # Both may finish if the first is done before the second starts; never a mix.
    assert len(locked) + len(finished) == 2 and finished
    state = chaos.snapshot(home, in_process=True)
    assert not state.problems() and len(state.documents) == 42


# -- readers during an ingest -----------------------------------------------------


def test_readers_in_threads_keep_answering_during_an_ingest(seeded: Assistant,
                                                            tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    chaos.build_corpus(corpus, 60, seed=22)
    expected = seeded.ask(PEACEKEEPERS).text
    done = threading.Event()
    result: list[Any] = []

    def ingest() -> None:
        try:
            result.append(seeded.ingest(corpus))
        except BaseException as exc:  # surfaced by the assertion below
            result.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=ingest)
    writer.start()
    answers: list[str] = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        while not done.is_set():
            answers += [a.text for a in pool.map(lambda _: seeded.ask(PEACEKEEPERS), range(3))]
    writer.join()
    assert len(answers) >= 3 and set(answers) == {expected}
    assert result and result[0].indexed == 60, result
    assert seeded.store.document_count() == 85


def test_a_reader_in_another_process_sees_each_ingest(seeded: Assistant,
                                                      tmp_path: Path) -> None:
    """A long-lived reader (like the UI) next to `rag ingest` runs: it answers throughout,
    and afterwards searches exactly what a freshly started process searches."""
    corpus = tmp_path / "corpus"
    chaos.build_corpus(corpus, 15, seed=23)
    home = seeded.settings.home
    question = "How much did the bridge repair cost?"
    expected = seeded.ask(PEACEKEEPERS).text
    for round_ in ("add", "update"):
        if round_ == "update":
            for path in corpus.glob("*.txt"):
                path.write_text(path.read_text(encoding="utf-8") + "A recount was ordered.\n",
                                encoding="utf-8")
        command, env = chaos.ingest_command(home, corpus)
        writer = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        asked = 0
        while writer.poll() is None:
            assert seeded.ask(PEACEKEEPERS).text == expected
            seeded.ask(question)  # must not fail on chunks the writer replaces
            asked += 1
        _, err = writer.communicate()
        assert writer.returncode == 0, err
        assert asked >= 1
        fresh = rag_cli(home, "ask", question, "--json")
        assert fresh.returncode == 0, fresh.stderr
        in_fresh_process = [p["chunk_id"] for p in json.loads(fresh.stdout)["passages"]]
        assert [p.chunk_id for p in seeded.retrieve(question)] == in_fresh_process


def test_cli_readers_answer_during_an_ingest(seeded: Assistant, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    chaos.build_corpus(corpus, 60, seed=24)
    home = seeded.settings.home
    command, env = chaos.ingest_command(home, corpus)
    writer = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        answer = rag_cli(home, "ask", PEACEKEEPERS, "--json")
        overlapped = writer.poll() is None
        assert answer.returncode == 0, answer.stderr
        data = json.loads(answer.stdout)
        assert not data["refused"] and "100,000" in data["text"]
    finally:
        _, err = writer.communicate(timeout=180)
    assert writer.returncode == 0, err
    assert overlapped, "the ingest finished before the question was answered"


# -- many questions at once -------------------------------------------------------


def gold_questions(limit: int = 25) -> list[str]:
    path = REPO / "evals" / "gold" / "seed.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [row["question"] for row in rows][:limit]


def test_fifty_concurrent_questions_match_a_sequential_run(seed_assistant: Assistant) -> None:
    questions = gold_questions()
    sequential = {q: comparable(seed_assistant.ask(q)) for q in questions}
    asked = [questions[i % len(questions)] for i in range(50)]
    # A fresh answerer and query cache, so the threads race to fill them.
    fresh = Assistant(home=seed_assistant.settings.home, settings=seed_assistant.settings,
                      embedder=seed_assistant.embedder)
    fresh.embedder._query_cache.clear()  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(fresh.ask, asked))
    for question, answer in zip(asked, answers, strict=True):
        assert comparable(answer) == sequential[question], question
    assert any(not sequential[q]["refused"] for q in questions)


def test_concurrent_questions_and_documents_calls_do_not_interfere(
        seed_assistant: Assistant) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: seed_assistant.ask(PEACEKEEPERS).text,
        lambda: len(seed_assistant.documents()),
        lambda: seed_assistant.stats()["chunks"],
        lambda: [p.chunk_id for p in seed_assistant.retrieve("peacekeepers withdrawal")],
    ]
    expected = [call() for call in calls]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda i: (i % 4, calls[i % 4]()), range(48)))
    for index, value in results:
        assert value == expected[index]

