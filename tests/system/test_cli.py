"""The `rag` command as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED


def rag(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_HOME": str(home)}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_ingest_ask_stats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest = rag(home, "ingest", str(SEED))
    assert ingest.returncode == 0, ingest.stderr
    assert "1 file: 1 document added" in ingest.stdout

    ask = rag(home, "ask", "Why did the peacekeepers leave?", "--json", "-k", "4")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"] and answer["citations"]
    text = SEED.read_text(encoding="utf-8")
    for citation in answer["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["quote"]

    readable = rag(home, "ask", "Why did the peacekeepers leave?")
    assert "[1]" in readable.stdout and "Sources:" in readable.stdout

    stats = json.loads(rag(home, "stats", "--json").stdout)
    assert stats["documents"] == 1 and stats["chunks"] > 0
    assert stats["embedding_model"] == "all-MiniLM-L6-v2-onnx-int8"


def test_bad_question_exits_2(tmp_path: Path) -> None:
    result = rag(tmp_path, "ask", "   ")
    assert result.returncode == 2
    assert "empty" in result.stderr


def test_failed_files_exit_nonzero_and_are_listed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The bridge reopened on Monday.", encoding="utf-8")
    (corpus / "bad.jsonl").write_text("{broken\n", encoding="utf-8")
    result = rag(tmp_path / "home", "ingest", str(corpus))
    assert result.returncode == 1
    assert "bad.jsonl" in result.stderr and "invalid JSON" in result.stderr
    assert "1 document added" in result.stdout and "1 file failed" in result.stdout


def test_serving_beyond_this_machine_needs_a_password_from_the_cli_and_python(
        tmp_path: Path, make_assistant: Any) -> None:
    from rag import ConfigError, Settings
    from ui.app import serve

    served = rag(tmp_path / "home", "serve", "--host", "0.0.0.0")
    assert served.returncode == 2 and "needs a password" in served.stderr, served.stderr
    # From Python too: nothing is built or bound before the refusal.
    with pytest.raises(ConfigError, match="needs a password"):
        serve(make_assistant(), Settings(home=tmp_path / "py"), host="0.0.0.0", block=False)


def test_serve_on_a_busy_port_says_so_and_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = rag(tmp_path / "home", "serve", "--port", str(port))
    assert served.returncode == 2, served.stderr
    assert f"port {port} on 127.0.0.1 is in use" in served.stderr
    assert "--port" in served.stderr and "Traceback" not in served.stderr


def test_control_characters_in_names_are_escaped_and_a_closed_pipe_is_quiet(
        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # ESC ] 0 ; … BEL would retitle the terminal; a newline would break the row.
    hostile = corpus / "evil\x1b]0;pwned\x07\nname.txt"
    hostile.write_text("The bridge reopened on Monday after repairs.", encoding="utf-8")
    # Enough rows that `| head -1` closes the pipe while they are still being written.
    for number in range(300):
        (corpus / f"story{number}.txt").write_text(f"Story {number} of the bridge.",
                                                   encoding="utf-8")
    home = tmp_path / "home"
    assert rag(home, "ingest", str(corpus)).returncode == 0

    docs = rag(home, "docs")
    assert docs.returncode == 0, docs.stderr
    assert "\x1b" not in docs.stdout and "\x07" not in docs.stdout
    (row,) = [line for line in docs.stdout.splitlines() if "evil" in line]
    assert "evil\\x1b]0;pwned\\x07\\nname.txt" in row and "1 chunk " in row

    env = {**os.environ, "RAG_HOME": str(home)}
    piped = subprocess.run(f"{sys.executable} -m rag.cli docs | head -1", shell=True,
                           capture_output=True, text=True, env=env, timeout=120)
    assert "BrokenPipeError" not in piped.stderr and "Traceback" not in piped.stderr


def test_eval_summary_names_the_hardening_figures_and_where_they_come_from() -> None:
    from rag.terminal import hardening_lines

    lines = hardening_lines({
        "injection": {"file": "evals/results/injection.json", "commit": "de921850bd", "cases": 38,
                      "modes": {"extractive": {"obeyed": 0}, "generative": {"obeyed": 2}}},
        "chaos": {"file": "evals/results/chaos.json", "commit": "4625bd7", "runs": 10,
                  "identical": 10, "kills": 14, "inside_a_write": 5}})

    assert lines[0].endswith("extractive 0/38, generative 2/38 (evals/results/injection.json, "
                             "commit de92185)")
    assert "10/10 identical, 5 of 14 kills inside a write" in lines[1]
    assert hardening_lines({}) == []
