"""Benchmarks that measure the `rag` package from outside it, through its public API.

They live beside the package, not in it, so that a change to `rag` can be measured
against the code before it with the same yardstick (copy this folder into a worktree
of the old commit and run it there). Run them from the repository root:

    python -m bench.claims --json evals/results/claims.json
    python -m bench.selection --json evals/results/selection.json
    python -m bench.gold --json evals/results/gold.json
"""
