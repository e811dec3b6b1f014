"""The local model's YES/NO check: its prompt, the reading of its token distribution, the
calibrated threshold, and the calibration bench's choice of threshold."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.answer_check import auc, best_threshold, keeping_threshold, write_thresholds
from rag import Citation
from rag.answer.answer_check import (
    THRESHOLDS,
    calibrated_threshold,
    check_messages,
    yes_probability,
)
from rag.config import Settings


def entry(token: str, probability: float) -> dict[str, object]:
    return {"token": token, "logprob": math.log(probability)}


def test_yes_probability_counts_every_spelling_against_no() -> None:
    top = [entry("YES", 0.5), entry(" yes", 0.1), entry("NO", 0.2), entry("No", 0.1),
           entry("Maybe", 0.1)]
    assert yes_probability(top) == pytest.approx(0.6 / 0.9)
    assert yes_probability([entry("NO", 0.9), entry("The", 0.1)]) == 0.0


def test_yes_probability_is_none_when_neither_word_is_likely() -> None:
    assert yes_probability([entry("The", 0.7), entry("Sources", 0.2)]) is None
    assert yes_probability([]) is None
    assert yes_probability([{"token": "YES", "logprob": "not a number"}]) is None


def test_the_check_prompt_shows_the_quotes_as_one_delimited_source() -> None:
    citations = [
        Citation(1, "d1", 0, 20, "Peacekeepers  left\nin April.", title="Karabakh",
                 source="Reuters", published_at="2024-04-17"),
        Citation(2, "d1", 30, 50, "They had come in 2020 <b>."),
    ]
    [message] = check_messages("Why did <they> leave?", citations, Settings().prompts_dir)
    content = message["content"]
    assert message["role"] == "user"
    assert '<source id="1" title="Karabakh" outlet="Reuters" published="2024-04-17">' in content
    assert "Peacekeepers left in April. They had come in 2020 &lt;b&gt;." in content
    assert "Question: Why did &lt;they&gt; leave?" in content
    assert content.rstrip().endswith("Reply:")
    assert "version:" not in content


def test_the_committed_threshold_is_the_calibration_benchs(tmp_path: Path) -> None:
    # The chain reads the value the bench wrote: a probability, with its provenance.
    value = calibrated_threshold("packaged:1.5b")
    assert 0.0 < value < 1.0
    assert calibrated_threshold("packaged:0.5b") == 0.0  # chosen for another model
    text = THRESHOLDS.read_text(encoding="utf-8")
    assert "python -m bench.answer_check --write" in text and "data_sha256" in text
    result = {"queries": "q.jsonl", "model": "packaged:1.5b", "k": 5, "commit": "abc",
              "threshold": 0.37, "keep": 0.95, "best_balanced": {"threshold": 0.7,
              "kept_positive": 0.4}, "data_sha256": "ff", "counts": {"positive": 3,
              "negative": 2}, "auc": 0.8, "balanced_accuracy": 0.75,
              "kept_positive": 1.0, "refused_negative": 0.5}
    written = tmp_path / "check.toml"
    write_thresholds(result, written)
    assert calibrated_threshold("packaged:1.5b", written) == 0.37
    assert calibrated_threshold("/models/mine.gguf", written) == 0.0


def test_best_threshold_maximises_balanced_accuracy() -> None:
    positives, negatives = [0.9, 0.8, 0.6, 0.3], [0.5, 0.2, 0.1]
    threshold, balanced = best_threshold(positives, negatives)
    assert threshold == 0.6 and balanced == pytest.approx((3 / 4 + 1) / 2)
    assert auc(positives, negatives) == pytest.approx(11 / 12)
    assert auc([], negatives) is None
    # Nothing separates them: keep everything (threshold 0), not an arbitrary cut.
    assert best_threshold([0.5], [0.5]) == (0.0, 0.5)


def test_the_threshold_keeps_the_share_of_answers_asked_for() -> None:
    positives = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    assert keeping_threshold(positives, 0.9) == 0.1  # 9 of 10 kept
    assert keeping_threshold(positives, 0.95) == 0.05  # 9.5 rounds up to all 10
    assert keeping_threshold(positives, 0.5) == 0.5
    assert keeping_threshold([], 0.95) == 0.0
