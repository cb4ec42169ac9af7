"""Where a request's time went: database, outbound HTTP, cache, and the rest (Python).

Spans of one kind can overlap (``asyncio.gather`` of three queries, a client
library's span inside another's), so each kind counts the union of its spans'
intervals, and "python" is the wall time no span covers.  Work after the
response was sent (an ASGI background task) is not part of what the client
waited for and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from perfdoctor.analysis.pertrace import PerTrace
from perfdoctor.model import Span, Trace
from perfdoctor.store.layout import ShapedSpans

# Span kind -> the bucket its time is counted in.
BUCKETS = {"db": "db", "db.connect": "db", "http": "http", "cache": "cache"}
NAMES = ("db", "http", "cache", "python")


def latency_ms(trace: Trace) -> float:
    """How long the client waited: until the last body chunk when known, else the trace."""
    sent = trace.attrs.get("response_ms")
    if isinstance(sent, (int, float)) and 0 < sent <= trace.duration_ms:
        return float(sent)
    return trace.duration_ms


def covered_ms(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length of the union of ``(start, end)`` intervals.

    >>> covered_ms([(0, 10), (5, 15), (20, 25)])
    20.0
    """
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def breakdown(trace: Trace) -> dict[str, float]:
    """ms of ``trace``'s latency in each of :data:`NAMES`."""
    limit = latency_ms(trace)
    spans = trace.spans
    if type(spans) is ShapedSpans and len(spans) == spans.size:  # decoded(trace)
        # A store's trace comes with its spans listed by kind: when one kind of
        # those counted is all there is (most requests only query), its list alone
        # is swept, and the union of all is that kind's.
        counted = None
        for kind in spans.kinds:
            if kind in BUCKETS:
                if counted is not None:
                    break  # several: every span swept, below
                counted = kind
        else:
            if counted is None:
                return _one_kind(trace, _NONE, "python", limit)
            return _one_kind(trace, spans.kinds[counted], BUCKETS[counted], limit)
    # One pass, no pairs built and none sorted, while the spans kept come in start
    # order (a request's usually do): each bucket's union and the union of all are
    # swept as covered_ms sweeps sorted pairs, so the sums are the very same.
    # [total, start, end] of the union so far, per bucket and of all buckets.
    runs: dict[str, list[float]] = {}
    every: list[float] | None = None
    last = -math.inf
    buckets = BUCKETS
    for span in trace.spans:
        bucket = buckets.get(span.kind)
        if bucket is None:
            continue
        start = span.start_ms
        duration = span.duration_ms
        if not (start < limit and duration > 0):
            continue
        if start < last:  # out of order: the pairs sorted as covered_ms sorts them
            return _sorted_breakdown(trace, limit)
        last = start
        end = start + duration
        if limit < end:  # min(end, limit) exactly (NaN included), without a call per span
            end = limit
        run = runs.get(bucket)
        if run is None:
            runs[bucket] = [0.0, start, end]
        elif start > run[2]:
            run[0] += run[2] - run[1]
            run[1] = start
            run[2] = end
        elif end > run[2]:  # max(end so far, end): the first of equal ones
            run[2] = end
        if every is None:
            every = [0.0, start, end]
        elif start > every[2]:
            every[0] += every[2] - every[1]
            every[1] = start
            every[2] = end
        elif end > every[2]:
            every[2] = end
    result = {}
    for name in NAMES[:-1]:
        run = runs.get(name)
        result[name] = run[0] + (run[2] - run[1]) if run is not None else 0.0
    covered = every[0] + (every[2] - every[1]) if every is not None else 0.0
    result["python"] = max(0.0, limit - covered)
    return result


_NONE: list[Span] = []


def _one_kind(trace: Trace, spans: list[Span], bucket: str, limit: float) -> dict[str, float]:
    """:func:`breakdown` of a trace whose spans counted are ``spans``, all of one
    bucket: the same sweep, the same sums."""
    total = 0.0
    first = end_so_far = math.nan  # no run yet: nothing compares greater than NaN
    started = False
    last = -math.inf
    for span in spans:
        start = span.start_ms
        duration = span.duration_ms
        if not (start < limit and duration > 0):
            continue
        if start < last:  # out of order: the pairs sorted as covered_ms sorts them
            return _sorted_breakdown(trace, limit)
        last = start
        end = start + duration
        if limit < end:
            end = limit
        if not started:
            started = True
            first, end_so_far = start, end
        elif start > end_so_far:
            total += end_so_far - first
            first = start
            end_so_far = end
        elif end > end_so_far:
            end_so_far = end
    covered = total + (end_so_far - first) if started else 0.0
    result = dict.fromkeys(NAMES[:-1], 0.0)
    if started:
        result[bucket] = covered
    result["python"] = max(0.0, limit - covered)
    return result


def _sorted_breakdown(trace: Trace, limit: float) -> dict[str, float]:
    """:func:`breakdown` of spans that do not come in start order."""
    # Each bucket's spans, clipped to the latency, straight into (start, end)
    # pairs: the spans are visited once, and "python" is the union of the same pairs.
    by_bucket: dict[str, list[tuple[float, float]]] = {name: [] for name in NAMES[:-1]}
    buckets = BUCKETS
    for span in trace.spans:
        bucket = buckets.get(span.kind)
        if bucket is not None:
            start = span.start_ms
            duration = span.duration_ms
            if start < limit and duration > 0:
                end = start + duration
                # min(end, limit) exactly (NaN included), without a call per span
                by_bucket[bucket].append((start, limit if limit < end else end))
    result = {name: covered_ms(pairs) if pairs else 0.0 for name, pairs in by_bucket.items()}
    full = [name for name, pairs in by_bucket.items() if pairs]
    if len(full) > 1:
        every = covered_ms([pair for name in full for pair in by_bucket[name]])
    else:  # one bucket's union is the union of them all
        every = result[full[0]] if full else 0.0
    result["python"] = max(0.0, limit - every)
    return result


# What slow-endpoint and the endpoint statistics read, once per trace of a chunk.
shared_breakdown = PerTrace(breakdown)


def biggest_share(parts: dict[str, float]) -> str:
    """The bucket with the most time (``python`` on a tie with nothing spent)."""
    return max(NAMES, key=lambda name: (parts.get(name, 0.0), name == "python"))
