"""What every bench writes beside its figures: which code, on what machine, how busy."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.embeddings import Embedder

# The repository this copy of bench/ sits in (a worktree of an old commit, when a
# baseline is measured), so the commit recorded is the one whose `rag` was measured.
ROOT = Path(__file__).resolve().parents[1]
# The shared benchmark data sits beside the main checkout, never inside the repository.
SHARED = Path("../shared/bench")


def shown_path(path: Path) -> str:
    """A data path as the figures record it: the shared data as `../shared/bench/...`
    wherever this run found it (a worktree elsewhere is given an absolute path), files
    of the repository relative to it, so committed figures carry no machine's layout."""
    resolved = Path(path).resolve()
    parts = resolved.parts
    for i in range(len(parts) - 1):
        if parts[i:i + 2] == ("shared", "bench"):
            return str(Path("..", *parts[i:]))
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def git_commit(root: Path = ROOT) -> dict[str, Any]:
    """HEAD's hash and whether the package differs from it: figures from uncommitted code
    must say so, or they get quoted as the commit's."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty_rag": bool(git("status", "--porcelain", "--", "rag"))}


def environment(root: Path = ROOT) -> dict[str, Any]:
    import rag

    return {
        **git_commit(root),
        "rag_package": shown_path(Path(rag.__file__).resolve().parent),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        # Timings depend on what else the machine runs; these say how busy it was.
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "mean": None}
    array = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(array, 50)), 3),
            "p95": round(float(np.percentile(array, 95)), 3),
            "mean": round(float(array.mean()), 3)}


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 2)


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def report(result: dict[str, Any], json_path: Path | None, lines: Sequence[str]) -> int:
    """Every bench's ending: the JSON file if asked for, the summary on stdout."""
    if json_path:
        write_json(json_path, result)
    print("\n".join(lines))
    return 0


class EmbedderProxy:
    """An embedder that hands every call to `inner`: the base of wrappers that change one
    behaviour (timing, caching) and must keep the rest of the interface whole."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.inner.embed_spans(texts, spans)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)
