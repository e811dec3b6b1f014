"""The eval report's table of questions: each case's verdict, its answer sentence by
sentence with the verifier's support, its citations checked (exact quote, relevant, on
the gold evidence) and its retrieval."""

from __future__ import annotations

from collections.abc import Sequence

from rag.eval import metrics as m
from rag.eval.report_html import esc, fmt
from rag.eval.results import CaseResult


def cases_section(results: Sequence[CaseResult]) -> str:
    failing = sum(not r.correct for r in results)
    rows = "".join(_case_row(r) for r in results)
    head = ("<tr><th>id</th><th>question</th><th>verdict</th><th>answer (sentence support)"
            "</th><th>citations</th><th>retrieval</th><th>ms</th></tr>")
    return (f"<h2>Questions <span class='muted'>({failing} of {len(results)} failing)</span>"
            "</h2>"
            '<input type="checkbox" id="only-fail"> <label for="only-fail">only failing '
            "questions</label>"
            f"<table>{head}{rows}</table>")


def _case_row(r: CaseResult) -> str:
    case = r.case
    kind = "answerable" if case.answerable else "unanswerable"
    question = (f"{esc(case.question)}<br><span class='muted'>{kind}"
                f"{' · ' + esc(case.answer_type) if case.answer_type else ''}</span>")
    if case.required_facts:
        facts = " ".join(
            f"<span class='badge {'good' if found else 'bad'}'>{esc(fact)}</span>"
            for fact, found in zip(case.required_facts, r.facts or [False] * len(
                case.required_facts), strict=False))
        question += f"<br>{facts}"
    verdict = _verdict_cell(r)
    answer = _answer_cell(r)
    citations = _citations_cell(r)
    if case.answerable:
        rank = m.first_relevant_rank(r.relevance)
        retrieval = (f"first relevant: {rank if rank else '—'}<br>evidence recall: "
                     f"{fmt(r.evidence_recall)}")
    else:
        retrieval = "<span class='muted'>n/a</span>"
    cls = "case-pass" if r.correct else "case-fail"
    return (f"<tr class='{cls}' id='q-{esc(case.id)}'><td>{esc(case.id)}</td><td>{question}</td>"
            f"<td>{verdict}</td><td>{answer}</td><td>{citations}</td><td>{retrieval}</td>"
            f"<td class='num'>{r.wall_ms:,.0f}</td></tr>")


def _verdict_cell(r: CaseResult) -> str:
    if r.error:
        return f"<span class='fail'>error</span><br>{esc(r.error)}"
    mode = esc(r.answer.mode) if r.answer else ""
    if not r.case.answerable:
        text = "refused ✓" if r.refused else "answered ✗"
    elif r.refused:
        text = "refused ✗"
    elif r.correct:
        text = "correct ✓"
    else:
        j = r.judgement
        missing = [] if j is None else (
            (["facts missing"] if not j.facts_found else [])
            + (["no evidence cited"] if not j.cited_evidence else []))
        text = "wrong ✗ (" + ", ".join(missing) + ")" if missing else "wrong ✗"
    cls = "pass" if r.correct else "fail"
    return f"<span class='{cls}'>{esc(text)}</span><br><span class='muted'>{mode}</span>"


def _answer_cell(r: CaseResult) -> str:
    if r.answer is None:
        return ""
    if r.refused or not r.verdicts:
        return f"<p class='sent muted'>{esc(r.answer.text)}</p>"
    out = []
    for v in r.verdicts:
        badge = ("<span class='badge good'>supported</span>" if v.supported
                 else "<span class='badge bad'>unsupported</span>")
        markers = "".join(f"[{mk}]" for mk in v.markers)
        why = "" if v.supported or not v.reasons else (
            f"<br><span class='muted'>{esc('; '.join(v.reasons))}</span>")
        out.append(f"<p class='sent'>{badge}<span class='muted'>{v.score:.2f}</span> "
                   f"{esc(v.text)} <b>{esc(markers)}</b>{why}</p>")
    return "".join(out)


def _citations_cell(r: CaseResult) -> str:
    if r.answer is None or not r.answer.citations:
        return ""
    relevant: dict[int, bool] = {}
    for v in r.verdicts:
        relevant.update(v.relevant)
    out = []
    for c in r.answer.citations:
        flags = [_flag(r.exact.get(c.marker, False), "exact", "quote differs"),
                 _flag(relevant.get(c.marker, False), "relevant", "irrelevant")]
        if r.case.answerable:
            flags.append(_flag(r.evidence_hits.get(c.marker, False), "on evidence",
                               "off evidence"))
        where = ", ".join(x for x in (c.source, c.published_at[:10], c.title) if x)
        out.append(f"<div class='cite'><b>[{c.marker}]</b> {''.join(flags)}"
                   f"<span class='muted'>{esc(where or c.doc_id)} · {c.start}–{c.end}</span>"
                   f"<blockquote>{esc(c.quote)}</blockquote></div>")
    return "".join(out)


def _flag(ok: bool, good: str, bad: str) -> str:
    return (f"<span class='badge good'>{esc(good)}</span>" if ok
            else f"<span class='badge bad'>{esc(bad)}</span>")
