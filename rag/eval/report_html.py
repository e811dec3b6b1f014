"""How the eval report writes a value: escaped for HTML (`esc`), a number rounded for
reading (`fmt`). Every part of the report (`report`, `report_charts`, `report_cases`)
writes through them, so a value reads the same in a chart, a table and a question's row.
"""

from __future__ import annotations

import html

from rag.eval.results import MetricValue


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: MetricValue, name: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if name.endswith("_ms"):
            return f"{value:,.1f}"
        return f"{value:.3f}"
    return str(value)
