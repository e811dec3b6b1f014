"""The self-contained `report.html` of a `rag eval` run (styles in `report.css`)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.eval import metrics as m
from rag.eval.results import (
    METRIC_HELP,
    RATIO_METRICS,
    CaseResult,
    Delta,
    MetricValue,
    check_thresholds,
    compare,
    lower_is_better,
)

_CSS = Path(__file__).with_name("report.css").read_text(encoding="utf-8")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: MetricValue, name: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if name.endswith("_ms"):
            return f"{value:,.1f}"
        return f"{value:.3f}"
    return str(value)


def render_report(header: Mapping[str, Any], results: Sequence[CaseResult],
                  baseline: Mapping[str, MetricValue] | None, baseline_path: str | None,
                  checker_scores: Any, checker_path: str | None) -> str:
    """A single HTML page with inline CSS and SVG: no scripts, fonts or remote assets."""
    metrics: Mapping[str, MetricValue] = header["metrics"]
    limits: Mapping[str, Any] = header.get("thresholds") or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>rag eval — {_e(header['dataset'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        _summary_section(header),
        "<h2>Metrics</h2>",
        '<div class="grid">',
        _metric_bars(metrics, limits, baseline),
        _latency_histogram([r.wall_ms for r in results if r.answer is not None]),
        "</div>",
        _metric_table(metrics, limits, baseline),
        _baseline_section(metrics, baseline, baseline_path),
        _checker_section(checker_scores, checker_path),
        _hardening_section(header.get("hardening") or {}),
        _cases_section(results),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary_section(header: Mapping[str, Any]) -> str:
    ok = header["ok"]
    status = ('<span class="status ok">PASS</span>' if ok
              else '<span class="status bad">FAIL</span>')
    env = header.get("environment", {})
    run = [("dataset", header["dataset"]), ("generated", header["generated_at"])]
    run += [(k, v) for k, v in env.items() if v is not None]
    counts = list(header.get("counts", {}).items())
    counts.append(("answer modes", ", ".join(f"{k}: {v}" for k, v in
                                             header.get("modes", {}).items()) or "—"))
    out = [f"<h1>rag evaluation {status}</h1>",
           f'<p class="muted">{_e(header["dataset"])} · {_e(header["generated_at"])}</p>']
    if header["failures"]:
        out.append('<ul class="failures">'
                   + "".join(f"<li>{_e(f)}</li>" for f in header["failures"]) + "</ul>")
    for note in header.get("notes", []):
        out.append(f'<p class="muted">Note: {_e(note)}</p>')
    out.append('<div class="grid">' + _kv_table(run) + _kv_table(counts) + "</div>")
    return "\n".join(out)


def _kv_table(rows: Iterable[tuple[str, Any]]) -> str:
    return ('<table class="kv">' + "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>")


def _metric_bars(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any],
                 baseline: Mapping[str, MetricValue] | None) -> str:
    names = [n for n in RATIO_METRICS if n in metrics]
    label_w, bar_w, row_h, top = 190, 300, 22, 22
    width, height = label_w + bar_w + 70, top + row_h * len(names) + 8
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="metric bars">',
           '<text x="0" y="14" font-weight="600">Scores (0–1)</text>',
           f'<text x="{label_w}" y="14" fill="#6b7280">red line: minimum · dashed: '
           f"baseline</text>"]
    for i, name in enumerate(names):
        y = top + i * row_h
        value = metrics[name]
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" '
                   f'fill="#f1f5f9"/>')
        if isinstance(value, int | float):
            colour = "#9ca3af" if lower_is_better(name) else "#3b6fd8"
            minimum = limits.get(name)
            if isinstance(minimum, int | float) and value < minimum:
                colour = "#c62828"
            w = max(0.0, min(1.0, float(value))) * bar_w
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14" '
                       f'fill="{colour}"><title>{_e(name)}: {_fmt(value)}</title></rect>')
        minimum = limits.get(name)
        if isinstance(minimum, int | float) and not isinstance(minimum, bool):
            x = label_w + max(0.0, min(1.0, float(minimum))) * bar_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 20}" '
                       f'stroke="#c62828" stroke-width="2"><title>minimum {minimum}</title>'
                       f"</line>")
        base = baseline.get(name) if baseline else None
        if isinstance(base, int | float):
            x = label_w + max(0.0, min(1.0, float(base))) * bar_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + 19}" '
                       f'stroke="#111827" stroke-width="1.5" stroke-dasharray="3 2">'
                       f"<title>baseline {_fmt(base)}</title></line>")
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{_fmt(value)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _latency_histogram(samples: Sequence[float]) -> str:
    width, height, left, bottom, top = 560, 240, 48, 36, 24
    plot_w, plot_h = width - left - 16, height - top - bottom
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="latency histogram">',
           '<text x="0" y="14" font-weight="600">Latency per question (ms, wall clock)</text>']
    if not samples:
        out.append(f'<text x="{left}" y="{top + 40}">no answers</text></svg>')
        return "\n".join(out)
    high = max(samples) or 1.0
    bins = max(5, min(30, round(math.sqrt(len(samples)) * 2)))
    step = high / bins
    counts = [0] * bins
    for value in samples:
        counts[min(bins - 1, int(value / step))] += 1
    tallest = max(counts)
    bar_w = plot_w / bins
    base_y = top + plot_h
    for i, count in enumerate(counts):
        h = plot_h * count / tallest
        x = left + i * bar_w
        out.append(f'<rect x="{x + 1:.1f}" y="{base_y - h:.1f}" width="{bar_w - 2:.1f}" '
                   f'height="{h:.1f}" fill="#3b6fd8"><title>{i * step:,.0f}–'
                   f'{(i + 1) * step:,.0f} ms: {count}</title></rect>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base_y}" y2="{base_y}" '
               f'stroke="#9ca3af"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{base_y}" stroke="#9ca3af"/>')
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * plot_w
        out.append(f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="middle">'
                   f"{high * frac:,.0f}</text>")
    out.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{tallest}</text>')
    out.append(f'<text x="{left - 6}" y="{base_y}" text-anchor="end">0</text>')
    for q, colour in ((50, "#1a7f37"), (95, "#c62828")):
        at = m.percentile(samples, q)
        if at is None:
            continue
        x = left + plot_w * at / high
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{base_y}" '
                   f'stroke="{colour}" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{top + 12 + (q == 95) * 14}" '
                   f'fill="{colour}">p{q} {at:,.0f}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
               f'class="muted">{len(samples)} questions</text>')
    out.append("</svg>")
    return "\n".join(out)


def _metric_table(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any],
                  baseline: Mapping[str, MetricValue] | None) -> str:
    maxima = limits.get("max", {}) if isinstance(limits.get("max"), dict) else {}
    rows = []
    for name, value in metrics.items():
        limit = ""
        status = ""
        bound = limits.get(name) if name != "max" else None
        if bound is None and name in maxima:
            limit = f"≤ {maxima[name]}"
            status = _status(not check_thresholds(metrics, {"max": {name: maxima[name]}}))
        elif bound is not None:
            limit = f"≥ {bound}"
            status = _status(not check_thresholds(metrics, {name: bound}))
        base = _fmt(baseline.get(name), name) if baseline else ""
        rows.append(f"<tr><td>{_e(name)}</td><td class='num'>{_fmt(value, name)}</td>"
                    f"<td class='num'>{_e(limit)}</td><td>{status}</td>"
                    f"<td class='num'>{base}</td>"
                    f"<td class='muted'>{_e(METRIC_HELP.get(name, ''))}</td></tr>")
    head = ("<tr><th>metric</th><th>value</th><th>threshold</th><th></th>"
            "<th>baseline</th><th>meaning</th></tr>")
    return f"<h2>All metrics</h2><table>{head}{''.join(rows)}</table>"


def _status(ok: bool) -> str:
    return '<span class="pass">ok</span>' if ok else '<span class="fail">FAIL</span>'


def _baseline_section(metrics: Mapping[str, MetricValue],
                      baseline: Mapping[str, MetricValue] | None,
                      baseline_path: str | None) -> str:
    title = f"<h2>Against the baseline <span class='muted'>{_e(baseline_path)}</span></h2>"
    if baseline is None:
        return title + '<p class="muted">No baseline metrics to compare with.</p>'
    deltas = compare(metrics, baseline)
    rows = []
    changed = 0
    for d in deltas:
        change = d.change
        cls = "" if d.better is None else ("better" if d.better else "worse")
        changed += d.better is not None
        sign = "" if change is None else ("0" if not change else f"{change:+.4g}")
        bar = _delta_bar(_delta_scale(d), d.better)
        rows.append(f"<tr><td>{_e(d.name)}</td><td class='num'>{_fmt(d.baseline, d.name)}</td>"
                    f"<td class='num'>{_fmt(d.current, d.name)}</td>"
                    f"<td class='num {cls}'>{_e(sign)}</td><td>{bar}</td></tr>")
    head = ("<tr><th>metric</th><th>baseline</th><th>now</th><th>Δ</th>"
            "<th>change (full half-bar: ±0.2 for scores, ±100% for times and counts)</th></tr>")
    return (title + f'<p class="muted">{changed} metric(s) moved; green is better.</p>'
            f"<table>{head}{''.join(rows)}</table>")


def _delta_scale(d: Delta) -> float | None:
    """The change as a fraction of a full half-bar, in [-1, 1]."""
    change = d.change
    if change is None:
        return None
    # Fixed scales, so bars from different runs can be compared by eye.
    if d.name in RATIO_METRICS:
        return max(-1.0, min(1.0, change / 0.2))
    base = float(d.baseline or 0)
    return max(-1.0, min(1.0, change / base)) if base else (1.0 if change > 0 else 0.0)


def _delta_bar(value: float | None, better: bool | None) -> str:
    width, height, mid = 200, 14, 100
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<line x1="{mid}" x2="{mid}" y1="0" y2="{height}" stroke="#9ca3af"/>']
    if value is not None and better is not None:
        w = max(1.0, abs(value) * (mid - 2))
        x = mid if value > 0 else mid - w
        colour = "#1a7f37" if better else "#c62828"
        out.append(f'<rect x="{x:.1f}" y="2" width="{w:.1f}" height="{height - 4}" '
                   f'fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def _checker_section(scores: Any, path: str | None) -> str:
    """The verifier's own scores (`python -m bench.claims`): how far to trust the
    citation metrics above, with its reliability (is a score of 0.8 right 80% of the time?)
    and the thresholds in use."""
    if not isinstance(scores, Mapping):
        return ""
    from rag.verify.checker import thresholds

    title = (f"<h2>Verifier, scored on labelled claims <span class='muted'>{_e(path)}</span>"
             "</h2><p class='muted'>The checker that judges the citation metrics above, on "
             "claim/evidence pairs it was not trained on: SummEdits-news (threshold chosen "
             "on half the articles, scored on the other half), the test split of "
             "evals/support, and the stitched two-sentence claims.</p>")
    sets = {"SummEdits-news": (scores.get("summedits") or {}).get("checker"),
            "evals/support test": scores.get("support_test"),
            "stitched": scores.get("stitched")}
    rows = []
    for name, block in sets.items():
        if not isinstance(block, Mapping):
            continue
        grouped = (block.get("grouped_calibration") or {}).get("held_out_balanced_accuracy_mean")
        rows.append(f"<tr><td>{_e(name)}</td><td class='num'>{_e(block.get('items'))}</td>"
                    f"<td class='num'>{_e(_short(block.get('balanced_accuracy')))}</td>"
                    f"<td class='num'>{_e(_short(grouped))}</td>"
                    f"<td class='num'>{_e(_short(block.get('auc')))}</td></tr>")
    out = [title, "<table><tr><th>set</th><th>pairs</th><th>balanced accuracy</th>"
           "<th>… threshold fitted on other articles</th><th>AUC</th></tr>",
           "".join(rows), "</table>"]
    out.append(_kv_table([("checker threshold (rag/verify/thresholds.json: support)",
                           _short(thresholds()["support"]))]))
    for name, block in sets.items():
        bins = (block or {}).get("reliability", {}).get("bins") if isinstance(
            block, Mapping) else None
        if not bins:
            continue
        cells = "".join(
            f"<tr><td>{_e(b['bin'])}</td><td class='num'>{_e(b['count'])}</td>"
            f"<td class='num'>{_e(_short(b['mean_score']))}</td>"
            f"<td class='num'>{_e(_short(b['share_true']))}</td></tr>"
            for b in bins if b.get("count"))
        out.append(f"<h3>Reliability, {_e(name)}</h3><table><tr><th>score</th><th>pairs</th>"
                   f"<th>mean score</th><th>share supported</th></tr>{cells}</table>")
    return "".join(out)


def _hardening_section(hardening: Mapping[str, Any]) -> str:
    """Planted instructions and killed ingests, from their own benchmarks' JSON."""
    if not hardening:
        return ""
    out = ["<h2>Hardening <span class='muted'>measured by their own commands</span></h2>"]
    injection = hardening.get("injection")
    if isinstance(injection, Mapping):
        cases = injection.get("cases")
        out.append(f"<h3>Planted instructions <span class='muted'>{_e(injection['file'])}, "
                   f"commit {_e(injection.get('commit'))}</span></h3><p class='muted'>"
                   f"{_e(cases)} planted texts ({_e(injection.get('languages'))} languages, "
                   f"{_e(injection.get('disguises'))} disguises) in news articles whose true "
                   "fact is asked; the generative answers come from a model that obeys "
                   "whatever its prompt says, so they measure the pipeline.</p>")
        rows = "".join(
            f"<tr><td>{_e(mode)}</td><td class='num'>{_e(t.get('obeyed'))}/{_e(cases)}</td>"
            f"<td class='num'>{_e(t.get('answered'))}/{_e(cases)}</td>"
            f"<td class='num'>{_e(t.get('warned'))}/{_e(cases)}</td></tr>"
            for mode, t in (injection.get("modes") or {}).items() if isinstance(t, Mapping))
        out.append("<table><tr><th>answers</th><th>obeyed</th><th>true fact answered</th>"
                   f"<th>warned</th></tr>{rows}</table>")
        out.append(_kv_table([("sentences flagged in real news nobody planted anything in",
                               f"{injection.get('news_flagged')} in "
                               f"{injection.get('news_documents')} documents")]))
    chaos = hardening.get("chaos")
    if isinstance(chaos, Mapping):
        out.append(f"<h3>Ingest killed with SIGKILL <span class='muted'>{_e(chaos['file'])}, "
                   f"commit {_e(chaos.get('commit'))}</span></h3>")
        out.append(_kv_table([
            ("runs whose store ended identical to a clean ingest",
             f"{chaos.get('identical')}/{chaos.get('runs')}"),
            ("kills", chaos.get("kills")),
            ("… aimed at the store's writes", chaos.get("aimed_at_writes")),
            ("… that landed inside a write (left uncommitted chunks)",
             chaos.get("inside_a_write")),
            ("files in the corpus", chaos.get("files"))]))
    return "".join(out)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        # Lists of records (confusion rows, per-category scores) are shown compactly.
        return [(f"{prefix}[{i}]", json.dumps(v, ensure_ascii=False))
                for i, v in enumerate(value[:20])]
    return [(prefix or "value", value)]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "…"


def _cases_section(results: Sequence[CaseResult]) -> str:
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
    question = (f"{_e(case.question)}<br><span class='muted'>{kind}"
                f"{' · ' + _e(case.answer_type) if case.answer_type else ''}</span>")
    if case.required_facts:
        facts = " ".join(
            f"<span class='badge {'good' if found else 'bad'}'>{_e(fact)}</span>"
            for fact, found in zip(case.required_facts, r.facts or [False] * len(
                case.required_facts), strict=False))
        question += f"<br>{facts}"
    verdict = _verdict_cell(r)
    answer = _answer_cell(r)
    citations = _citations_cell(r)
    if case.answerable:
        rank = m.first_relevant_rank(r.relevance)
        retrieval = (f"first relevant: {rank if rank else '—'}<br>evidence recall: "
                     f"{_fmt(r.evidence_recall)}")
    else:
        retrieval = "<span class='muted'>n/a</span>"
    cls = "case-pass" if r.correct else "case-fail"
    return (f"<tr class='{cls}' id='q-{_e(case.id)}'><td>{_e(case.id)}</td><td>{question}</td>"
            f"<td>{verdict}</td><td>{answer}</td><td>{citations}</td><td>{retrieval}</td>"
            f"<td class='num'>{r.wall_ms:,.0f}</td></tr>")


def _verdict_cell(r: CaseResult) -> str:
    if r.error:
        return f"<span class='fail'>error</span><br>{_e(r.error)}"
    mode = _e(r.answer.mode) if r.answer else ""
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
    return f"<span class='{cls}'>{_e(text)}</span><br><span class='muted'>{mode}</span>"


def _answer_cell(r: CaseResult) -> str:
    if r.answer is None:
        return ""
    if r.refused or not r.verdicts:
        return f"<p class='sent muted'>{_e(r.answer.text)}</p>"
    out = []
    for v in r.verdicts:
        badge = ("<span class='badge good'>supported</span>" if v.supported
                 else "<span class='badge bad'>unsupported</span>")
        markers = "".join(f"[{mk}]" for mk in v.markers)
        why = "" if v.supported or not v.reasons else (
            f"<br><span class='muted'>{_e('; '.join(v.reasons))}</span>")
        out.append(f"<p class='sent'>{badge}<span class='muted'>{v.score:.2f}</span> "
                   f"{_e(v.text)} <b>{_e(markers)}</b>{why}</p>")
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
                   f"<span class='muted'>{_e(where or c.doc_id)} · {c.start}–{c.end}</span>"
                   f"<blockquote>{_e(c.quote)}</blockquote></div>")
    return "".join(out)


def _flag(ok: bool, good: str, bad: str) -> str:
    return (f"<span class='badge good'>{_e(good)}</span>" if ok
            else f"<span class='badge bad'>{_e(bad)}</span>")
