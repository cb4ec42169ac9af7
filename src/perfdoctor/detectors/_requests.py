"""Which request inside a trace a span belongs to.

A test's trace holds every request its test client made (the pytest plugin joins
them into it).  Five requests to ``/user/<id>/``, one row each, are five requests,
not a loop: repeats are counted per request.  The request boundaries are the
``test.request`` spans: the test client's own call (Starlette's TestClient, seen
as an HTTP call to ``testserver``) or the mark Django's, Flask's and any WSGI/ASGI
app's capture leaves when it serves a request inside a trace already in progress.
"""

from __future__ import annotations

from bisect import bisect_right

from perfdoctor.detectors._kinds import of_kind
from perfdoctor.model import TEST_REQUEST, Span, Trace


def request_windows(trace: Trace) -> list[tuple[float, float]]:
    """The (start, end) of each request served inside ``trace``, in order."""
    marks = of_kind(trace, TEST_REQUEST)
    if not marks:  # a trace that is one request: most are
        return []
    return sorted((s.start_ms, s.end_ms) for s in marks)


def request_of(span: Span, windows: list[tuple[float, float]]) -> int | None:
    """The index of the request ``span`` ran in; None outside every request
    (the test's own code, or a trace that is one request)."""
    if not windows:
        return None
    at = bisect_right(windows, (span.start_ms, float("inf"))) - 1
    if at >= 0 and windows[at][0] <= span.start_ms <= windows[at][1]:
        return at
    return None
