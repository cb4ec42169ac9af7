"""Mark a request served inside a trace already in progress.

A test client's request inside a test's trace joins that trace (the pytest
plugin, a ``perfdoctor.trace`` block): its queries are the test's, but they are
still one request's.  A ``test.request`` span around the call keeps the boundary,
so a detector counts repeats per request, not across the test (five requests to
``/user/<id>/`` are not an N+1).  A sub-application called inside a request
(a mounted WSGI app) is part of that request and gets no mark.
"""

from __future__ import annotations

from perfdoctor.capture import context
from perfdoctor.model import TEST_REQUEST

Started = tuple[context.ActiveTrace, float]


def begin() -> Started | None:
    """The trace this request joins and when it began; None when it joins none,
    or joins another request (a nested app)."""
    try:
        trace = context._current.get()
        if trace is None or trace.kind == "http" or not context.state.enabled:
            return None
        return trace, context.perf_counter()
    except Exception:  # never break the app over a mark
        return None


def end(started: Started | None, method: str) -> None:
    """Record the request's span: its method only (no path: it may hold ids)."""
    if started is None:
        return
    trace, at = started
    context.record_span(trace, TEST_REQUEST, at, context.perf_counter(), {"method": method})
