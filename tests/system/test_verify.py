"""The learned verifier: its committed model matches its card, the checker's span
invariants, the edits it exists to catch, the paraphrases it must keep, and its accuracy on
the held-out test split of evals/support/pairs.jsonl."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import ModelFilesError
from rag.verify import checker
from rag.verify.checker import check_claims, check_support
from rag.verify.cross_encoder import MODEL_DIR, CrossEncoder, read_card
from tests.conftest import MULTIHOP, REPO

PAIRS = REPO / "evals" / "support" / "pairs.jsonl"

PEACEKEEPERS = (
    "Moscow and Baku confirmed on April 17 the start of the withdrawal of Russian "
    "peacekeepers from Nagorno-Karabakh, where about 2,000 of them were deployed since "
    "November 2020. The peacekeepers were deployed for a period of five years. More than "
    "100,000 Armenians left the region after Azerbaijan's one-day military operation."
)


def test_the_committed_model_is_the_one_its_card_describes() -> None:
    card = read_card()
    model = MODEL_DIR / card["file"]
    data = model.read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["sha256"]
    assert len(data) == card["bytes"] <= 25_000_000
    # int8 all through: the exported graph multiplies with integer matrix products.
    assert b"MatMulInteger" in data and b"DynamicQuantizeLinear" in data
    assert set(card["calibration"]) == {"support", "answer"}
    assert len(card["data"]["sha256"]) == 64 and card["recipe"]["seed"]


def test_the_training_recipe_reproduces_the_cards_data(tmp_path: Path) -> None:
    """`make train`'s first step, as the Makefile runs it, writes exactly the pairs the
    committed model was trained on: the recipe in the repo is the model's recipe."""
    from train.make_data import main as make_data

    assert make_data(["--out", str(tmp_path), "--multihop", str(MULTIHOP),
                      "--support-positive-share", "0.35"]) == 0
    written = hashlib.sha256((tmp_path / "pairs.jsonl").read_bytes()).hexdigest()
    assert written == read_card()["data"]["sha256"]


def test_a_model_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    shutil.copy(MODEL_DIR / "card.json", tmp_path / "card.json")
    damaged = bytearray((MODEL_DIR / read_card()["file"]).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / read_card()["file"]).write_bytes(bytes(damaged))
    with pytest.raises(ModelFilesError, match="does not match its card"):
        CrossEncoder(tmp_path)


@pytest.mark.parametrize("claim", [
    "About 2,000 Russian peacekeepers were deployed in Nagorno-Karabakh.",
    "More than 100,000 Armenians left after Azerbaijan's offensive.",
    "The peacekeepers were deployed for five years.",
])
def test_true_claims_and_paraphrases_are_supported(claim: str) -> None:
    verdict = check_support(claim, [PEACEKEEPERS])
    assert verdict.supported, verdict


@pytest.mark.parametrize("claim", [
    "About 3,000 Russian peacekeepers were deployed in Nagorno-Karabakh.",  # number
    "The peacekeepers were deployed for a period of ten years.",  # number word
    "The peacekeepers were not deployed for a period of five years.",  # negation
])
def test_edits_that_still_read_well_are_unsupported(claim: str) -> None:
    verdict = check_support(claim, [PEACEKEEPERS])
    assert not verdict.supported, verdict


def test_a_sentence_quoted_word_for_word_is_supported() -> None:
    """The model alone reads this verbatim negation as an inserted one (support 0.19)."""
    passage = ("Official Yerevan has not yet commented on the withdrawal of Russian "
               "peacekeepers from Nagorno-Karabakh where only about a dozen ethnic Armenians "
               "remain. The EU welcomed the talks.")
    claim = ("official Yerevan has not yet commented on the withdrawal of Russian peacekeepers "
             "from Nagorno-Karabakh where only about a dozen ethnic Armenians remain")
    verdict = check_support(claim, [passage])
    assert verdict.supported and verdict.score == 1.0
    assert verdict.evidence.startswith("Official Yerevan")
    # Word for word means every word: one changed word is the model's to judge again.
    assert check_support(claim.replace("a dozen", "a hundred"), [passage]).score < 1.0


def test_a_number_the_evidence_lacks_caps_the_score_and_says_why() -> None:
    verdict = check_support("About 3,000 peacekeepers were deployed.", [PEACEKEEPERS])
    assert verdict.score <= checker.HARD_CAP
    assert any("3,000" in reason for reason in verdict.reasons)


def test_no_usable_passage_gives_no_evidence() -> None:
    assert check_support("Russia blamed Armenia.", []).passage_index == -1
    assert check_support("Russia blamed Armenia.", ["", "   "]).passage_index == -1
    assert not check_support("   ", [PEACEKEEPERS]).supported


def test_check_claims_matches_check_support() -> None:
    """The same verdicts and evidence; the scores agree to 0.01, not exactly, because the
    int8 model quantises activations per batch, so a pair's logit moves a little with the
    other pairs beside it."""
    claims = ["About 2,000 peacekeepers were deployed.", "The peacekeepers stayed forever."]
    passages = [PEACEKEEPERS, "Yerevan has blamed the Russian peacekeepers."]
    together = check_claims(claims, passages)
    alone = [check_support(c, passages) for c in claims]
    for a, b in zip(together, alone, strict=True):
        assert (a.supported, a.passage_index, a.evidence) == (b.supported, b.passage_index,
                                                               b.evidence)
        assert abs(a.score - b.score) < 0.01


sentence = st.text(alphabet=st.sampled_from(list("ab Zé,;:’“”-0123456789\n\u00a0")),
                   min_size=1, max_size=60).map(lambda t: t.strip() + ". ")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(sentence, min_size=1, max_size=4).map("".join), min_size=1,
                max_size=3), st.text(min_size=1, max_size=80))
def test_evidence_is_always_an_exact_slice(passages: list[str], claim: str) -> None:
    verdict = check_support(claim, passages)
    if verdict.passage_index >= 0:
        passage = passages[verdict.passage_index]
        assert passage[verdict.evidence_start : verdict.evidence_end] == verdict.evidence
    assert 0.0 <= verdict.score <= 1.0


def test_held_out_support_pairs() -> None:
    """The test split was never trained or calibrated on (train/make_data.py reads dev
    only; evals/calibrate.py likewise)."""
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    test = [r for r in rows if r["split"] == "test"]
    hits = {True: [], False: []}  # type: dict[bool, list[bool]]
    for row in test:
        truth = row["label"] == "supported"
        hits[truth].append(check_support(row["claim"], [row["passage"]]).supported == truth)
    balanced = (sum(hits[True]) / len(hits[True]) + sum(hits[False]) / len(hits[False])) / 2
    assert balanced >= 0.85, balanced


def test_the_learned_answerer_is_chosen_by_the_settings(tmp_path: Path) -> None:
    from rag import Settings
    from rag.answer import make_answerer
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.learned import LearnedAnswerer
    from rag.errors import ConfigError
    from rag.index.embeddings import get_embedder

    embedder = get_embedder("minilm")
    assert isinstance(make_answerer(Settings(), embedder), ExtractiveAnswerer)
    assert isinstance(make_answerer(Settings(answerer="learned"), embedder), LearnedAnswerer)
    with pytest.raises(ConfigError, match="RAG_ANSWERER"):
        make_answerer(Settings(answerer="oracle"), embedder)
