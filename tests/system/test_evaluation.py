"""`rag.eval.metrics` on hand-made answers, and `rag.eval.runner.run_eval` end to end on
the seed set."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag import Answer, AnswerSentence, Assistant, Citation, Passage
from rag.eval import metrics as m
from rag.eval.gold import GoldCase
from rag.eval.results import aggregate, check_thresholds, compare, score_case
from rag.eval.runner import run_eval
from rag.verify.rules import SupportVerdict, check_support
from tests.conftest import REPO

DOC = ("Russian peacekeepers began leaving Nagorno-Karabakh in April. About 2,000 of them "
       "were deployed in 2020. Yerevan blamed them for failing to defend the Armenians.")
TEXTS = {"d1": DOC}


def span(sentence: str) -> tuple[int, int]:
    start = DOC.index(sentence)
    return start, start + len(sentence)


S1 = "Russian peacekeepers began leaving Nagorno-Karabakh in April."
S2 = "About 2,000 of them were deployed in 2020."
S3 = "Yerevan blamed them for failing to defend the Armenians."


def cite(marker: int, sentence: str, quote: str | None = None) -> Citation:
    start, end = span(sentence)
    return Citation(marker=marker, doc_id="d1", start=start, end=end,
                    quote=sentence if quote is None else quote)


def passage(sentence: str, score: float = 1.0) -> Passage:
    start, end = span(sentence)
    return Passage(doc_id="d1", text=sentence, start=start, end=end, score=score)


def answer(text: str, citations: Sequence[Citation], *, refused: bool = False,
           passages: Sequence[Passage] = (), sentences: Sequence[AnswerSentence] = ()
           ) -> Answer:
    return Answer(question="q?", text=text, refused=refused, citations=list(citations),
                  passages=list(passages), sentences=list(sentences))


def words(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:,\d+)*|[a-z]+", text.lower())) - {"the", "a", "of", "in"}


def word_check(claim: str, passages: Sequence[str]) -> SupportVerdict:
    """A transparent stand-in for the support checker: supported when one passage holds
    every content word of the claim. It keeps the ALCE bookkeeping tests independent of
    the checker's calibration."""
    for index, text in enumerate(passages):
        if words(claim) <= words(text):
            return SupportVerdict(True, 1.0, index, 0, len(text), text, ())
    return SupportVerdict(False, 0.0, -1, 0, 0, "", ("words missing",))


# --- answer sentences ------------------------------------------------------------------


def test_sentences_split_on_marker_groups_when_the_answer_has_none() -> None:
    a = answer(f"{S1[:-1]} [1]. {S2} [2][3] and an uncited tail",
               [cite(1, S1), cite(2, S2)])
    got = m.answer_sentences(a)
    assert [s.text for s in got] == [S1[:-1], S2, "and an uncited tail"]
    assert [s.markers for s in got] == [[1], [2, 3], []]
    assert [c.marker for c in got[1].citations] == [2]
    assert got[1].dangling == [3]


def test_sentences_come_from_answer_sentences_when_present() -> None:
    c1, c2 = cite(1, S1), cite(2, S2)
    a = answer("ignored [9]", [c1, c2],
               sentences=[AnswerSentence(f"{S1} [1]", [c1]), AnswerSentence(S2, [c2, c2])])
    got = m.answer_sentences(a)
    assert [(s.text, s.markers) for s in got] == [(S1, [1]), (S2, [2])]
    assert not any(s.dangling for s in got)


def test_sentences_left_out_of_the_text_are_not_claims_but_are_counted_as_dropped() -> None:
    c1, c2 = cite(1, S1), cite(0, S2)
    shown = AnswerSentence(f"{S1} [1]", [c1])
    dropped = AnswerSentence(S2, [c2], supported=False, shown=False)
    a = answer(f"{S1} [1]", [c1], sentences=[shown, dropped])
    assert [s.text for s in m.answer_sentences(a)] == [S1]
    extractive = answer(f"{S3} [1]", [cite(1, S3)],
                        sentences=[AnswerSentence(f"{S3} [1]", [cite(1, S3)])])
    assert m.dropped_sentence_rate([a, extractive]) == 1 / 3
    assert m.dropped_sentence_rate([answer("No sentences of its own [1]", [c1])]) is None


def test_a_refusal_makes_no_claims() -> None:
    assert m.answer_sentences(answer("The sources don't say.", [], refused=True)) == []


# --- citation recall, precision, faithfulness --------------------------------------------


def test_supported_sentence_with_one_citation() -> None:
    [sentence] = m.answer_sentences(answer(f"{S3} [1]", [cite(1, S3)]))
    verdict = m.judge_sentence(sentence, word_check)
    assert verdict.supported and verdict.relevant == {1: True}


def test_unsupported_sentence_fails_recall_and_its_citation_counts_as_irrelevant() -> None:
    a = answer("About 5,000 of them were deployed in 2020 [1].", [cite(1, S2)])
    verdicts = [m.judge_sentence(s, word_check) for s in m.answer_sentences(a)]
    assert m.citation_recall(verdicts) == 0.0
    assert m.citation_precision(verdicts) == 0.0
    assert m.faithfulness(verdicts) == 0.0


def test_unsupported_sentence_with_the_real_checker() -> None:
    # A changed number is the checker's clearest hard contradiction.
    [sentence] = m.answer_sentences(
        answer("About 9,000 of them were deployed in 2020 [1].", [cite(1, S2)]))
    assert not m.judge_sentence(sentence, check_support).supported


def test_an_unneeded_extra_citation_is_irrelevant() -> None:
    a = answer(f"{S1} [1][2]", [cite(1, S1), cite(2, S3)])
    [verdict] = [m.judge_sentence(s, word_check) for s in m.answer_sentences(a)]
    assert verdict.supported
    assert verdict.relevant == {1: True, 2: False}
    assert m.citation_precision([verdict]) == 0.5


def test_citations_needed_only_together_are_both_relevant() -> None:
    claim = "Peacekeepers began leaving in April, about 2,000 were deployed"
    a = answer(f"{claim} [1][2]", [cite(1, S1), cite(2, S2)])
    [verdict] = [m.judge_sentence(s, word_check) for s in m.answer_sentences(a)]
    assert verdict.supported and verdict.relevant == {1: True, 2: True}


def test_uncited_and_dangling_sentences_are_unsupported() -> None:
    a = answer(f"{S1} [1] {S2} [4] An opinion.", [cite(1, S1)])
    verdicts = [m.judge_sentence(s, word_check) for s in m.answer_sentences(a)]
    assert [v.supported for v in verdicts] == [True, False, False]
    assert verdicts[1].dangling == [4]
    assert m.citation_recall(verdicts) == pytest.approx(1 / 3)
    assert m.citation_precision(verdicts) == 0.5  # [1] relevant, [4] not


# --- quotes, retrieval, facts, refusals, latency -----------------------------------------


def test_quote_exactness_catches_a_wrong_quote() -> None:
    good = cite(1, S1)
    wrong = cite(2, S2, quote="About 2,000 peacekeepers were deployed in 2020.")
    off_end = Citation(3, "d1", len(DOC) - 5, len(DOC) + 10, DOC[-5:])
    unknown = Citation(4, "nope", 0, 5, DOC[:5])
    assert m.quote_exact(good, TEXTS)
    assert not m.quote_exact(wrong, TEXTS)
    assert not m.quote_exact(off_end, TEXTS)
    assert not m.quote_exact(unknown, TEXTS)
    assert m.quote_exactness([good, wrong], TEXTS) == 0.5
    assert m.quote_exactness([], TEXTS) is None


def test_retrieval_metrics() -> None:
    spans = m.locate_evidence([S2, "not in any document"], TEXTS)
    assert spans[0] == [("d1", *span(S2))] and spans[1] == []
    ranked = [passage(S1), passage(S3), passage(S2)]
    relevant = m.passage_relevance(ranked, spans)
    assert relevant == [False, False, True]
    assert (m.hit_at_k(relevant, 1), m.hit_at_k(relevant, 3)) == (0.0, 1.0)
    assert m.reciprocal_rank(relevant) == pytest.approx(1 / 3)
    assert m.first_relevant_rank(relevant) == 3
    # The evidence missing from the corpus counts as not recalled.
    assert m.evidence_recall(ranked, spans) == 0.5
    assert m.reciprocal_rank([False, False]) == 0.0


def test_facts_and_refusal_accuracy() -> None:
    assert m.facts_found("About 2,000 were DEPLOYED", ["2,000", "deployed", "2020"]) == [
        True, True, False]
    assert m.refusal_accuracy([True, False, True, True]) == 0.75
    assert m.refusal_accuracy([]) is None


def test_latency_percentiles() -> None:
    summary = m.latency_summary([10.0, 20.0, 30.0, 40.0, 50.0])
    assert summary["latency_p50_ms"] == 30.0
    assert summary["latency_p90_ms"] == pytest.approx(46.0)
    assert summary["latency_max_ms"] == 50.0 and summary["latency_mean_ms"] == 30.0
    assert m.latency_summary([])["latency_p95_ms"] is None


# --- per-case scoring, aggregation, thresholds --------------------------------------------


def test_refused_unanswerable_and_wrong_answerable_cases_aggregate() -> None:
    unanswerable = GoldCase("u1", "What did it cost?", answerable=False)
    answerable = GoldCase("a1", "How many were deployed?", answerable=True,
                          required_facts=("2,000",), evidence=(S2,))
    refused = answer("The sources don't say.", [], refused=True, passages=[passage(S1)])
    wrong = answer(f"{S1} [1]", [cite(1, S1, quote="Russian peacekeepers left.")],
                   passages=[passage(S1), passage(S2)])
    results = [score_case(unanswerable, refused, 5.0, TEXTS, word_check),
               score_case(answerable, wrong, 15.0, TEXTS, word_check)]
    assert results[0].correct and not results[1].correct
    metrics, counts = aggregate(results)
    assert metrics["refusal_accuracy"] == 1.0
    assert metrics["answerable_accuracy"] == 0.0
    assert metrics["quote_exactness"] == 0.0
    assert metrics["hit_at_1"] == 0.0 and metrics["hit_at_3"] == 1.0 and metrics["mrr"] == 0.5
    assert metrics["faithfulness"] == 0.0  # the misquote does not back the sentence
    assert metrics["latency_p50_ms"] == 10.0
    assert counts == {"cases": 2, "answerable": 1, "unanswerable": 1, "answered": 1,
                      "refused": 1, "answered_unanswerable": 0, "sentences": 1,
                      "citations": 1, "errors": 0}


def test_thresholds_and_baseline_comparison() -> None:
    metrics = {"faithfulness": 0.9, "refusal_accuracy": None, "latency_p95_ms": 120.0}
    assert check_thresholds(metrics, {"faithfulness": 0.8}) == []
    failures = check_thresholds(metrics, {
        "faithfulness": 0.95, "refusal_accuracy": 0.5, "typo_metric": 0.1,
        "max": {"latency_p95_ms": 100}})
    assert len(failures) == 4
    assert "faithfulness = 0.9 is below the minimum 0.95" in failures
    deltas = {d.name: d for d in compare(metrics, {"faithfulness": 0.8,
                                                   "latency_p95_ms": 100.0})}
    assert deltas["faithfulness"].better is True
    assert deltas["latency_p95_ms"].better is False
    assert deltas["refusal_accuracy"].change is None


# --- end to end ---------------------------------------------------------------------------

_EXTERNAL = re.compile(r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def test_run_eval_on_the_seed_set(seed_assistant: Assistant, tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text("[seed]\nanswerable_accuracy = 1.01\nquote_exactness = 1.0\n")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"metrics": {"answerable_accuracy": 0.5, "mrr": 0.9}}))
    checker = tmp_path / "claims.json"
    checker.write_text(json.dumps({"stitched": {"items": 48, "balanced_accuracy": 0.8125,
                                                "reliability": {"bins": [
                                                    {"bin": "[0.9, 1.0]", "count": 7,
                                                     "mean_score": 0.95, "share_true": 0.857}]}}}))
    injection = tmp_path / "injection.json"
    injection.write_text(json.dumps({
        "meta": {"commit": "abc1234"},
        "suite": {"cases": 38, "languages": ["de", "en"], "disguises": ["base64"],
                  "totals": {"extractive": {"obeyed": 0, "answered": 37, "warned": 38},
                             "generative": {"obeyed": 3, "answered": 36, "warned": 35}}},
        "news": {"documents": 352, "flagged": 2}}))
    chaos = tmp_path / "chaos.json"
    chaos.write_text(json.dumps({"meta": {"commit": "def5678"}, "runs": 10, "identical": 9,
                                 "kills": 14, "aimed_at_writes": 7, "inside_a_write": 5,
                                 "files": 300}))
    out = tmp_path / "run"

    result = run_eval(seed_assistant, REPO / "evals" / "gold" / "seed.jsonl", out, baseline,
                      thresholds, progress=False, support_scores=checker,
                      hardening_scores={"injection": injection, "chaos": chaos,
                                        "missing": tmp_path / "none.json"})

    assert not result.ok
    assert any(f.startswith("answerable_accuracy") for f in result.failures)
    assert not any(f.startswith("quote_exactness") for f in result.failures)
    for name in ("metrics.json", "results.jsonl", "report.html"):
        assert (out / name).is_file()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["ok"] is False and saved["metrics"] == result.metrics
    assert saved["counts"]["cases"] == 52 and result.metrics["errors"] == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows][:2] == ["s01", "s02"] and len(rows) == 52
    assert all({"question", "answer", "mode", "refused", "citations", "sentences", "timings",
                "judgement"} <= row.keys() for row in rows)

    report = (out / "report.html").read_text()
    assert not _EXTERNAL.search(report)
    assert "<script" not in report and "@import" not in report and "url(" not in report
    assert "<svg" in report and "Against the baseline" in report
    # The verifier's held-out scores, its reliability and its thresholds.
    assert "0.8125" in report and "Reliability, stitched" in report and "threshold" in report
    # The hardening benchmarks, each with the commit it was measured at; a missing file
    # is left out, not shown empty.
    hardening = report[report.index("<h2>Hardening"):]
    assert "commit abc1234" in hardening and "commit def5678" in hardening
    assert "<td>generative</td><td class='num'>3/38</td>" in hardening
    assert "9/10" in hardening and "2 in 352 documents" in hardening
    assert set(saved["hardening"]) == {"injection", "chaos"}
    assert saved["hardening"]["chaos"]["inside_a_write"] == 5
    quotes = [c["quote"] for row in rows for c in row["citations"]]
    assert quotes and all(html.escape(q, quote=True) in report for q in quotes)
