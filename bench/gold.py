"""`rag eval` on every gold set, collected into one file.

    python -m bench.gold --json evals/results/gold.json

Each set in `evals/gold/*.jsonl` runs in its own `rag eval` process with its own empty data
directory (as `make eval` does), so documents in ./.rag cannot change the scores and no
set's run warms another's caches. The process imports the `rag` of the repository this
bench/ sits in (PYTHONPATH), which is what lets a worktree of an old commit be measured
with the venv of the new one. A set that misses its floors in `evals/thresholds.toml`
makes `rag eval` exit 1; its figures are recorded all the same, with the failures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ROOT, Stopwatch, environment, report, shown_path

GOLD = ROOT / "evals" / "gold"
HEADLINE = ("answerable_accuracy", "refusal_accuracy", "citation_precision", "faithfulness",
            "hit_at_5", "latency_p50_ms")


def eval_set(dataset: Path) -> dict[str, Any]:
    watch = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="rag-bench-gold-") as tmp:
        out = Path(tmp) / "out"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "--home", str(Path(tmp) / "home"), "eval",
             "--no-progress", "--dataset", str(dataset), "--out", str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        metrics_path = out / "metrics.json"
        if not metrics_path.is_file():
            return {"exit_code": done.returncode, "error": done.stderr[-2000:]}
        report = json.loads(metrics_path.read_text(encoding="utf-8"))
    return {"exit_code": done.returncode, "seconds": watch.seconds(),
            **{key: report.get(key) for key in ("counts", "modes", "metrics", "thresholds",
                                                 "failures", "ok")},
            "environment": report.get("environment")}


def run(datasets: Sequence[Path]) -> dict[str, Any]:
    watch = Stopwatch()
    result: dict[str, Any] = {"bench": "gold", **environment(), "sets": {}}
    for dataset in datasets:
        result["sets"][dataset.stem] = {"dataset": shown_path(dataset),
                                        **eval_set(dataset)}
    result["seconds"] = watch.seconds()
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"gold sets at {str(result['commit'])[:10]}"
             f"{' (rag/ modified)' if result['dirty_rag'] else ''}; {result['seconds']} s",
             "set".ljust(14) + "".join(name[:20].rjust(21) for name in HEADLINE)]
    for name, figures in result["sets"].items():
        metrics = figures.get("metrics") or {}
        cells = "".join(("n/a" if metrics.get(key) is None else f"{metrics[key]:.4g}").rjust(21)
                        for key in HEADLINE)
        lines.append(name.ljust(14) + cells
                     + ("" if figures.get("ok") else f"  (exit {figures['exit_code']})"))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gold",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    parser.add_argument("datasets", type=Path, nargs="*",
                        help="gold sets (default: every evals/gold/*.jsonl)")
    args = parser.parse_args(argv)
    datasets = [d.resolve() for d in args.datasets] or sorted(GOLD.glob("*.jsonl"))
    result = run(datasets)
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
