"""A request's time split into db, http, cache and python: the union of each
kind's intervals, whatever order the spans come in.

``breakdown`` sweeps spans that come in start order in one pass and sorts the
others; both must give the very same figures (the report's endpoint means and
slow-endpoint's evidence are sums of them), so they are checked here against
the unions worked out from the definition, on requests with overlapping,
nested, out-of-order and clipped spans.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from perfdoctor import store
from perfdoctor.analysis.shapes import decoded
from perfdoctor.analysis.timing import BUCKETS, NAMES, breakdown, covered_ms, latency_ms
from perfdoctor.model import Span, Trace

KINDS = ("db", "db.connect", "http", "cache", "mark")


def expected(trace: Trace) -> dict[str, float]:
    """The definition: per bucket, the union of its spans clipped to the latency."""
    limit = latency_ms(trace)
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in NAMES[:-1]}
    for span in trace.spans:
        bucket = BUCKETS.get(span.kind)
        if bucket is not None and span.start_ms < limit and span.duration_ms > 0:
            pairs[bucket].append((span.start_ms, min(span.end_ms, limit)))
    found = {name: covered_ms(p) for name, p in pairs.items()}
    found["python"] = max(0.0, limit - covered_ms([p for ps in pairs.values() for p in ps]))
    return found


def request(rng: random.Random, ordered: bool) -> Trace:
    spans = []
    at = 0.0
    for _ in range(rng.randrange(0, 30)):
        at += rng.choice([0.0, 0.0, rng.uniform(0, 3)])
        start = round(at if ordered else rng.uniform(0, 60), 3)
        duration = rng.choice(
            [0.0, -1.0, round(rng.uniform(0, 8), 3), round(rng.uniform(0, 40), 3)]
        )
        spans.append(Span(rng.choice(KINDS), start, duration))
    duration = round(rng.uniform(1, 80), 3)
    attrs = {"response_ms": round(rng.uniform(1, duration), 3)} if rng.random() < 0.3 else {}
    return Trace("t", "GET /x", "http", 0.0, duration, spans=spans, attrs=attrs)


def test_spans_in_start_order_and_out_of_it_give_the_unions_exactly() -> None:
    rng = random.Random(16)
    for number in range(3000):
        trace = request(rng, ordered=number % 3 != 0)
        assert breakdown(trace) == expected(trace), trace.spans


def test_spans_that_start_together_or_touch() -> None:
    spans = [
        Span("db", 5.0, 10.0),  # 5-15
        Span("db", 5.0, 2.0),  # same start, shorter: inside
        Span("http", 15.0, 5.0),  # touches the query's end: one stretch of 15 ms
        Span("cache", 30.0, 1.0),
        Span("db", 29.0, 4.0),  # starts before the cache read, listed after it
    ]
    trace = Trace("t", "GET /x", "http", 0.0, 50.0, spans=spans)
    assert breakdown(trace) == {"db": 14.0, "http": 5.0, "cache": 1.0, "python": 31.0}
    assert breakdown(trace) == expected(trace)


def test_stored_requests_of_one_kind_or_none_give_the_unions_exactly(tmp_path: Path) -> None:
    """A store's trace whose spans counted are all of one kind (or none) is swept
    from that kind's list alone: the same figures as every span swept."""
    rng = random.Random(17)
    made = []
    for number in range(600):
        trace = request(rng, ordered=number % 3 != 0)
        only = rng.choice(["db", "http", "cache", "db.connect", "mark", None])
        back_to_back = number % 4 == 0
        at = 0.0
        for span in trace.spans:
            if only is not None and span.kind in BUCKETS:
                span.kind = only
            span.duration_ms = max(span.duration_ms, 0.0)  # stored spans last 0 or more
            if back_to_back:  # each starts as the one before ends: one stretch
                span.start_ms, at = at, round(at + span.duration_ms, 3)
        made.append(dataclasses.replace(trace, id=f"t{number}"))
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, made)
    conn.close()
    read = store.read_traces(path).traces
    assert len(read) == len(made)
    for trace in read:
        assert decoded(trace) is not None
        every_span = dataclasses.replace(trace, spans=list(trace.spans))
        assert decoded(every_span) is None
        assert breakdown(trace) == breakdown(every_span) == expected(trace), trace.spans
