"""The eval report's inline SVG charts: the score bars against their minimums and the
baseline, the latency histogram with its p50 and p95, and the bar of a metric's change
since the baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rag.eval import metrics as m
from rag.eval.report_html import esc, fmt
from rag.eval.results import RATIO_METRICS, Delta, MetricValue, lower_is_better


def metric_bars(metrics: Mapping[str, MetricValue], limits: Mapping[str, Any],
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
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{esc(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" '
                   f'fill="#f1f5f9"/>')
        if isinstance(value, int | float):
            colour = "#9ca3af" if lower_is_better(name) else "#3b6fd8"
            minimum = limits.get(name)
            if isinstance(minimum, int | float) and value < minimum:
                colour = "#c62828"
            w = max(0.0, min(1.0, float(value))) * bar_w
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14" '
                       f'fill="{colour}"><title>{esc(name)}: {fmt(value)}</title></rect>')
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
                       f"<title>baseline {fmt(base)}</title></line>")
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{fmt(value)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def latency_histogram(samples: Sequence[float]) -> str:
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


def delta_scale(d: Delta) -> float | None:
    """The change as a fraction of a full half-bar, in [-1, 1]."""
    change = d.change
    if change is None:
        return None
    # Fixed scales, so bars from different runs can be compared by eye.
    if d.name in RATIO_METRICS:
        return max(-1.0, min(1.0, change / 0.2))
    base = float(d.baseline or 0)
    return max(-1.0, min(1.0, change / base)) if base else (1.0 if change > 0 else 0.0)


def delta_bar(value: float | None, better: bool | None) -> str:
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
