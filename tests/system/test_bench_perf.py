"""Smoke test of the performance bench: it runs end to end on a handful of articles and
reports every figure. Timings on a shared CI machine mean nothing, so none are asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.perf import (
    README_BEGIN,
    README_END,
    TARGETS,
    copy_text,
    format_table,
    run_perf_bench,
    update_readme,
)
from tests.conftest import REPO

SEED = REPO / "corpus"
MULTIHOP = REPO.parent / "shared" / "bench" / "multihop-rag" / "articles.jsonl"

ARTICLES = [
    {"title": "Peacekeepers leave Nagorno-Karabakh", "source": "Example Wire",
     "author": "A. Writer", "published_at": "2024-04-18T09:00:00+00:00", "category": "world",
     "url": "https://example.org/peacekeepers",
     "body": "Russian peacekeepers began leaving Nagorno-Karabakh on Wednesday.\n"
             "The withdrawal follows Azerbaijan's takeover of the region last year."},
    {"title": "Central bank holds rates", "source": "Example Money", "author": "B. Writer",
     "published_at": "2023-11-02T12:00:00+00:00", "category": "business",
     "url": "https://example.org/rates",
     "body": "The central bank kept its main rate at 5.25 percent on Thursday.\n"
             "Officials said inflation was still too high to cut borrowing costs."},
    {"title": "New battery plant opens", "source": "Example Tech", "author": "C. Writer",
     "published_at": "2023-10-12T08:30:00+00:00", "category": "technology",
     "url": "https://example.org/battery",
     "body": "A battery factory employing 2,000 people opened near the river port.\n"
             "The company expects to supply three carmakers by next spring."},
]


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    path = tmp_path / "articles.jsonl"
    lines = [json.dumps(a) for a in ARTICLES]
    if MULTIHOP.is_file():
        lines += MULTIHOP.read_text(encoding="utf-8").splitlines()[:3]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bench_runs_and_reports_every_figure(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "perf.json"
    # Two sizes from one ingest run: the second collection needs an ingest of its own.
    result = run_perf_bench(articles, SEED, out, sizes=(200, 50), n_questions=4, ingest_runs=1,
                            cold_runs=1, memory_questions=2, log=None)

    assert set(result) == {"meta", "ingest", "query", "memory", "cold_start", "targets"}
    ingest = result["ingest"]
    for side in ("ours", "naive"):
        assert ingest[side]["documents"] > 0
        assert ingest[side]["chunks"] > 0
        assert ingest[side]["docs_per_s"] > 0
    assert ingest["naive"]["stored"] == ingest["naive"]["chunks"]
    assert ingest["naive"]["network"].endswith("(0 attempts)")
    assert ingest["raw_model"]["texts"] == ingest["ours"]["chunks"]
    assert len(ingest["raw_model"]["share_per_run"]) == 1
    assert len(ingest["naive"]["runs"]) == len(ingest["naive"]["docs_ratio_per_run"]) == 1
    for key in ("ours_vs_naive_docs_per_s", "ours_vs_naive_chunks_per_s",
                "ours_share_of_raw_model"):
        assert ingest[key] > 0

    assert list(result["query"]["sizes"])[:2] == ["50", "200"]
    for name, figures in result["query"]["sizes"].items():
        if name.endswith("-dense"):
            assert figures["retriever"] == "DenseRetriever"
    assert 50 <= result["query"]["sizes"]["50"]["chunks"] < 70
    size = result["query"]["sizes"]["200"]
    assert 200 <= size["chunks"] < 220
    assert size["questions"] == 4
    for key in ("retrieve_ms", "answer_ms"):
        assert set(size[key]) >= {"p50", "p95"}
    assert set(size["steps_p50_ms"]) >= {"embed_query", "chroma_all", "retrieve_other",
                                         "score_sentences"}
    assert size["retriever"]
    assert result["query"]["collection"]["originals"] > 0
    assert result["query"]["profile_largest"]

    assert result["memory"]["chunks"] == size["chunks"]
    assert result["memory"]["peak_rss_mb"] > 0
    assert result["cold_start"]["answer_mode"] == "extractive"
    assert len(result["cold_start"]["runs_s"]) == 1

    assert set(result["targets"]) == set(TARGETS)
    assert all(t["pass"] in (True, False) for t in result["targets"].values())

    assert json.loads(out.read_text(encoding="utf-8"))["targets"] == result["targets"]
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert table.strip() == format_table(result)
    assert "| ours" in table and "| naive llama-index" in table


def test_copies_differ_in_every_chunk_yet_keep_offsets() -> None:
    text = "the quick brown foxes jumped over lazy dogs today.\nanother line with many words here."
    spans = [(0, 50), (51, len(text))]
    variants = {copy_text(text, spans, g) for g in range(1, 40)}
    assert len(variants) == 39
    for variant in variants:
        assert len(variant) == len(text)
        assert variant.lower() == text.lower()
    first_chunks = {copy_text(text, spans, g)[0:50] for g in range(1, 40)}
    assert len(first_chunks) == 39


def test_readme_section_is_rewritten_between_its_markers_only(tmp_path: Path) -> None:
    figures = json.loads((REPO / "evals" / "results" / "perf.json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{README_BEGIN}\nstale figures\n{README_END}\nafter\n")
    update_readme(readme, figures)
    once = readme.read_text()
    assert "stale figures" not in once and once.startswith("# Title\n\nbefore\n")
    assert once.endswith(f"{README_END}\nafter\n")
    for target in figures["targets"].values():
        assert f"| {target['value']} |" in once
    update_readme(readme, figures)
    assert readme.read_text() == once
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="perf:begin"):
        update_readme(readme, figures)
