"""The self-contained `report.html` of a `rag eval` run (styles in `report.css`): the
page, with the run's summary, its metrics against the thresholds and the baseline, the
verifier's own scores and the hardening benchmarks. The charts are drawn by
`report_charts`, the table of questions by `report_cases`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.eval.report_cases import cases_section
from rag.eval.report_charts import delta_bar, delta_scale, latency_histogram, metric_bars
from rag.eval.report_html import esc, fmt
from rag.eval.results import METRIC_HELP, CaseResult, MetricValue, check_thresholds, compare

_CSS = Path(__file__).with_name("report.css").read_text(encoding="utf-8")


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
        f"<title>rag eval — {esc(header['dataset'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        _summary_section(header),
        "<h2>Metrics</h2>",
        '<div class="grid">',
        metric_bars(metrics, limits, baseline),
        latency_histogram([r.wall_ms for r in results if r.answer is not None]),
        "</div>",
        _metric_table(metrics, limits, baseline),
        _baseline_section(metrics, baseline, baseline_path),
        _checker_section(checker_scores, checker_path),
        _hardening_section(header.get("hardening") or {}),
        cases_section(results),
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
           f'<p class="muted">{esc(header["dataset"])} · {esc(header["generated_at"])}</p>']
    if header["failures"]:
        out.append('<ul class="failures">'
                   + "".join(f"<li>{esc(f)}</li>" for f in header["failures"]) + "</ul>")
    for note in header.get("notes", []):
        out.append(f'<p class="muted">Note: {esc(note)}</p>')
    out.append('<div class="grid">' + _kv_table(run) + _kv_table(counts) + "</div>")
    return "\n".join(out)


def _kv_table(rows: Iterable[tuple[str, Any]]) -> str:
    return ('<table class="kv">' + "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>")


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
        base = fmt(baseline.get(name), name) if baseline else ""
        rows.append(f"<tr><td>{esc(name)}</td><td class='num'>{fmt(value, name)}</td>"
                    f"<td class='num'>{esc(limit)}</td><td>{status}</td>"
                    f"<td class='num'>{base}</td>"
                    f"<td class='muted'>{esc(METRIC_HELP.get(name, ''))}</td></tr>")
    head = ("<tr><th>metric</th><th>value</th><th>threshold</th><th></th>"
            "<th>baseline</th><th>meaning</th></tr>")
    return f"<h2>All metrics</h2><table>{head}{''.join(rows)}</table>"


def _status(ok: bool) -> str:
    return '<span class="pass">ok</span>' if ok else '<span class="fail">FAIL</span>'


def _baseline_section(metrics: Mapping[str, MetricValue],
                      baseline: Mapping[str, MetricValue] | None,
                      baseline_path: str | None) -> str:
    title = f"<h2>Against the baseline <span class='muted'>{esc(baseline_path)}</span></h2>"
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
        bar = delta_bar(delta_scale(d), d.better)
        rows.append(f"<tr><td>{esc(d.name)}</td><td class='num'>{fmt(d.baseline, d.name)}</td>"
                    f"<td class='num'>{fmt(d.current, d.name)}</td>"
                    f"<td class='num {cls}'>{esc(sign)}</td><td>{bar}</td></tr>")
    head = ("<tr><th>metric</th><th>baseline</th><th>now</th><th>Δ</th>"
            "<th>change (full half-bar: ±0.2 for scores, ±100% for times and counts)</th></tr>")
    return (title + f'<p class="muted">{changed} metric(s) moved; green is better.</p>'
            f"<table>{head}{''.join(rows)}</table>")


def _checker_section(scores: Any, path: str | None) -> str:
    """The verifier's own scores (`python -m bench.claims`): how far to trust the
    citation metrics above, with its reliability (is a score of 0.8 right 80% of the time?)
    and the thresholds in use."""
    if not isinstance(scores, Mapping):
        return ""
    from rag.verify.checker import thresholds

    title = (f"<h2>Verifier, scored on labelled claims <span class='muted'>{esc(path)}</span>"
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
        rows.append(f"<tr><td>{esc(name)}</td><td class='num'>{esc(block.get('items'))}</td>"
                    f"<td class='num'>{esc(_short(block.get('balanced_accuracy')))}</td>"
                    f"<td class='num'>{esc(_short(grouped))}</td>"
                    f"<td class='num'>{esc(_short(block.get('auc')))}</td></tr>")
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
            f"<tr><td>{esc(b['bin'])}</td><td class='num'>{esc(b['count'])}</td>"
            f"<td class='num'>{esc(_short(b['mean_score']))}</td>"
            f"<td class='num'>{esc(_short(b['share_true']))}</td></tr>"
            for b in bins if b.get("count"))
        out.append(f"<h3>Reliability, {esc(name)}</h3><table><tr><th>score</th><th>pairs</th>"
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
        out.append(f"<h3>Planted instructions <span class='muted'>{esc(injection['file'])}, "
                   f"commit {esc(injection.get('commit'))}</span></h3><p class='muted'>"
                   f"{esc(cases)} planted texts ({esc(injection.get('languages'))} languages, "
                   f"{esc(injection.get('disguises'))} disguises) in news articles whose true "
                   "fact is asked; the generative answers come from a model that obeys "
                   "whatever its prompt says, so they measure the pipeline.</p>")
        rows = "".join(
            f"<tr><td>{esc(mode)}</td><td class='num'>{esc(t.get('obeyed'))}/{esc(cases)}</td>"
            f"<td class='num'>{esc(t.get('answered'))}/{esc(cases)}</td>"
            f"<td class='num'>{esc(t.get('warned'))}/{esc(cases)}</td></tr>"
            for mode, t in (injection.get("modes") or {}).items() if isinstance(t, Mapping))
        out.append("<table><tr><th>answers</th><th>obeyed</th><th>true fact answered</th>"
                   f"<th>warned</th></tr>{rows}</table>")
        out.append(_kv_table([("sentences flagged in real news nobody planted anything in",
                               f"{injection.get('news_flagged')} in "
                               f"{injection.get('news_documents')} documents")]))
    chaos = hardening.get("chaos")
    if isinstance(chaos, Mapping):
        out.append(f"<h3>Ingest killed with SIGKILL <span class='muted'>{esc(chaos['file'])}, "
                   f"commit {esc(chaos.get('commit'))}</span></h3>")
        out.append(_kv_table([
            ("runs whose store ended identical to a clean ingest",
             f"{chaos.get('identical')}/{chaos.get('runs')}"),
            ("kills", chaos.get("kills")),
            ("… aimed at the store's writes", chaos.get("aimed_at_writes")),
            ("… that landed inside a write (left uncommitted chunks)",
             chaos.get("inside_a_write")),
            ("files in the corpus", chaos.get("files"))]))
    return "".join(out)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "…"
