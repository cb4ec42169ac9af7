"""A trace's spans by kind, listed once per trace for every detector that asks.

Most detectors read one or two kinds (the outbound calls, the cache operations,
the reads); each filtering every span of every trace again was a pass over the
whole chunk per detector.  The lists are shared: readers must not change them.
"""

from __future__ import annotations

from perfdoctor.analysis.pertrace import PerTrace
from perfdoctor.analysis.shapes import shapes
from perfdoctor.detectors._sql import is_read
from perfdoctor.model import Span, Trace
from perfdoctor.store.layout import ShapedSpans

_EMPTY: list[Span] = []


def _by_kind(trace: Trace) -> dict[str, list[Span]]:
    index: dict[str, list[Span]] = {}
    for span in trace.spans:
        found = index.get(span.kind)
        if found is None:
            index[span.kind] = [span]
        else:
            found.append(span)
    return index


_index = PerTrace(_by_kind)


def of_kind(trace: Trace, kind: str) -> list[Span]:
    """``trace``'s spans of ``kind``, in their order (shared: not to be changed)."""
    # A store's traces come with the lists made (asked ~20 times per trace: the
    # look-up by trace is most of what a request without such spans costs).
    # (decoded(trace), inline: asked ~17 times per trace.)
    spans = trace.spans
    if type(spans) is ShapedSpans and len(spans) == spans.size:
        return spans.kinds.get(kind, _EMPTY)
    return _index(trace).get(kind, _EMPTY)


def _reads(trace: Trace) -> list[Span]:
    spans = of_kind(trace, "db")
    # Asked once per shape: when every query reads (most requests), the list is
    # the db spans' own.
    if all(is_read(runs[0].statement) for runs in shapes(trace) if runs[0].kind == "db"):
        return spans
    return [s for s in spans if is_read(s.statement)]


# The trace's read queries (shared: not to be changed).
reads = PerTrace(_reads)
