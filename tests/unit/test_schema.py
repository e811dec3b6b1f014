"""The report types' own arithmetic."""

from __future__ import annotations

from rag.schema import IngestReport


def test_merging_reports_extends_every_list_and_sums_every_count() -> None:
    first = IngestReport(added=["a"], failed=[("x.txt", "empty")], chunks=3, seen=2,
                         indexed=1, seconds=0.5)
    second = IngestReport(added=["b"], removed=["c"], warnings=[("y.txt", "planted")],
                          copies=[("z.txt", "a")], chunks=4, seen=3, indexed=2, seconds=1.0)
    first.merge(second)

    assert first.added == ["a", "b"] and first.removed == ["c"]
    assert first.failed == [("x.txt", "empty")] and first.copies == [("z.txt", "a")]
    assert (first.chunks, first.seen, first.indexed, first.seconds) == (7, 5, 3, 1.5)
    # Nothing of `second` is shared with the merged report.
    assert first.added is not second.added and second.added == ["b"]
    assert first.changed and not IngestReport(unchanged=["a"]).changed
